// Groups, init and finalize: the backend-neutral part of distributed.
//
// Called on user threads (the Python bindings release the GIL first), but
// for host_collectives/device_collectives (collectives.h), which the
// primitives' encodings call on the encoding thread and which touch no
// shared state. One mutex guards the groups kept and the finalized flag;
// tickets are counted with atomics because stream workers release them.
//
// Choosing NCCL. NCCL is bootstrapped over a private split of MPI's world,
// so its set-up never interleaves with an MPI group's collectives. Over it
// every rank first shares what it can offer (nccl::probe: a CUDA build, a
// GPU, libnccl, and that GPU's UUID), and all ranks reach one verdict from
// the same data: NCCL only when every rank is ready and no two share a GPU.
// A rank deciding alone could leave the others waiting in NCCL's init, or
// pair an NCCL collective with an MPI one.
#include "distributed/group.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "distributed/collectives.h"
#include "distributed/mpi/mpi.h"
#include "distributed/nccl/nccl.h"

namespace fastsync::distributed {

namespace {

std::mutex world_mutex;
// What default_group returns: the first group init returned (a lenient
// singleton gives way to the first real group made after it).
std::optional<Group> world;
// Each backend's group, once asked for (or chosen by "any").
std::optional<Group> mpi_world;
std::optional<Group> nccl_world;
// MPI's world communicator, made once: every group over it shares its
// count of collectives in flight.
std::shared_ptr<Comm> mpi_comm;
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

const char* describe(nccl::Readiness r) {
  switch (r) {
    case nccl::Readiness::ready: return "ready";
    case nccl::Readiness::no_cuda_backend: return "fastsync was built without the CUDA backend";
    case nccl::Readiness::no_gpu: return "no CUDA device is visible";
    case nccl::Readiness::no_library: return "libnccl.so.2 cannot be loaded";
  }
  return "unknown state";
}

// What one rank offers an NCCL group, exchanged as plain bytes.
struct Offer {
  int32_t status;
  uint8_t gpu[16];
};
static_assert(sizeof(Offer) == 20, "Offer travels as 20 bytes");

// Every rank's offer, in rank order. Collective over `boot` (MPI's).
std::vector<Offer> exchange_offers(const Group& boot, const nccl::Probe& mine) {
  Offer o{};
  o.status = static_cast<int32_t>(mine.status);
  std::memcpy(o.gpu, mine.gpu.data(), sizeof(o.gpu));
  std::vector<Offer> all(static_cast<size_t>(boot.size()));
  host_collectives(boot, "distributed.init")
      .all_gather("distributed.init", &o, all.data(), sizeof(Offer), uint8, 0);
  return all;
}

// Why these ranks cannot form an NCCL group, or "" when they can. Reads only
// exchanged data, so every rank gets the same answer.
std::string nccl_verdict(const std::vector<Offer>& all) {
  std::string why;
  for (size_t r = 0; r < all.size(); ++r) {
    auto st = static_cast<nccl::Readiness>(all[r].status);
    if (st == nccl::Readiness::ready) continue;
    why += (why.empty() ? "rank " : "; rank ") + std::to_string(r) + ": " + describe(st);
  }
  if (!why.empty()) return why;
  for (size_t a = 0; a < all.size(); ++a) {
    for (size_t b = a + 1; b < all.size(); ++b) {
      if (std::memcmp(all[a].gpu, all[b].gpu, sizeof(all[a].gpu)) != 0) continue;
      return "ranks " + std::to_string(a) + " and " + std::to_string(b) +
             " share one GPU (each process uses its CUDA device 0); give every rank its own, "
             "e.g. with `python -m fastsync.launch --gpus`";
    }
  }
  return "";
}

bool some_rank_has_a_gpu(const std::vector<Offer>& all) {
  for (auto& o : all) {
    auto st = static_cast<nccl::Readiness>(o.status);
    if (st == nccl::Readiness::ready || st == nccl::Readiness::no_library) return true;
  }
  return false;
}

// An NCCL group over MPI's world for backend "nccl" or "any"; what to do
// when the ranks cannot form one depends on both. Under world_mutex.
Group nccl_or_fallback(bool strict, bool any, const std::shared_ptr<Comm>& mpi) {
  std::shared_ptr<Comm> boot = Group(mpi).split(0).comm();
  nccl::Probe mine = nccl::probe();
  auto offers = exchange_offers(Group(boot), mine);
  std::string why = nccl_verdict(offers);
  if (why.empty()) {
    try {
      return Group(nccl::create(boot));
    } catch (const std::exception& e) {
      if (strict && !any) throw;
      std::fprintf(stderr, "fastsync.distributed: NCCL could not be initialized, %s. %s\n",
                   any ? "using MPI" : "running as a group of one process", e.what());
      return any ? Group(mpi) : Group();
    }
  }
  if (mine.status != nccl::Readiness::ready) why += ". On this rank: " + mine.why;
  if (any) {
    // Silent where no rank has a GPU: MPI is then what anyone would expect.
    if (boot->rank() == 0 && some_rank_has_a_gpu(offers)) {
      std::fprintf(stderr, "fastsync.distributed: using MPI, not NCCL: %s\n", why.c_str());
    }
    return Group(mpi);
  }
  std::string msg = "[distributed.init] cannot use NCCL: " + why;
  if (strict) throw std::runtime_error(msg);
  std::fprintf(stderr, "fastsync.distributed: %s. Running as a group of one process.\n",
               msg.c_str());
  return Group();
}

// A new group of all processes for `backend`. Under world_mutex.
Group make_world(bool strict, const std::string& backend) {
  if (!strict && !mpi::launched_by_mpirun()) {
    // Not started by mpirun: one process. Skipping MPI here also skips Open
    // MPI's singleton start-up, which takes about a second.
    return Group();
  }
  if (!mpi_comm) {
    try {
      mpi_comm = mpi::init_world();
    } catch (const std::exception& e) {
      if (strict) throw;
      // Started by a launcher yet running alone is almost surely a mistake:
      // say so once rather than silently computing per-process results.
      std::fprintf(stderr,
                   "fastsync.distributed: started by an MPI launcher but MPI cannot be used, "
                   "running as a group of one process. %s\n",
                   e.what());
      return Group();
    }
  }
  if (backend == "mpi") return Group(mpi_comm);
  return nccl_or_fallback(strict, backend == "any", mpi_comm);
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

namespace {

// "[what] only an NCCL group's collectives run on a GPU stream; this
// group's backend is mpi: pass stream=mx.cpu" (the hint when it has the
// other kind).
[[noreturn]] void no_collectives(const Group& g, const char* what, const char* owner,
                                 const char* device, const char* hint) {
  throw std::runtime_error(std::string("[") + what + "] only an " + owner +
                           " group's collectives run on a " + device +
                           " stream; this group's backend is " + g.backend() +
                           (hint ? std::string(": pass stream=") + hint : ""));
}

}  // namespace

HostCollectives& host_collectives(const Group& g, const char* what) {
  Comm* c = g.comm().get();
  if (HostCollectives* h = c ? c->host() : nullptr) return *h;
  no_collectives(g, what, "MPI", "CPU", c && c->device() ? "mx.gpu" : nullptr);
}

DeviceCollectives& device_collectives(const Group& g, const char* what) {
  Comm* c = g.comm().get();
  if (DeviceCollectives* d = c ? c->device() : nullptr) return *d;
  no_collectives(g, what, "NCCL", "GPU", c && c->host() ? "mx.cpu" : nullptr);
}

Group Group::split(int color, int key) const {
  if (color < 0) {
    throw std::invalid_argument("[Group.split] color must be non-negative, got " +
                                std::to_string(color));
  }
  if (!comm_) return Group();  // a singleton splits into itself
  wait_zero(comm_->collectives_in_flight);
  return Group(comm_->split(color, key < 0 ? comm_->rank() : key));
}

bool is_available(const std::string& backend) {
  if (backend != "any" && backend != "mpi" && backend != "nccl") {
    throw std::invalid_argument("[distributed.is_available] unknown backend '" + backend +
                                "': expected 'any', 'mpi' or 'nccl'");
  }
  std::string why;
  bool mpi_ok = mpi::load(&why);
  if (backend != "nccl") return mpi_ok;
  return mpi_ok && nccl::probe().status == nccl::Readiness::ready;
}

Group init(bool strict, const std::string& backend) {
  if (backend != "any" && backend != "mpi" && backend != "nccl") {
    throw std::invalid_argument("[distributed.init] unknown backend '" + backend +
                                "': expected 'any', 'mpi' or 'nccl'");
  }
  std::lock_guard lk(world_mutex);
  if (finalized) {
    throw std::runtime_error(
        "[distributed.init] the distributed backend was already finalized (at exit)");
  }
  std::optional<Group>& kept = backend == "mpi" ? mpi_world : backend == "nccl" ? nccl_world : world;
  // A singleton kept from a lenient call does not answer a strict one.
  if (kept && (kept->comm() || !strict)) return *kept;
  Group g = make_world(strict, backend);
  kept = g;
  if (!world || (!world->comm() && g.comm())) world = g;
  // "any" made one backend's world: asking for that backend by name later
  // must return the same group, not make a second communicator.
  if (g.comm()) {
    auto& mine = g.backend() == "nccl" ? nccl_world : mpi_world;
    if (!mine || !mine->comm()) mine = g;
  }
  return g;
}

Group default_group() {
  {
    std::lock_guard lk(world_mutex);
    if (world) return *world;
  }
  return init(false, "any");
}

void finalize(bool abort) {
  {
    std::lock_guard lk(world_mutex);
    if (finalized) return;
    finalized = true;
  }
  // Aborting must not wait: the collective this process would wait for may
  // be the very one its failure left unmatched.
  if (!abort) detail::wait_inflight();
  // NCCL first: its communicators were bootstrapped over MPI's.
  nccl::finalize(abort);
  mpi::finalize(abort);
}

}  // namespace fastsync::distributed
