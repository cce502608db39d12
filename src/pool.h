// A free-list allocator for small objects created on one thread and
// destroyed on another (buffer owners: made by the encoding thread, often
// released by a stream worker). Recycling them here keeps those frees off
// the C allocator, whose arena lock the two threads would otherwise contend.
//
// Thread-safe: one mutex per object size; blocks are never returned to the
// system (the list only grows to the peak number alive).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace fastsync {

template <size_t Size, size_t Align>
class FreeList {
 public:
  static void* get() {
    auto& s = state();
    {
      std::lock_guard lk(s.mutex);
      if (!s.items.empty()) {
        void* p = s.items.back();
        s.items.pop_back();
        return p;
      }
    }
    return ::operator new(Size, std::align_val_t(Align));
  }
  static void put(void* p) {
    auto& s = state();
    std::lock_guard lk(s.mutex);
    s.items.push_back(p);
  }

 private:
  struct State {
    std::mutex mutex;
    std::vector<void*> items;
  };
  static State& state() {
    static State* s = new State();  // never destroyed: workers free at exit
    return *s;
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
  bool operator==(const PoolAllocator<U>&) const { return true; }
};

}  // namespace fastsync
