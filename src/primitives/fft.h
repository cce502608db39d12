// The discrete Fourier transform over some axes of an array (mx.fft).
//
// y = scale * T(x), T the unnormalized transform: the forward one (sign -1)
// or, with `inverse`, the backward one (sign +1, no 1/n). The ops layer
// picks `scale` for NumPy's norm modes. With `real`, the last listed axis
// is the real one: forward takes a real (float32) input and keeps the
// n // 2 + 1 non-negative frequencies of that axis (NumPy's rfftn);
// inverse takes those frequencies (complex64) and returns `n_last` real
// samples (irfftn), the others being implied by Hermitian symmetry. Other
// axes, and every axis without `real`, are complex-to-complex on complex64.
//
// CPU kernels: Intel MKL's DFTI (src/backend/cpu/fft.cpp); GPU: cuFFT
// (src/backend/cuda/fft.cpp). The transform is linear, so its vjp is the
// adjoint transform (conjugate convention, as the other complex rules).
#pragma once

#include <vector>

#include "primitive.h"

namespace fastsync {

class FFT : public Primitive {
 public:
  FFT(Stream s, std::vector<int> axes, bool inverse, bool real, double scale, int64_t n_last = 0)
      : Primitive(s),
        axes_(std::move(axes)),
        inverse_(inverse),
        real_(real),
        scale_(scale),
        n_last_(n_last) {}
  const char* name() const override { return "FFT"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  bool shapes_from_inputs() const override { return !(real_ && inverse_); }

  const std::vector<int>& axes() const { return axes_; }  // non-negative
  bool inverse() const { return inverse_; }
  bool real() const { return real_; }
  double scale() const { return scale_; }
  int64_t n_last() const { return n_last_; }

 private:
  std::vector<int> axes_;
  bool inverse_, real_;
  double scale_;
  int64_t n_last_;
};

}  // namespace fastsync
