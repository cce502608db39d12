// CUDA runtime helpers shared by the backend: error checks that raise
// RuntimeError naming the failed call, and device facts. Any thread.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace fastsync::cuda {

[[noreturn]] void throw_error(cudaError_t e, const char* what);
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw_error(e, what);
}

// Number of CUDA devices (0 without a driver or device); cached.
int device_count();
// Makes device 0 current on the calling thread (fastsync uses one GPU per
// process, as NCCL-style launches do).
void bind_device();
size_t total_device_memory();
int multiprocessor_count();

}  // namespace fastsync::cuda
