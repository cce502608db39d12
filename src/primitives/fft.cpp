#include "primitives/fft.h"

#include "ops/ops.h"
#include "primitives/grad_util.h"

namespace fastsync {

std::vector<Shape> FFT::output_shapes(const std::vector<array>& inputs) const {
  Shape shape = inputs[0].shape();
  if (real_) shape[axes_.back()] = inverse_ ? n_last_ : shape[axes_.back()] / 2 + 1;
  return {shape};
}

// Adjoints, with the cotangent convention of the other complex rules
// (grad_util.h: a holomorphic map's vjp multiplies by the conjugate
// derivative):
//  - complex to complex: the conjugate transform is the one of the other
//    sign, so the vjp is the opposite transform with the same scale;
//  - real to complex: the cotangent, zero-filled to the full last axis,
//    through the unnormalized inverse, real part;
//  - complex to real: the real cotangent through the forward real
//    transform, each frequency of the last axis that stands for two
//    (all but 0 and, for even n, n / 2) counted twice.
std::vector<array> FFT::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                            const std::vector<int>&, const std::vector<array>&) {
  const Stream s = stream();
  const array& c = cotangents[0];
  if (!real_) {
    return {array(c.shape(), complex64, std::make_shared<FFT>(s, axes_, !inverse_, false, scale_),
                  {c})};
  }
  const int last = axes_.back();
  if (!inverse_) {
    const int64_t n = primals[0].shape(last);
    std::vector<std::pair<int64_t, int64_t>> widths(c.ndim(), {0, 0});
    widths[last].second = n - c.shape(last);
    array full = pad(c, widths, zeros({}, complex64, s), s);
    array back = array(full.shape(), complex64,
                       std::make_shared<FFT>(s, axes_, true, false, scale_), {full});
    return {fastsync::real(back, s)};
  }
  Shape half = c.shape();
  half[last] = primals[0].shape(last);
  array spec = array(half, complex64, std::make_shared<FFT>(s, axes_, false, true, scale_), {c});
  // Weights along the last axis: 1 for frequency 0 (and n / 2 when n is
  // even), 2 for the rest.
  const int64_t m = half[last], n = n_last_;
  array k = arange(0.0, static_cast<double>(m), 1.0, int32, s);
  array single =
      logical_or(equal(k, weak_scalar(int64_t{0}, int32), s),
                 n % 2 == 0 ? equal(k, weak_scalar(n / 2, int32), s) : zeros({m}, bool_, s), s);
  array w = where(single, weak_scalar(1.0, float32), weak_scalar(2.0, float32), s);
  Shape wshape(c.ndim(), 1);
  wshape[last] = m;
  return {multiply(spec, reshape(w, wshape, s), s)};
}

}  // namespace fastsync
