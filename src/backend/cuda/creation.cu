// GPU eval of the creation primitives (Full, Arange).
//
// Contract: outputs are fresh row-contiguous device buffers holding exactly
// what the CPU kernels (src/backend/cpu/creation.cpp) write:
//  - Full: its 0-d input converted to the output dtype as astype converts
//    (the conversion is cuda::copy_gpu's, into a one-element temporary),
//    then broadcast by a fill kernel that only moves bytes.
//  - Arange: element i is start + i * step, evaluated the CPU's way per
//    dtype (see arange_value).
#include <cstdint>

#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/creation.h"

namespace fastsync {

namespace {

// 16-byte stores reach full write bandwidth for 1- and 2-byte dtypes too;
// `vec` is false when the buffer is not 16-byte aligned.
template <typename U>
__global__ void fill_kernel(const U* value, U* out, int64_t n, bool vec) {
  constexpr int kPer = 16 / sizeof(U);
  U v = *value;
  int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec) {
    union {
      U e[kPer];
      uint4 w;
    } pat;
#pragma unroll
    for (int k = 0; k < kPer; ++k) pat.e[k] = v;
    int64_t nvec = n / kPer;
    auto* o4 = reinterpret_cast<uint4*>(out);
    for (int64_t i = tid; i < nvec; i += stride) o4[i] = pat.w;
    head = nvec * kPer;
  }
  for (int64_t i = head + tid; i < n; i += stride) out[i] = v;
}

// The CPU computes start + i * step in double and GCC, built with
// -march=native on an FMA machine, contracts it to one fused multiply-add;
// the explicit fma gives the same double here (nvcc would contract too,
// but spelling it out keeps it so under any flags). Integer dtypes use the
// CPU's wrapping int64 arithmetic.
template <typename T>
__device__ inline T arange_value(double start, double step, int64_t i) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<int64_t>(start) + i * static_cast<int64_t>(step));
  } else {
    double v = __fma_rn(static_cast<double>(i), step, start);
    if constexpr (std::is_same_v<T, __half>) {
      // _Float16(double) rounds once, straight from double.
      return __double2half(v);
    } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      // bfloat16_t has only a float constructor: double -> float -> bf16.
      return __float2bfloat16_rn(__double2float_rn(v));
    } else {
      return static_cast<T>(v);
    }
  }
}

template <typename T>
__global__ void arange_kernel(T* out, int64_t n, double start, double step) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    out[i] = arange_value<T>(start, step, i);
  }
}

}  // namespace

void Full::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  array& out = outputs[0];
  cuda::alloc(out);
  enc.set_input_array(inputs[0]);
  enc.set_output_array(out);
  int64_t n = out.size();
  if (n == 0) return;
  array value = inputs[0];
  if (value.dtype() != out.dtype()) {
    array t = cuda::temporary(enc, {}, out.dtype());
    cuda::copy_gpu(enc, value, t);
    value = t;
  }
  bool vec = reinterpret_cast<uintptr_t>(out.raw_ptr()) % 16 == 0;
  cuda::dispatch_bits(out.itemsize(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    int64_t items = vec ? n / (16 / sizeof(U)) : n;
    cuda::launch(enc, fill_kernel<U>, cuda::grid_for(items), cuda::kBlock, 0, "[full] kernel",
                 static_cast<const U*>(value.raw_ptr()), static_cast<U*>(out.raw_ptr()), n, vec);
  });
}

void Arange::eval_gpu(const std::vector<array>&, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  array& out = outputs[0];
  cuda::alloc(out);
  enc.set_output_array(out);
  int64_t n = out.size();
  if (n == 0) return;
  cuda::dispatch_type(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    cuda::launch(enc, arange_kernel<T>, cuda::grid_for(n), cuda::kBlock, 0, "[arange] kernel",
                 static_cast<T*>(out.raw_ptr()), n, start_, step_);
  });
}

}  // namespace fastsync
