#include "backend/cuda/runtime.h"

#include <mutex>
#include <stdexcept>
#include <string>

namespace fastsync::cuda {

void throw_error(cudaError_t e, const char* what) {
  // Drop the error state so the next call does not report it again (sticky
  // errors of a broken context stay, and will be reported again).
  cudaGetLastError();
  throw std::runtime_error(std::string("[cuda] ") + what + " failed: " + cudaGetErrorName(e) +
                           " (" + cudaGetErrorString(e) + ")");
}

int device_count() {
  static int n = [] {
    int c = 0;
    if (cudaGetDeviceCount(&c) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return c;
  }();
  return n;
}

void bind_device() {
  thread_local bool bound = false;
  if (!bound) {
    check(cudaSetDevice(0), "cudaSetDevice");
    bound = true;
  }
}

size_t total_device_memory() {
  static size_t total = [] {
    bind_device();
    size_t free_b = 0, total_b = 0;
    check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
    return total_b;
  }();
  return total;
}

int multiprocessor_count() {
  static int n = [] {
    int v = 0;
    check(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0), "cudaDeviceGetAttribute");
    return v;
  }();
  return n;
}

}  // namespace fastsync::cuda
