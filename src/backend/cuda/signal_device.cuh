// Device code of the synchronization kernels (signal.cu), shared with the
// test hooks' stall kernel (src/testing/cuda.cu): the GPU's clock and a
// copy by one block. CUDA sources only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastsync::cuda {

// Nanoseconds on the GPU's global timer.
__device__ inline uint64_t global_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// `bytes` from `src` to `dst` by one block, 16 bytes a load where both are
// aligned. Uncached: the loads bypass the caches (__ldcv), for a pinned
// source that may be a recycled buffer whose old contents a cache could
// still hold.
template <bool Uncached>
__device__ inline void block_copy(const char* src, char* dst, size_t bytes) {
  size_t vecs = 0;
  if (((reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst)) & 15) == 0) {
    vecs = bytes / 16;
    const uint4* s = reinterpret_cast<const uint4*>(src);
    uint4* d = reinterpret_cast<uint4*>(dst);
    for (size_t i = threadIdx.x; i < vecs; i += blockDim.x) {
      if constexpr (Uncached) {
        d[i] = __ldcv(s + i);
      } else {
        d[i] = s[i];
      }
    }
  }
  for (size_t i = vecs * 16 + threadIdx.x; i < bytes; i += blockDim.x) {
    if constexpr (Uncached) {
      dst[i] = static_cast<char>(__ldcv(reinterpret_cast<const signed char*>(src) + i));
    } else {
      dst[i] = src[i];
    }
  }
}

}  // namespace fastsync::cuda
