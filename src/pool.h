// A free-list allocator for the small objects every op makes and drops
// (array descriptors, graph nodes, buffer owners). Made on the encoding
// thread, often released on another (a stream worker drops a buffer owner,
// the encoding thread drops a node it encoded).
//
// Why not the C allocator: a graph of a thousand ops makes a thousand of
// each before it frees any, which overflows glibc's per-thread cache (seven
// blocks per size) into its arena bins, where each free coalesces and each
// malloc searches: about a third of an op's encoding time on a 2-core VM.
//
// Thread-safety: each thread keeps its own cache of free blocks (no lock,
// no atomic); past kCache blocks, or when empty, it moves half a cache's
// worth to or from one process-wide list under a mutex, which it only
// tries (busy: the system allocator instead), so no thread ever waits
// here, not even a forked child whose parent's worker held it. A block freed on
// another thread joins that thread's cache. The shared list keeps up to
// kSharedMax blocks and returns the rest to the system; a thread's cache
// goes back to the shared list when the thread exits.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace fastsync {

template <size_t Size, size_t Align>
class FreeList {
 public:
  static void* get() {
    Cache& c = cache();
    if (c.n == 0 && !c.dead) refill(c);
    if (c.n > 0) return c.items[--c.n];
    return ::operator new(Size, std::align_val_t(Align));
  }
  static void put(void* p) {
    Cache& c = cache();
    if (c.dead) {  // during this thread's exit, after its cache was spilled
      give({&p, 1});
      return;
    }
    if (c.n == kCache) {
      // The older half goes: the blocks freed last stay warm here.
      give({c.items, kCache / 2});
      std::memmove(c.items, c.items + kCache / 2, sizeof(void*) * (kCache / 2));
      c.n = kCache / 2;
    }
    c.items[c.n++] = p;
  }

 private:
  static constexpr size_t kCache = 256;
  // Blocks past this many in the shared list go back to the system: a huge
  // graph, once dropped, does not pin its peak for the rest of the process.
  static constexpr size_t kSharedMax = size_t(1) << 16;

  struct Shared {
    std::mutex mutex;
    std::vector<void*> items;
  };
  static Shared& shared() {
    static Shared* s = new Shared();  // never destroyed: threads free at exit
    return *s;
  }

  // Trivially destructible, so it stays usable by destructors that run
  // after its spill at thread exit (then `dead` sends blocks to the shared
  // list).
  struct Cache {
    void* items[kCache];
    size_t n;
    bool dead;
  };
  struct Spill {
    ~Spill() {
      Cache& c = tls;
      give({c.items, c.n});
      c.n = 0;
      c.dead = true;
    }
  };
  static inline thread_local Cache tls{};

  static Cache& cache() {
    static thread_local Spill at_exit;  // registers the spill for this thread
    (void)at_exit;
    return tls;
  }
  // Takes up to half a cache from the shared list. Never waits for the
  // list's lock: a busy list (or one a fork() left locked in the child)
  // means a block from the system instead.
  static void refill(Cache& c) {
    Shared& s = shared();
    std::unique_lock lk(s.mutex, std::try_to_lock);
    if (!lk) return;
    while (c.n < kCache / 2 && !s.items.empty()) {
      c.items[c.n++] = s.items.back();
      s.items.pop_back();
    }
  }
  struct Span {
    void* const* p;
    size_t n;
  };
  // Hands blocks to the shared list; to the system when its lock is busy
  // (as refill, never waits) or the list is full.
  static void give(Span blocks) {
    Shared& s = shared();
    std::unique_lock lk(s.mutex, std::try_to_lock);
    for (size_t i = 0; i < blocks.n; ++i) {
      if (lk && s.items.size() < kSharedMax) {
        s.items.push_back(blocks.p[i]);
      } else {
        ::operator delete(blocks.p[i], std::align_val_t(Align));
      }
    }
  }
};

template <typename T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) {
    if (n != 1) return std::allocator<T>().allocate(n);
    return static_cast<T*>(FreeList<sizeof(T), alignof(T)>::get());
  }
  void deallocate(T* p, size_t n) {
    if (n != 1) return std::allocator<T>().deallocate(p, n);
    FreeList<sizeof(T), alignof(T)>::put(p);
  }
  template <typename U>
  bool operator==(const PoolAllocator<U>&) const {
    return true;
  }
};

// std::make_shared<T> with the object and its count in one pooled block.
template <typename T, typename... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(PoolAllocator<T>{}, std::forward<Args>(args)...);
}

}  // namespace fastsync
