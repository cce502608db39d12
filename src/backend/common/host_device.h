// What code shared by the CPU and CUDA backends needs to compile as both.
//
// FASTSYNC_HD marks a function for host and device under nvcc and is empty
// for the host compiler, so one inline functor serves a CPU loop (where it
// is inlined and vectorized) and a GPU kernel. Only header-only, inline,
// non-throwing code goes behind it; everything it calls must exist on both
// sides (constexpr std functions, with nvcc's --expt-relaxed-constexpr, and
// the C math functions, which CUDA also provides for the device).
#pragma once

#include <type_traits>

#if defined(__CUDACC__)
#define FASTSYNC_HD __host__ __device__
#else
#define FASTSYNC_HD
#endif

// Fully unrolls the loop that follows (a constant trip count up to 32), so
// per-iteration table lookups become constants on both compilers.
#if defined(__CUDACC__)
#define FASTSYNC_UNROLL _Pragma("unroll")
#else
#define FASTSYNC_UNROLL _Pragma("GCC unroll 32")
#endif

namespace fastsync::hd {

// x is a NaN, for any element or compute type: false for integers and
// bool; half types (the CPU's _Float16/bfloat16_t, CUDA's __half and
// __nv_bfloat16) are checked as the float they convert to. std::isnan is
// host-only; on the host this is the builtin it calls, so CPU loops written
// with it vectorize exactly as they did with std::isnan.
template <typename T>
FASTSYNC_HD constexpr bool is_nan(T x) {
  if constexpr (std::is_integral_v<T>) {
    return false;
  } else if constexpr (std::is_floating_point_v<T>) {
#if defined(__CUDA_ARCH__)
    return x != x;
#else
    return __builtin_isnan(x);
#endif
  } else {
    float f = static_cast<float>(x);
    return f != f;
  }
}

}  // namespace fastsync::hd
