#include "backend/cuda/inflight.h"

#include <algorithm>
#include <iterator>
#include <unordered_map>

#include "array.h"
#include "backend/cuda/encoder.h"
#include "scheduler.h"

namespace fastsync::cuda::inflight {

namespace {

// 128 MiB: two of the training row's largest activations (8 x 1024 x 4096
// bfloat16). At 64 the host could run one such op ahead of the GPU and the
// GPU idled between ops: 27.0 steps/s against 28.6 at 128, for 32 MiB more
// peak (H100; 256 and 512 were no faster and held 160-190 MiB more).
size_t max_inflight_bytes() {
  static const size_t cap = scheduler::env_mib("FASTSYNC_MAX_INFLIGHT_GPU_MB", 128);
  return cap;
}

// The state of the count (guarded by the eval driver's lock: only the
// encoding thread touches it).
struct Count {
  // Bytes only retention held at the last scan.
  size_t exclusive = 0;
  // Bytes retained since by buffers the scan did not find held elsewhere.
  size_t unscanned = 0;
  // What the last scan found held elsewhere, pinned (see the header).
  std::unordered_map<const Data*, std::weak_ptr<Data>> held_elsewhere;
  uint64_t scans = 0;
};

Count& count() {
  static Count c;
  return c;
}

void scan() {
  Count& c = count();
  ++c.scans;
  std::unordered_map<const Data*, CommandEncoder::Held> held;
  for (auto* e : all_encoders()) e->count_retained(held);
  c.exclusive = 0;
  c.unscanned = 0;
  // What no batch holds now but something else still does (a weight between
  // two steps) stays known; what died is forgotten.
  for (auto it = c.held_elsewhere.begin(); it != c.held_elsewhere.end();) {
    it = it->second.expired() || held.count(it->first) ? c.held_elsewhere.erase(it) : std::next(it);
  }
  for (auto& [d, h] : held) {
    if (h.owners <= h.entries) {
      c.exclusive += h.bytes;
    } else {
      c.held_elsewhere.emplace(d, std::move(h.pin));
    }
  }
}

}  // namespace

bool note_retained(const std::shared_ptr<Data>& d) {
  Count& c = count();
  if (!c.held_elsewhere.empty() && c.held_elsewhere.count(d.get())) return false;
  c.unscanned += d->buffer.size;
  return true;
}

void note_reused(const Data* d, size_t bytes) {
  // Counted when retained (since the last scan, most often, or by it),
  // unless the last scan found it held elsewhere: then never counted.
  Count& c = count();
  if (!c.held_elsewhere.empty() && c.held_elsewhere.erase(d)) return;
  size_t from_unscanned = std::min(bytes, c.unscanned);
  c.unscanned -= from_unscanned;
  c.exclusive -= std::min(bytes - from_unscanned, c.exclusive);
}

bool over_cap() {
  const size_t cap = max_inflight_bytes();
  if (CommandEncoder::total_pending_bytes() <= cap) return false;
  Count& c = count();
  if (c.exclusive + c.unscanned <= cap) return false;
  scan();
  return c.exclusive > cap;
}

uint64_t scans() { return count().scans; }

}  // namespace fastsync::cuda::inflight
