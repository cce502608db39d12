// NcclComm: a distributed::Comm with device collectives: NCCL calls
// enqueued on a GPU stream (CUDA builds only; defined in nccl.cpp).
//
// Contract: that of DeviceCollectives (distributed/collectives.h). The
// enqueue_* methods are called by the collective primitives' eval_gpu
// (backend/cuda/distributed.cpp, through Comm::device()) on the encoding
// thread, under the eval driver's lock, which also serializes them across
// communicators as NCCL requires of calls from several threads. `stream` is
// the GPU stream's cudaStream_t.
//
// Errors: a failing ncclResult_t raises std::runtime_error ("[all_sum]
// ncclAllReduce failed: ..."), as does an asynchronous error NCCL recorded
// on the communicator earlier (checked before each enqueue).
//
// It has no host collectives (host() is null): an NCCL group's collectives
// never run on a CPU stream. The ncclComm_t lives until exit (finalize
// destroys it), so GPU work still in flight never outlives it.
#pragma once

#include <cstddef>
#include <memory>

#include "distributed/collectives.h"

namespace fastsync::cuda::nccl {

using distributed::Comm;
using distributed::DeviceCollectives;
using distributed::ReduceOp;

class NcclComm : public Comm, public DeviceCollectives {
 public:
  // `comm` is an initialized ncclComm_t; `bootstrap` the MPI communicator of
  // the same processes with the same ranks, for split.
  NcclComm(void* comm, int rank, int size, std::shared_ptr<Comm> bootstrap);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "nccl"; }
  DeviceCollectives* device() override { return this; }
  // Splits the bootstrap communicator, then makes an NCCL communicator over
  // each part (collective over this group; user thread).
  std::shared_ptr<Comm> split(int color, int key) override;

  void enqueue_all_reduce(const char* what, const void* in, void* out, size_t n, Dtype d,
                          ReduceOp op, void* stream) override;
  void enqueue_all_gather(const char* what, const void* in, void* out, size_t bytes,
                          void* stream) override;
  void enqueue_send(const char* what, const void* buf, size_t bytes, int dst,
                    void* stream) override;
  void enqueue_recv(const char* what, void* buf, size_t bytes, int src, void* stream) override;

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
