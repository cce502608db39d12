// Axpby's eval_gpu: one CUDA kernel on the stream's CUDA stream. Built only
// when fastsync has its CUDA backend and a CUDA compiler is found (AXPBY_GPU).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <fastsync/backend/cuda/encoder.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "axpby.h"

namespace fs = fastsync;

namespace axpby_ext {

namespace {

// Shape and element strides of x and y, by value (kernel argument space).
struct Layout {
  int ndim;
  int64_t shape[kMaxGpuDims];
  int64_t x_strides[kMaxGpuDims];
  int64_t y_strides[kMaxGpuDims];
};

// Half types compute in float, double in double.
template <typename T>
using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename T>
__global__ void axpby_kernel(const T* x, const T* y, T* out, int64_t n, Layout l, Compute<T> alpha,
                             Compute<T> beta) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t xo = 0, yo = 0, rest = i;
    for (int d = l.ndim - 1; d >= 0; --d) {
      int64_t k = rest % l.shape[d];
      rest /= l.shape[d];
      xo += k * l.x_strides[d];
      yo += k * l.y_strides[d];
    }
    out[i] = T(alpha * Compute<T>(x[xo]) + beta * Compute<T>(y[yo]));
  }
}

template <typename T>
void launch(const fs::array& x, const fs::array& y, fs::array& out, double alpha, double beta,
            cudaStream_t stream) {
  Layout l{};
  l.ndim = out.ndim();
  for (int d = 0; d < l.ndim; ++d) {
    l.shape[d] = out.shape(d);
    l.x_strides[d] = x.strides()[d];
    l.y_strides[d] = y.strides()[d];
  }
  const int64_t n = out.size();
  const int block = 256;
  const int grid = static_cast<int>(std::min<int64_t>((n + block - 1) / block, 65535));
  axpby_kernel<T><<<grid, block, 0, stream>>>(
      static_cast<const T*>(x.raw_ptr()), static_cast<const T*>(y.raw_ptr()),
      static_cast<T*>(out.raw_ptr()), n, l, static_cast<Compute<T>>(alpha),
      static_cast<Compute<T>>(beta));
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string("[axpby] kernel launch: ") + cudaGetErrorString(e));
  }
}

}  // namespace

void Axpby::eval_gpu(const std::vector<fs::array>& inputs, std::vector<fs::array>& outputs) {
  const fs::array& x = inputs[0];
  const fs::array& y = inputs[1];
  fs::array& out = outputs[0];
  fs::cuda::alloc(out);
  auto& enc = fs::cuda::encoder_for(*this);
  // Declared buffers stay alive until the GPU is past this op.
  enc.set_input_array(x);
  enc.set_input_array(y);
  enc.set_output_array(out);
  if (out.size() == 0) return;
  switch (out.dtype().val) {
    case fs::Dtype::Val::float32: return launch<float>(x, y, out, alpha_, beta_, enc.cuda_stream());
    case fs::Dtype::Val::float64:
      return launch<double>(x, y, out, alpha_, beta_, enc.cuda_stream());
    case fs::Dtype::Val::float16:
      return launch<__half>(x, y, out, alpha_, beta_, enc.cuda_stream());
    case fs::Dtype::Val::bfloat16:
      return launch<__nv_bfloat16>(x, y, out, alpha_, beta_, enc.cuda_stream());
    default: throw std::invalid_argument("[axpby] unexpected dtype");
  }
}

}  // namespace axpby_ext
