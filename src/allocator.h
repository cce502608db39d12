// Host buffer allocator with a size-bucketed cache.
//
// Called from the encoding thread (malloc) and from stream workers (free, when
// a retention task drops the last reference). Every method is thread-safe:
// one mutex guards the cache and the counters. Statistics are in bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

#include "sync.h"

namespace fastsync::allocator {

class Allocator;

struct Buffer {
  void* ptr = nullptr;
  size_t size = 0;             // the bucket size actually reserved
  Allocator* owner = nullptr;  // who frees it (null: nothing to free)
};

// Where an allocator's memory comes from. Host memory by default; the GPU
// backend makes allocators of device and of pinned host memory.
struct Source {
  void* (*alloc)(size_t nbytes);  // returns null when out of memory
  void (*release)(void* p);
  size_t (*capacity)();  // total memory; the default limit is 9/10 of it
  bool device;           // memory the CPU cannot read
  const char* name;      // in traces: "host", "pinned", "gpu"
  // A buffer of between `size` and size + size / 8 bytes that the caller may
  // take before the cache is asked, already counted as active (the GPU's
  // stream-ordered reuse, cuda/encoder.h); {} when there is none. Optional.
  Buffer (*reuse)(size_t size) = nullptr;
};

class Allocator {
 public:
  Allocator();
  explicit Allocator(Source src);
  ~Allocator();
  Buffer malloc(size_t nbytes);
  void free(Buffer b);

  size_t active_memory() const;
  size_t peak_memory() const;
  size_t cache_memory() const;
  void reset_peak_memory();
  size_t memory_limit() const;
  size_t set_memory_limit(size_t limit);  // returns the previous limit
  size_t set_cache_limit(size_t limit);   // returns the previous limit
  void clear_cache();

  static size_t bucket_size(size_t nbytes);
  bool is_device() const { return src_.device; }

 private:
  // A timeline trace's record of an allocation or free (under mutex_), and
  // its interned names: free, alloc, bytes in use (0 until the first).
  void traced(bool alloc, size_t bytes, size_t active);
  uint32_t trace_names_[3] = {0, 0, 0};
  std::vector<void*> trim_cache_locked(size_t target);
  void release(const std::vector<void*>& ptrs);

  Source src_;
  // Held for a few map operations, never across alloc/release.
  alignas(64) mutable sync::SpinMutex mutex_;
  // Mirrors of active_ and memory_limit_ for lock-free reads: the eval
  // driver checks them after every op.
  std::atomic<size_t> active_relaxed_{0};
  std::atomic<size_t> limit_relaxed_{0};
  // Bucket size -> free buffers. Entries are kept when emptied, so steady
  // reuse of a size allocates nothing here.
  std::map<size_t, std::vector<void*>> cache_;
  size_t active_ = 0;
  size_t peak_ = 0;
  size_t cached_ = 0;
  size_t memory_limit_;
  size_t cache_limit_;
};

Allocator& host();
// Host memory of constants the runtime caches for reuse (the Python numbers
// beside arrays, ops/scalar.cpp): like the allocator's own cache, it is not
// counted in host()'s statistics.
Allocator& constants();
Buffer malloc(size_t nbytes);
inline void free(Buffer b) {
  if (b.owner) b.owner->free(b);
}
inline bool is_device(const Buffer& b) { return b.owner && b.owner->is_device(); }

}  // namespace fastsync::allocator
