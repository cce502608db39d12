// NcclComm: a distributed::Comm whose collectives are NCCL calls enqueued on
// a GPU stream (CUDA builds only).
//
// Contract. The enqueue_* methods are called by the collective primitives'
// eval_gpu (cuda/distributed.cpp) on the encoding thread, under the eval
// driver's lock, which also serializes them across communicators as NCCL
// requires of calls from several threads. They return once the work is
// enqueued on `stream`: the eval driver orders it with other GPU work by
// events and fences, and nothing waits on the host. Buffers are device
// pointers the caller keeps alive until the GPU is past the op; counts are
// in elements for reductions and in bytes for the movements (all_gather,
// send, recv), which NCCL performs the same for any type.
//
// Errors: a failing ncclResult_t raises std::runtime_error ("[all_sum]
// ncclAllReduce failed: ..."), as does an asynchronous error NCCL recorded
// on the communicator earlier (checked before each enqueue). Ranks that pass
// different counts are not detected: NCCL's result is then undefined, or it
// hangs.
//
// The CPU kernels inherited from Comm throw: an NCCL group's collectives
// never run on a CPU stream. The ncclComm_t lives until exit (finalize
// destroys it), so GPU work still in flight never outlives it.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "distributed/group.h"

namespace fastsync::cuda::nccl {

using distributed::Comm;
using distributed::ReduceOp;

class NcclComm : public Comm {
 public:
  // `comm` is an initialized ncclComm_t; `bootstrap` the MPI communicator of
  // the same processes with the same ranks, for split.
  NcclComm(void* comm, int rank, int size, std::shared_ptr<Comm> bootstrap);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "nccl"; }
  bool runs_on_gpu() const override { return true; }
  // Splits the bootstrap communicator, then makes an NCCL communicator over
  // each part (collective over this group).
  std::shared_ptr<Comm> split(int color, int key) override;

  void all_reduce(const char* what, const void*, void*, int64_t, Dtype, ReduceOp) override;
  void all_gather(const char* what, const void*, void*, int64_t, Dtype, int64_t) override;
  void send(const char* what, const void*, int64_t, Dtype, int) override;
  void recv(const char* what, void*, int64_t, Dtype, int) override;

  // Encoding thread. `in` may equal `out` (in place).
  void enqueue_all_reduce(const char* what, const void* in, void* out, size_t n, Dtype d,
                          ReduceOp op, cudaStream_t stream);
  void enqueue_all_gather(const char* what, const void* in, void* out, size_t bytes,
                          cudaStream_t stream);
  void enqueue_send(const char* what, const void* buf, size_t bytes, int dst,
                    cudaStream_t stream);
  void enqueue_recv(const char* what, void* buf, size_t bytes, int src, cudaStream_t stream);

 private:
  // Raises when NCCL was finalized or the communicator holds an
  // asynchronous error.
  void check_usable(const char* what) const;

  void* comm_;  // ncclComm_t
  int rank_;
  int size_;
  std::shared_ptr<Comm> bootstrap_;
};

}  // namespace fastsync::cuda::nccl
