#include <cuda.h>

#include <cstdlib>
#include <string>

#include "backend/cuda/launch.h"
#include "backend/cuda/runtime.h"
#include "backend/cuda/signal.h"
#include "backend/cuda/signal_device.cuh"

namespace fastsync::cuda {

namespace {

using WriteValue64 = CUresult (*)(CUstream, CUdeviceptr, cuuint64_t, unsigned int);

WriteValue64 driver_write_value() {
  static WriteValue64 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuStreamWriteValue64", &p, 12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      return WriteValue64{nullptr};
    }
    return reinterpret_cast<WriteValue64>(p);
  }();
  return fn;
}

uint64_t timeout_ns() {
  static uint64_t ns = [] {
    const char* v = std::getenv("FASTSYNC_GPU_WAIT_TIMEOUT_S");
    double s = v ? std::atof(v) : 120.0;
    if (s <= 0) s = 120.0;
    return static_cast<uint64_t>(s * 1e9);
  }();
  return ns;
}

__global__ void write_value_kernel(volatile uint64_t* word, uint64_t value) {
  __threadfence_system();
  *word = value;
  __threadfence_system();
}

// Whether the flag was raised before the timeout (else the error is recorded).
__device__ inline bool spin_on(const volatile uint32_t* flag, ErrorRecord* record,
                               uint64_t position, uint64_t timeout) {
  uint64_t start = global_ns();
  unsigned ns = 32;
  while (*flag == 0) {
    if (global_ns() - start > timeout) {
      record_error(record, position, kErrorWaitTimeout, static_cast<long long>(timeout / 1000000));
      return false;
    }
    __nanosleep(ns);
    if (ns < 1024) ns *= 2;
  }
  __threadfence_system();
  return true;
}

__global__ void wait_flag_kernel(const volatile uint32_t* flag, ErrorRecord* record,
                                 uint64_t position, uint64_t timeout) {
  spin_on(flag, record, position, timeout);
}

// One block: thread 0 waits for the flag, then the block copies the pinned
// source.
__global__ void wait_flag_copy_kernel(const volatile uint32_t* flag, ErrorRecord* record,
                                      uint64_t position, uint64_t timeout, const char* src,
                                      char* dst, size_t bytes) {
  __shared__ bool raised;
  if (threadIdx.x == 0) raised = spin_on(flag, record, position, timeout);
  __syncthreads();
  if (raised) block_copy<true>(src, dst, bytes);
}

__global__ void take_error_records_kernel(ErrorRecord* records, ErrorRecord* dst, int n) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    dst[i] = records[i];
    records[i] = ErrorRecord{};
  }
}

// One block copies device memory into pinned host memory.
__global__ void copy_to_host_kernel(const char* src, char* dst, size_t bytes) {
  block_copy<false>(src, dst, bytes);
}

}  // namespace

void write_value(cudaStream_t s, uint64_t* word, uint64_t value, bool capturing) {
  if (auto fn = capturing ? nullptr : driver_write_value()) {
    CUresult r = fn(reinterpret_cast<CUstream>(s), reinterpret_cast<CUdeviceptr>(word), value, 0);
    if (r == CUDA_SUCCESS) return;
  }
  write_value_kernel<<<1, 1, 0, s>>>(word, value);
  check(cudaGetLastError(), "launching the timeline write");
}

void wait_flag(cudaStream_t s, const uint32_t* flag, ErrorRecord* record, uint64_t position) {
  wait_flag_kernel<<<1, 1, 0, s>>>(flag, record, position, timeout_ns());
  check(cudaGetLastError(), "launching a wait on a CPU stream");
}

void wait_flag_copy(CommandEncoder& enc, const uint32_t* flag, ErrorRecord* record, const void* src,
                    void* dst, size_t bytes) {
  launch(enc, wait_flag_copy_kernel, 1, 256, 0, "launching a wait on a CPU stream", flag, record,
         uint64_t{1}, timeout_ns(), static_cast<const char*>(src), static_cast<char*>(dst), bytes);
}

void take_error_records(CommandEncoder& enc, ErrorRecord* records, ErrorRecord* dst, int n) {
  launch(enc, take_error_records_kernel, 1, 128, 0, "[eval] reading the error records", records,
         dst, n);
}

void copy_to_host(CommandEncoder& enc, const void* src, void* dst, size_t bytes) {
  launch(enc, copy_to_host_kernel, 1, 256, 0, "[eval] copying to the host",
         static_cast<const char*>(src), static_cast<char*>(dst), bytes);
}

}  // namespace fastsync::cuda
