#include "allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>
#include <string>

#include "lifecycle.h"
#include "timeline.h"

namespace fastsync::allocator {

namespace {
constexpr size_t kAlign = 64;
constexpr size_t kPage = 4096;

// Large buffers start on a 2 MiB boundary and ask for transparent huge pages
// over the whole 2 MiB spans they hold (as NumPy's do; the tail keeps small
// pages, so no memory is wasted): where THP is "madvise", the default on
// many distributions, a 4 MiB buffer otherwise takes 1,024 first-touch
// faults and as many TLB entries, and a peer process's single-copy read of
// it (MPI over shared memory) pins it page by page: all_sum of 1M floats
// over 2 ranks took 490 µs a step with small pages, 250 with huge ones.
constexpr size_t kHuge = size_t(2) << 20;
constexpr size_t kHugeFrom = size_t(4) << 20;
void* host_alloc(size_t size) {
  if (size < kHugeFrom) return std::aligned_alloc(kAlign, size);
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, size) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  madvise(p, size / kHuge * kHuge, MADV_HUGEPAGE);  // advice: failing changes nothing
#endif
  return p;
}
void host_release(void* p) { std::free(p); }
size_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<size_t>(pages) * page : size_t(8) << 30;
}
}  // namespace

size_t Allocator::bucket_size(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  if (nbytes <= kPage) return (nbytes + kAlign - 1) / kAlign * kAlign;
  return (nbytes + kPage - 1) / kPage * kPage;
}

Allocator::Allocator()
    : Allocator(Source{host_alloc, host_release, physical_memory, false, "host"}) {}

Allocator::Allocator(Source src)
    : src_(src), memory_limit_(src.capacity() / 10 * 9), cache_limit_(memory_limit_) {
  limit_relaxed_ = memory_limit_;
}

Allocator::~Allocator() { clear_cache(); }

namespace {
// std::bad_alloc with a message (Python sees MemoryError with its text).
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(size_t nbytes)
      : msg_("[malloc] could not allocate " + std::to_string(nbytes) + " bytes (" +
             std::to_string(static_cast<double>(nbytes) / (1ull << 30)) +
             " GiB) for an array: more memory than is available") {}
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};
}  // namespace

// An allocation or free in a timeline trace: a point on the calling thread's
// (or running task's stream's) track and the allocator's bytes in use. Under
// the allocator's lock, so the counter's values come in order.
void Allocator::traced(bool alloc, size_t bytes, size_t active) {
  if (!trace_names_[0]) {
    trace_names_[0] = timeline::intern(std::string("free (") + src_.name + ")");
    trace_names_[1] = timeline::intern(std::string("alloc (") + src_.name + ")");
    trace_names_[2] = timeline::intern(std::string("bytes in use (") + src_.name + ")");
  }
  timeline::memory(timeline::current_track(), trace_names_[alloc ? 1 : 0], trace_names_[2],
                   static_cast<int64_t>(bytes), static_cast<int64_t>(active));
}

Buffer Allocator::malloc(size_t nbytes) {
  // In a child forked mid-run, mutex_ may have been held by a thread that
  // does not exist here: refuse before taking it.
  lifecycle::check_usable("array");
  size_t size = bucket_size(nbytes);
  if (src_.reuse) {
    if (Buffer b = src_.reuse(size); b.ptr) return b;
  }
  {
    std::lock_guard lk(mutex_);
    // Take a cached buffer of the same bucket, or one at most 1/8 larger, so
    // large buffers are reused without wasting much.
    for (auto it = cache_.lower_bound(size); it != cache_.end() && it->first <= size + size / 8;
         ++it) {
      if (it->second.empty()) continue;
      Buffer b{it->second.back(), it->first, this};
      it->second.pop_back();
      cached_ -= b.size;
      active_ += b.size;
      active_relaxed_.store(active_, std::memory_order_relaxed);
      peak_ = std::max(peak_, active_);
      if (timeline::on()) traced(true, b.size, active_);
      return b;
    }
  }
  void* p = src_.alloc(size);
  if (!p) {
    clear_cache();
    p = src_.alloc(size);
    if (!p) throw OutOfMemory(nbytes);
  }
  std::lock_guard lk(mutex_);
  active_ += size;
  active_relaxed_.store(active_, std::memory_order_relaxed);
  peak_ = std::max(peak_, active_);
  if (timeline::on()) traced(true, size, active_);
  return Buffer{p, size, this};
}

void Allocator::free(Buffer b) {
  if (!b.ptr) return;
  if (lifecycle::is_forked_child()) return;  // leaked: the lock may be held forever
  std::vector<void*> dropped;
  {
    std::lock_guard lk(mutex_);
    active_ -= b.size;
    active_relaxed_.store(active_, std::memory_order_relaxed);
    if (timeline::on()) traced(false, b.size, active_);
    if (b.size > cache_limit_) {
      dropped.push_back(b.ptr);
    } else {
      cache_[b.size].push_back(b.ptr);
      cached_ += b.size;
      if (cached_ > cache_limit_) dropped = trim_cache_locked(cache_limit_);
    }
  }
  release(dropped);
}

// Memory goes back to its source outside the lock: cudaFree waits for the
// device, which may be waiting for a CPU task that frees a buffer.
void Allocator::release(const std::vector<void*>& ptrs) {
  for (void* p : ptrs) src_.release(p);
}

std::vector<void*> Allocator::trim_cache_locked(size_t target) {
  // Drop the largest buffers first: they are the ones worth returning.
  std::vector<void*> dropped;
  for (auto it = cache_.rbegin(); it != cache_.rend() && cached_ > target; ++it) {
    while (!it->second.empty() && cached_ > target) {
      dropped.push_back(it->second.back());
      it->second.pop_back();
      cached_ -= it->first;
    }
  }
  return dropped;
}

size_t Allocator::active_memory() const { return active_relaxed_.load(std::memory_order_relaxed); }
size_t Allocator::peak_memory() const {
  std::lock_guard lk(mutex_);
  return peak_;
}
size_t Allocator::cache_memory() const {
  std::lock_guard lk(mutex_);
  return cached_;
}
// To zero, as MLX: the next allocation raises it to what is then active.
void Allocator::reset_peak_memory() {
  std::lock_guard lk(mutex_);
  peak_ = 0;
}
size_t Allocator::memory_limit() const { return limit_relaxed_.load(std::memory_order_relaxed); }
size_t Allocator::set_memory_limit(size_t limit) {
  std::lock_guard lk(mutex_);
  std::swap(limit, memory_limit_);
  limit_relaxed_.store(memory_limit_, std::memory_order_relaxed);
  return limit;
}
size_t Allocator::set_cache_limit(size_t limit) {
  std::vector<void*> dropped;
  {
    std::lock_guard lk(mutex_);
    std::swap(limit, cache_limit_);
    dropped = trim_cache_locked(cache_limit_);
  }
  release(dropped);
  return limit;
}
void Allocator::clear_cache() {
  std::vector<void*> dropped;
  {
    std::lock_guard lk(mutex_);
    dropped = trim_cache_locked(0);
  }
  release(dropped);
}

Allocator& host() {
  // Never destroyed: worker threads may free buffers during static teardown.
  static Allocator* a = new Allocator();
  return *a;
}
Allocator& constants() {
  static Allocator* a = new Allocator();  // never destroyed, as host()
  return *a;
}
Buffer malloc(size_t nbytes) { return host().malloc(nbytes); }

}  // namespace fastsync::allocator
