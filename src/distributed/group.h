// Groups of processes and the backend interface collectives compute with.
//
// Who calls what, on which thread:
//   - init, is_available, Group::split and finalize run on a Python (user)
//     thread, never under the eval driver's lock. init and finalize take a
//     private mutex, so concurrent calls are safe.
//   - A Comm is a communicator: rank, size, backend name, split. Its
//     collectives are in one of two kernel interfaces
//     (distributed/collectives.h), and Comm::host() / Comm::device() say
//     which it provides (null when not):
//       HostCollectives (MPI): blocking calls on host memory, made by a
//         task on a CPU stream's worker thread that the primitives' eval_cpu
//         dispatched (src/backend/cpu/distributed.cpp), and by init on its
//         user thread to bootstrap NCCL;
//       DeviceCollectives (NCCL): calls that enqueue the transfer on a GPU
//         stream, made by the primitives' eval_gpu on the encoding thread
//         (src/backend/cuda/distributed.cpp).
//     The ops layer puts a group's collectives on a GPU stream when its Comm
//     provides device collectives, on a CPU stream otherwise.
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

// The op's user-facing name ("all_sum", ...), which its errors are tagged with.
inline const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "all_sum";
    case ReduceOp::max: return "all_max";
    case ReduceOp::min: return "all_min";
  }
  return "all_reduce";
}

class HostCollectives;
class DeviceCollectives;

// One communicator of a backend.
class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* backend() const = 0;
  // Collective over this communicator, on the calling (user) thread.
  virtual std::shared_ptr<Comm> split(int color, int key) = 0;

  // The kernels this backend provides, or null: host ones for CPU streams
  // (MPI), device ones for GPU streams (NCCL). See distributed/collectives.h.
  // The returned interface lives as long as this Comm.
  virtual HostCollectives* host() { return nullptr; }
  virtual DeviceCollectives* device() { return nullptr; }

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
