// What GPU kernels and their eval_gpu share: CUDA types for fastsync dtypes,
// dtype dispatch, strided indexing, launch shapes. Included by *.cu files
// only.
//
// Conventions for an eval_gpu (encoding thread):
//   auto& enc = cuda::encoder_for(*this);
//   cuda::alloc(out);                       // or cuda::donate_or_alloc(in, out)
//   enc.set_input_array(in); enc.set_output_array(out);
//   cuda::launch(enc, kernel, grid, block, 0, "[op] kernel", args...);
// (launch.h: replayed as a graph where the launch recurs; a bare
// kernel<<<...>>> followed by cuda::check_launch also works, launched
// directly each time.)
// Inputs are already on the device (the driver moved them) and may be
// strided views; outputs are row-contiguous unless the op makes a view.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "array.h"
#include "backend/common/strided.h"
#include "backend/cuda/encoder.h"
#include "backend/cuda/launch.h"
#include "backend/cuda/runtime.h"
#include "errors.h"

namespace fastsync::cuda {

// The CUDA type that stores each dtype.
template <typename T>
struct device_type {
  using type = T;
};
template <>
struct device_type<float16_t> {
  using type = __half;
};
template <>
struct device_type<bfloat16_t> {
  using type = __nv_bfloat16;
};

}  // namespace fastsync::cuda

namespace fastsync {
// The CUDA half types compute in float, as the CPU's (dtype.h): one
// compute_t<T> for both backends' storage types, which the shared scalar
// code (backend/common/) is written against.
template <>
struct compute_type<__half> {
  using type = float;
};
template <>
struct compute_type<__nv_bfloat16> {
  using type = float;
};
}  // namespace fastsync

namespace fastsync::cuda {

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) with the CUDA type T of `d`. A switch of its own:
// going through dispatch_dtype passes _Float16 values, on which nvcc 13.0's
// code generator fails ("unsupported float variant").
template <typename F>
decltype(auto) dispatch_type(Dtype d, F&& f) {
  switch (d.val) {
    case Dtype::Val::bool_: return f(TypeTag<bool>{});
    case Dtype::Val::uint8: return f(TypeTag<uint8_t>{});
    case Dtype::Val::uint16: return f(TypeTag<uint16_t>{});
    case Dtype::Val::uint32: return f(TypeTag<uint32_t>{});
    case Dtype::Val::uint64: return f(TypeTag<uint64_t>{});
    case Dtype::Val::int8: return f(TypeTag<int8_t>{});
    case Dtype::Val::int16: return f(TypeTag<int16_t>{});
    case Dtype::Val::int32: return f(TypeTag<int32_t>{});
    case Dtype::Val::int64: return f(TypeTag<int64_t>{});
    case Dtype::Val::float16: return f(TypeTag<__half>{});
    case Dtype::Val::bfloat16: return f(TypeTag<__nv_bfloat16>{});
    case Dtype::Val::float32: return f(TypeTag<float>{});
    case Dtype::Val::float64: return f(TypeTag<double>{});
    case Dtype::Val::complex64: return f(TypeTag<complex64_t>{});
  }
  __builtin_unreachable();
}

// The dtype stored as CUDA type T (dispatch_type's inverse).
template <typename T>
Dtype dtype_of() {
  if constexpr (std::is_same_v<T, __half>)
    return float16;
  else if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return bfloat16;
  else
    return type_to_dtype<T>::value;
}

// Calls f(TypeTag<U>{}) with the unsigned type of `itemsize` bytes: kernels
// that only move elements need one instantiation per size, not per dtype.
template <typename F>
decltype(auto) dispatch_bits(int itemsize, F&& f) {
  switch (itemsize) {
    case 1: return f(TypeTag<uint8_t>{});
    case 2: return f(TypeTag<uint16_t>{});
    case 4: return f(TypeTag<uint32_t>{});
    default: return f(TypeTag<uint64_t>{});
  }
}

template <typename T>
inline constexpr bool is_half_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
template <typename T>
inline constexpr bool is_float_v = std::is_floating_point_v<T> || is_half_v<T>;

// A stored value in its compute type: half types go through float.
template <typename T>
__host__ __device__ inline compute_t<T> widen(T x) {
  return static_cast<compute_t<T>>(x);
}
template <typename T, typename U>
__host__ __device__ inline T narrow(U x) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(static_cast<float>(x));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(x));
  } else if constexpr (std::is_same_v<U, __half> || std::is_same_v<U, __nv_bfloat16>) {
    return static_cast<T>(static_cast<float>(x));
  } else {
    return static_cast<T>(x);
  }
}

// Dimensions an Indexer holds after merging (a kernel parameter: 16 keep
// the largest, Indexer<3>, at 520 bytes).
constexpr int kMaxDims = 16;

// Element offsets of N arrays sharing a shape, from a linear row-major
// index. Passed to kernels by value.
template <int N>
struct Indexer {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];

  __device__ inline void offsets(int64_t i, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t c = i % shape[d];
      i /= shape[d];
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += c * strides[k][d];
    }
  }
};

// Merges dims contiguous in every array (cpu/strided.h) and packs them.
// Raises NotImplementedError past kMaxDims unmergeable dims.
template <int N>
Indexer<N> make_indexer(const Shape& shape, const std::array<const Strides*, N>& strides,
                        const char* op) {
  auto plan = make_plan<N>(shape, strides);
  if (plan.shape.size() > kMaxDims) {
    throw not_implemented(std::string("[") + op + "] GPU kernels take at most " +
                          std::to_string(kMaxDims) + " non-contiguous dimensions");
  }
  Indexer<N> ix{};
  ix.ndim = plan.shape.size();
  for (int d = 0; d < ix.ndim; ++d) {
    ix.shape[d] = plan.shape[d];
    for (int k = 0; k < N; ++k) ix.strides[k][d] = plan.strides[k][d];
  }
  return ix;
}

// Whether every pointer is on a 16-byte boundary: the condition of the
// kernels that move 16-byte units.
inline bool aligned16(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs) {
    if (reinterpret_cast<uintptr_t>(p) % 16) return false;
  }
  return true;
}

constexpr int kBlock = 256;

// Blocks for a grid-stride loop over n items (at least one block).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  int64_t blocks = (n + block - 1) / block;
  int64_t cap = static_cast<int64_t>(multiprocessor_count()) * 32;
  if (blocks > cap) blocks = cap;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

}  // namespace fastsync::cuda
