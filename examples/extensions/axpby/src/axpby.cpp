// The op, the primitive's derivatives and batching rule, and its CPU kernel.
#include "axpby.h"

#include <fastsync/backend/cpu/encoder.h>
#include <fastsync/backend/cpu/utils.h>
#include <fastsync/errors.h>

#include <string>

namespace fs = fastsync;

namespace axpby_ext {

fs::array axpby(const fs::array& x, const fs::array& y, double alpha, double beta,
                fs::StreamOrDevice s) {
  fs::Dtype dtype = fs::promote_types(x.dtype(), y.dtype());
  if (fs::is_inexact(dtype) && !fs::is_floating(dtype)) {
    throw fs::type_error("[axpby] complex inputs are not supported");
  }
  if (!fs::is_floating(dtype)) dtype = fs::float32;
  fs::Stream stream = fs::to_stream(s);
  // One shape for both (NumPy broadcasting; a mismatch raises ValueError).
  std::vector<fs::array> xy =
      fs::broadcast_arrays({fs::astype(x, dtype, stream), fs::astype(y, dtype, stream)}, stream);
  if (stream.device.type == fs::Device::Type::gpu && xy[0].ndim() > kMaxGpuDims) {
    throw std::invalid_argument("[axpby] GPU streams take at most " + std::to_string(kMaxGpuDims) +
                                " axes, got " + std::to_string(xy[0].ndim()));
  }
  return fs::array(xy[0].shape(), dtype, std::make_shared<Axpby>(stream, alpha, beta), xy);
}

// d out = alpha dx + beta dy: each input's cotangent is the output's, scaled.
std::vector<fs::array> Axpby::vjp(const std::vector<fs::array>& primals,
                                  const std::vector<fs::array>& cotangents,
                                  const std::vector<int>& argnums,
                                  const std::vector<fs::array>& outputs) {
  const fs::array& c = cotangents[0];
  std::vector<fs::array> grads;
  for (int i : argnums) {
    double scale = i == 0 ? alpha_ : beta_;
    grads.push_back(fs::multiply(c, fs::weak_scalar(scale, c.dtype()), stream()));
  }
  return grads;
}

// The tangent of the output is axpby of the inputs' tangents (zero where an
// input has none).
std::vector<fs::array> Axpby::jvp(const std::vector<fs::array>& primals,
                                  const std::vector<fs::array>& tangents,
                                  const std::vector<int>& argnums,
                                  const std::vector<fs::array>& outputs) {
  if (argnums.size() == 2) return {axpby(tangents[0], tangents[1], alpha_, beta_, stream())};
  double scale = argnums[0] == 0 ? alpha_ : beta_;
  return {fs::multiply(tangents[0], fs::weak_scalar(scale, tangents[0].dtype()), stream())};
}

// One node for the whole batch: the batched axis goes first, an input without
// one broadcasts along it.
std::pair<std::vector<fs::array>, std::vector<int>> Axpby::vmap(
    const std::vector<fs::array>& inputs, const std::vector<int>& axes,
    const std::vector<fs::array>& outputs, const std::shared_ptr<fs::Primitive>& self) {
  std::vector<fs::array> moved;
  for (size_t i = 0; i < inputs.size(); ++i) {
    moved.push_back(axes[i] < 0 ? fs::expand_dims(inputs[i], {0}, stream())
                                : fs::moveaxis(inputs[i], axes[i], 0, stream()));
  }
  return {{axpby(moved[0], moved[1], alpha_, beta_, stream())}, {0}};
}

namespace {

// The offset of the i-th element (row-major order) in a strided view.
int64_t offset_of(int64_t i, const fs::Shape& shape, const fs::Strides& strides) {
  int64_t offset = 0;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    offset += (i % shape[d]) * strides[d];
    i /= shape[d];
  }
  return offset;
}

// Runs on the stream's worker. `out` is row-contiguous; x and y may be any
// views (broadcasts have zero strides).
template <typename T, typename Compute>
void axpby_kernel(const fs::array& x, const fs::array& y, fs::array& out, double alpha,
                  double beta) {
  const T* xp = x.data<T>();
  const T* yp = y.data<T>();
  T* op = out.data<T>();
  const auto a = static_cast<Compute>(alpha), b = static_cast<Compute>(beta);
  const int64_t n = out.size();
  if (x.flags().row_contiguous && y.flags().row_contiguous) {
    for (int64_t i = 0; i < n; ++i) {
      op[i] = static_cast<T>(a * static_cast<Compute>(xp[i]) + b * static_cast<Compute>(yp[i]));
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    Compute xv = static_cast<Compute>(xp[offset_of(i, x.shape(), x.strides())]);
    Compute yv = static_cast<Compute>(yp[offset_of(i, y.shape(), y.strides())]);
    op[i] = static_cast<T>(a * xv + b * yv);
  }
}

}  // namespace

void Axpby::eval_cpu(const std::vector<fs::array>& inputs, std::vector<fs::array>& outputs) {
  const fs::array& x = inputs[0];
  const fs::array& y = inputs[1];
  fs::array& out = outputs[0];
  // x's buffer when nothing else reads it (donation), a fresh one otherwise.
  fs::cpu::donate_or_alloc(x, out);
  auto& enc = fs::cpu::encoder_for(*this);
  enc.set_input_array(x);
  enc.set_input_array(y);
  enc.set_output_array(out);
  // The task holds views, not owners: the encoder keeps the buffers alive
  // until it has run.
  enc.dispatch([x = x.unsafe_weak_copy(), y = y.unsafe_weak_copy(), out = out.unsafe_weak_copy(),
                a = alpha_, b = beta_]() mutable {
    switch (out.dtype().val) {
      case fs::Dtype::Val::float32: return axpby_kernel<float, float>(x, y, out, a, b);
      case fs::Dtype::Val::float64: return axpby_kernel<double, double>(x, y, out, a, b);
      case fs::Dtype::Val::float16: return axpby_kernel<fs::float16_t, float>(x, y, out, a, b);
      case fs::Dtype::Val::bfloat16: return axpby_kernel<fs::bfloat16_t, float>(x, y, out, a, b);
      default: throw std::invalid_argument("[axpby] unexpected dtype");
    }
  });
}

}  // namespace axpby_ext
