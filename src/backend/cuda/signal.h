// The two hardware-facing halves of CPU/GPU synchronization, encoded on a
// CUDA stream from the encoding thread:
//  - write_value: after earlier work on the stream, store a 64-bit value into
//    pinned host memory (cuStreamWriteValue64 when the driver offers it, a
//    one-thread kernel otherwise); the CPU spins, then sleeps, on the word.
//  - wait_flag: later work on the stream starts once a CPU task has stored a
//    nonzero 32-bit flag in pinned memory. A one-thread spin kernel, which
//    starts the next kernel sooner than cuStreamWaitValue32 does, and which
//    gives up after FASTSYNC_GPU_WAIT_TIMEOUT_S seconds (default 120),
//    recording a timeout error instead of wedging the GPU. wait_flag_copy
//    also copies the CPU's small data to the device after the wait.
// Small copies for crossings are kernels launched through cuda::launch
// (launch.h), so a crossing that recurs over the same buffers (a loop's)
// is replayed as a graph: half the host time of a launch or a
// cudaMemcpyAsync. The error record of a wait then holds 1 as its
// position: the op's real position is its builder's (encoder.h).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace fastsync::cuda {

class CommandEncoder;

// The first failing check on a GPU stream since its last mark. Kernels that
// can fail write it (device memory; the first writer wins); marks copy it
// to the host.
struct ErrorRecord {
  unsigned long long position;  // 0: no error
  long long code;
  long long a;
  long long b;
};

enum ErrorCode : long long {
  kErrorPlanted = 1,      // FailInTask
  kErrorWaitTimeout = 2,  // wait_flag gave up: a = the timeout in ms
  kErrorIndex = 3,        // an index out of bounds: a = index, b = axis size
  kErrorLinalg = 4,       // a factorization failed: a = matrix in the batch, b = LAPACK info
};

// `capturing`: s is capturing a graph (a kernel writes the value then).
void write_value(cudaStream_t s, uint64_t* word, uint64_t value, bool capturing = false);
void wait_flag(cudaStream_t s, const uint32_t* flag, ErrorRecord* record, uint64_t position);
// wait_flag, then a copy of `bytes` from pinned `src` to device `dst` in the
// same kernel: one launch instead of two for small data a CPU stream hands
// over. Nothing is copied if the wait times out.
void wait_flag_copy(CommandEncoder& enc, const uint32_t* flag, ErrorRecord* record,
                    const void* src, void* dst, size_t bytes);
// A copy of `bytes` from device memory to pinned host memory on `enc`'s
// stream, by a kernel: its stores are visible to the host once a later
// write_value on the stream is.
void copy_to_host(CommandEncoder& enc, const void* src, void* dst, size_t bytes);
// Copies `n` error records to pinned host memory and clears them, in one
// kernel (a point's error slots: a copy and a memset otherwise).
void take_error_records(CommandEncoder& enc, ErrorRecord* records, ErrorRecord* dst, int n);

#ifdef __CUDACC__
// Records an error unless an earlier one is recorded. Device code.
__device__ inline void record_error(ErrorRecord* r, uint64_t position, long long code,
                                    long long a = 0, long long b = 0) {
  if (atomicCAS(&r->position, 0ull, static_cast<unsigned long long>(position)) == 0ull) {
    r->code = code;
    r->a = a;
    r->b = b;
  }
}
#endif

}  // namespace fastsync::cuda
