// The kernels of a backend's collectives, in two interfaces: a Comm
// provides one or the other (Comm::host(), Comm::device()). Neither needs
// CUDA, NCCL or MPI types: a GPU stream travels as an opaque handle.
#pragma once

#include <cstddef>
#include <cstdint>

#include "distributed/group.h"
#include "dtype.h"

namespace fastsync::distributed {

// Collectives on host memory (MPI).
//
// Who calls: the task that a collective primitive's eval_cpu
// (backend/cpu/distributed.cpp) dispatched, on a CPU stream's worker thread;
// each call blocks that worker until the transfer completes, and several
// workers may call at once. Also group.cpp and nccl::create, on a user
// thread, for the exchanges that bootstrap NCCL over a private split of
// MPI's world (no stream uses that communicator).
//
// Errors: std::runtime_error on a backend error; from a task the scheduler
// stores it on the stream and it reaches Python at the next eval or read
// that depends on it. `what` names the op for error messages.
class HostCollectives {
 public:
  // out[i] = op over ranks of in[i]; in == nullptr means in place (out
  // holds this rank's contribution). Ranks passing different counts or
  // dtypes, or an input spoiled by an earlier error, raise on every rank
  // unless FASTSYNC_DISTRIBUTED_CHECKS=0 (the check costs a collective, but
  // for a small array it is the reduction as well).
  virtual void all_reduce(const char* what, const void* in, void* out, int64_t n, Dtype d,
                          ReduceOp op) = 0;
  // out holds size() blocks of n elements in rank order; in == nullptr
  // means this rank's block is already in place in out. Checks that every
  // rank passes the same count, dtype and `shape_tag`.
  virtual void all_gather(const char* what, const void* in, void* out, int64_t n, Dtype d,
                          int64_t shape_tag) = 0;
  virtual void send(const char* what, const void* buf, int64_t n, Dtype d, int dst) = 0;
  // Fails (on this rank) unless the message holds exactly n elements.
  virtual void recv(const char* what, void* buf, int64_t n, Dtype d, int src) = 0;

 protected:
  ~HostCollectives() = default;  // owned as its Comm
};

// Collectives enqueued on a GPU stream (NCCL).
//
// Who calls: the collective primitives' eval_gpu (backend/cuda/distributed.cpp)
// on the encoding thread, under the eval driver's lock, which also
// serializes the calls across communicators (as NCCL requires of calls from
// several threads). Each returns once the work is enqueued on `stream` (a
// cudaStream_t, passed as void*): the eval driver orders it with other GPU
// work by events and fences, and nothing waits on the host. Buffers are
// device pointers the caller keeps alive until the GPU is past the op;
// counts are in elements for reductions and in bytes for the movements
// (all_gather, send, recv), which move bytes alike for any type.
//
// Errors: std::runtime_error when the backend fails to enqueue, or holds an
// asynchronous error from earlier work (checked before each enqueue);
// type_error for a dtype the backend cannot reduce. Ranks passing different
// counts are not detected: the result is then undefined, or it hangs.
class DeviceCollectives {
 public:
  // `in` may equal `out` (in place).
  virtual void enqueue_all_reduce(const char* what, const void* in, void* out, size_t n, Dtype d,
                                  ReduceOp op, void* stream) = 0;
  // `out` holds size() blocks of `bytes` in rank order.
  virtual void enqueue_all_gather(const char* what, const void* in, void* out, size_t bytes,
                                  void* stream) = 0;
  virtual void enqueue_send(const char* what, const void* buf, size_t bytes, int dst,
                            void* stream) = 0;
  virtual void enqueue_recv(const char* what, void* buf, size_t bytes, int src, void* stream) = 0;

 protected:
  ~DeviceCollectives() = default;  // owned as its Comm
};

// The group's host / device collectives (encoding thread, or any). The ops
// layer only puts a group on a stream its backend can run on; a primitive
// made by hand with another group (or a singleton) gets std::runtime_error
// "[what] ..." naming the group's backend instead of a crash.
HostCollectives& host_collectives(const Group& g, const char* what);
DeviceCollectives& device_collectives(const Group& g, const char* what);

}  // namespace fastsync::distributed
