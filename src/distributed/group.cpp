// Groups, init and finalize: the backend-neutral part of distributed.
//
// Called on user threads (the Python bindings release the GIL first). One
// mutex guards the world group and the finalized flag; tickets are counted
// with atomics because stream workers release them.
#include "distributed/group.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "distributed/mpi.h"

namespace fastsync::distributed {

namespace {

std::mutex world_mutex;
std::optional<Group> world;  // the group init returned, once one was asked for
bool finalized = false;
std::atomic<int> inflight{0};

// split and finalize are rare and may wait on transfers that take long: a
// backed-off poll is enough and costs the hot path nothing.
void wait_zero(const std::atomic<int>& counter) {
  auto pause = std::chrono::microseconds(20);
  while (counter.load(std::memory_order_acquire) > 0) {
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(2)) pause *= 2;
  }
}

}  // namespace

namespace detail {

InflightTicket::InflightTicket(std::shared_ptr<Comm> comm, bool collective)
    : comm_(std::move(comm)), collective_(collective) {
  inflight.fetch_add(1, std::memory_order_relaxed);
  if (collective_) comm_->collectives_in_flight.fetch_add(1, std::memory_order_relaxed);
}

InflightTicket::~InflightTicket() {
  if (!comm_) return;
  if (collective_) comm_->collectives_in_flight.fetch_sub(1, std::memory_order_release);
  inflight.fetch_sub(1, std::memory_order_release);
}

void wait_inflight() { wait_zero(inflight); }

}  // namespace detail

Group Group::split(int color, int key) const {
  if (color < 0) {
    throw std::invalid_argument("[Group.split] color must be non-negative, got " +
                                std::to_string(color));
  }
  if (!comm_) return Group();  // a singleton splits into itself
  wait_zero(comm_->collectives_in_flight);
  return Group(comm_->split(color, key < 0 ? comm_->rank() : key));
}

bool is_available() {
  std::string why;
  return mpi::load(&why);
}

Group init(bool strict, const std::string& backend) {
  if (backend == "nccl") {
    if (strict) {
      throw std::runtime_error(
          "[distributed.init] the nccl backend is not built into this version of fastsync; "
          "use backend='mpi'");
    }
    return Group();
  }
  if (backend != "any" && backend != "mpi") {
    throw std::invalid_argument("[distributed.init] unknown backend '" + backend +
                                "': expected 'mpi' or 'any'");
  }
  std::lock_guard lk(world_mutex);
  if (finalized) {
    throw std::runtime_error(
        "[distributed.init] the distributed backend was already finalized (at exit)");
  }
  // A singleton kept from a lenient call does not answer a strict one.
  if (world && (world->comm() || !strict)) return *world;
  if (!strict && !mpi::launched_by_mpirun()) {
    // Not started by mpirun: one process. Skipping MPI here also skips Open
    // MPI's singleton start-up, which takes about a second.
    world = Group();
    return *world;
  }
  try {
    world = Group(mpi::init_world());
  } catch (const std::exception& e) {
    if (strict) throw;
    // Started by a launcher yet running alone is almost surely a mistake:
    // say so once rather than silently computing per-process results.
    std::fprintf(stderr,
                 "fastsync.distributed: started by an MPI launcher but MPI cannot be used, "
                 "running as a group of one process. %s\n",
                 e.what());
    world = Group();
  }
  return *world;
}

Group default_group() { return init(false, "any"); }

void finalize(bool abort) {
  {
    std::lock_guard lk(world_mutex);
    if (finalized) return;
    finalized = true;
  }
  // Aborting must not wait: the collective this process would wait for may
  // be the very one its failure left unmatched.
  if (!abort) detail::wait_inflight();
  mpi::finalize(abort);
}

}  // namespace fastsync::distributed
