// Groups of processes and the backend interface collectives compute with.
//
// Who calls what, on which thread:
//   - init, is_available, Group::split and finalize run on a Python (user)
//     thread, never under the eval driver's lock. init and finalize take a
//     private mutex, so concurrent calls are safe.
//   - Comm's data methods (all_reduce, all_gather, send, recv) are the
//     kernels: they run on a CPU stream's worker thread, inside a task that a
//     collective primitive dispatched, and block that worker until the
//     transfer completes. They throw std::runtime_error on a backend error;
//     the scheduler stores it on the stream and it reaches Python at the next
//     eval or read that depends on it.
//   - A backend whose collectives are GPU kernels (NCCL: runs_on_gpu()) has
//     no CPU kernels: its data methods throw, and the primitives' eval_gpu
//     enqueue the transfers on a GPU stream instead (src/cuda/distributed.cpp).
//
// A Group is a cheap handle (one shared_ptr). Over a group of size 1 (the
// singleton, which has no backend, or an MPI group of one) collectives are
// identities decided in the ops layer, so code written for several
// processes runs unchanged in one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "dtype.h"

namespace fastsync::distributed {

enum class ReduceOp { sum, max, min };

// One communicator of a backend.
class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* backend() const = 0;
  // True when collectives run as GPU kernels on a GPU stream (NCCL); the ops
  // layer then picks a GPU stream instead of a CPU one.
  virtual bool runs_on_gpu() const { return false; }
  // Collective over this communicator, on the calling (user) thread.
  virtual std::shared_ptr<Comm> split(int color, int key) = 0;

  // Kernels (stream worker thread). `what` names the op for error messages.
  // all_reduce: out[i] = op over ranks of in[i]; in == nullptr means in place
  // (out holds this rank's contribution). Ranks passing different counts are
  // only detected when FASTSYNC_DISTRIBUTED_CHECKS=1 (it costs a collective).
  virtual void all_reduce(const char* what, const void* in, void* out, int64_t n, Dtype d,
                          ReduceOp op) = 0;
  // all_gather: out holds size() blocks of n elements in rank order;
  // in == nullptr means this rank's block is already in place in out.
  // Checks that every rank passes the same count, dtype and `shape_tag`.
  virtual void all_gather(const char* what, const void* in, void* out, int64_t n, Dtype d,
                          int64_t shape_tag) = 0;
  virtual void send(const char* what, const void* buf, int64_t n, Dtype d, int dst) = 0;
  // Fails (on this rank) unless the message holds exactly n elements.
  virtual void recv(const char* what, void* buf, int64_t n, Dtype d, int src) = 0;

  // Collectives on this communicator encoded and not yet finished: split
  // waits for zero, so every rank issues the split after the same
  // collectives (MPI matches collectives on a communicator by call order).
  std::atomic<int> collectives_in_flight{0};
};

class Group {
 public:
  // A singleton group (size 1, no backend).
  Group() = default;
  explicit Group(std::shared_ptr<Comm> comm) : comm_(std::move(comm)) {}

  int rank() const { return comm_ ? comm_->rank() : 0; }
  int size() const { return comm_ ? comm_->size() : 1; }
  // "mpi", "nccl", or "singleton" for a group without a backend.
  std::string backend() const { return comm_ ? comm_->backend() : "singleton"; }
  // Processes passing the same color form a new group, ranked by key (by
  // their rank in this group when key < 0). Collective: every member calls
  // it. Waits for collectives already encoded to finish first, so it never
  // interleaves with them on the communicator.
  Group split(int color, int key = -1) const;

  const std::shared_ptr<Comm>& comm() const { return comm_; }

 private:
  std::shared_ptr<Comm> comm_;
};

// True when a backend's library can be loaded (nothing is initialized).
// "mpi" and "any": MPI loads. "nccl": MPI loads (it bootstraps NCCL), this
// build has the CUDA backend, a GPU is visible and libnccl loads.
bool is_available(const std::string& backend = "any");

// The group of all processes. backend:
//   "mpi": collectives on the host over MPI (CPU streams);
//   "nccl": collectives as GPU kernels over NCCL (GPU streams), bootstrapped
//     through MPI, one GPU per process (device 0 of each: the launcher's
//     --gpus gives each rank its own);
//   "any": NCCL when every rank can use it (a CUDA build, a GPU of its own,
//     libnccl), else MPI. Every rank decides the same, from an exchange.
// Without MPI, or outside a launcher such as mpirun, returns a singleton
// group; so does "nccl" when some rank cannot use NCCL (with a warning).
// With strict = true those cases raise std::runtime_error instead (strict
// outside a launcher initializes MPI as a one-process world). Each
// backend's group is kept once made: later calls return it again; "any"
// returns the first group any call returned.
Group init(bool strict = false, const std::string& backend = "any");

// The group collectives use when none is given: the first group init
// returned (init(false, "any") if none was asked for).
Group default_group();

// Ends the backends at process exit. Waits for collectives in flight (the
// GPU's too), destroys NCCL communicators, then finalizes MPI if fastsync
// initialized it. With abort = true (the process is dying of an error)
// aborts NCCL and the whole job instead, so that peers blocked in a
// collective with this process do not wait forever.
void finalize(bool abort);

namespace detail {

// Held by every backend task from encoding until the task is destroyed
// (after it ran, was skipped on a poisoned stream, or was discarded): keeps
// the communicator alive and counts the task as in flight, globally and, for
// collectives, on its communicator.
class InflightTicket {
 public:
  InflightTicket(std::shared_ptr<Comm> comm, bool collective);
  InflightTicket(InflightTicket&& o) noexcept
      : comm_(std::move(o.comm_)), collective_(o.collective_) {}
  InflightTicket& operator=(InflightTicket&&) = delete;
  ~InflightTicket();

  Comm& comm() const { return *comm_; }

 private:
  std::shared_ptr<Comm> comm_;  // null once moved from
  bool collective_;
};

// Blocks until no backend task is in flight.
void wait_inflight();

}  // namespace detail

}  // namespace fastsync::distributed
