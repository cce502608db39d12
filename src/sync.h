// Spin-then-park waiting on a 32-bit counter: the building block of events,
// fences and the scheduler's queues.
//
// Any thread may wait and any thread may advance. A waiter spins for a short,
// bounded time (a hand-off between two busy threads then costs a few
// microseconds) and then parks on a futex (std::atomic::wait), so an idle
// wait burns no core. Advancing calls into the kernel only when someone is
// parked.
#pragma once

#include <atomic>
#include <cstdint>

namespace fastsync::sync {

// How long waiters spin before parking, in nanoseconds. Read once from
// FASTSYNC_SPIN_NS (default 50 µs).
int64_t spin_ns();

// Eight bytes. Where waiters spin on one that others write beside, declare
// it `alignas(64)` (its own cache line); a gate packs it with its lock
// instead (a chain hopping between streams makes a gate per op).
class Counter {
 public:
  uint32_t value() const { return value_.load(std::memory_order_acquire); }
  bool reached(uint32_t v) const { return value() >= v; }
  // Raises the value to v (never lowers it) and wakes parked waiters.
  void advance_to(uint32_t v);
  // Adds one and wakes parked waiters; returns the new value.
  uint32_t increment();
  // Blocks until value() >= v.
  void wait_for(uint32_t v) const;
  // Blocks until value() != seen.
  void wait_change(uint32_t seen) const;

 private:
  void wake();
  template <typename Done>
  void block(Done done) const;

  std::atomic<uint32_t> value_{0};
  mutable std::atomic<uint32_t> sleepers_{0};
};

// A mutex for critical sections of a few instructions (a queue push, a
// free-list lookup) shared by the encoding thread and stream workers: it
// spins, then yields, instead of parking on a futex. std::mutex, contended
// by two threads handing work back and forth, cost a futex wake and wait per
// hand-off (a fifth of a CPU round trip's profile). BasicLockable. One
// byte: declare it `alignas(64)` where it should not share a line.
class SpinMutex {
 public:
  void lock() {
    for (int i = 1; locked_.exchange(true, std::memory_order_acquire); ++i) {
      while (locked_.load(std::memory_order_relaxed)) {
        pause();
        // The holder may have been preempted (more threads than cores).
        if ((++i & 127) == 0) yield();
      }
    }
  }
  bool try_lock() { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  static void pause();
  static void yield();
  std::atomic<bool> locked_{false};
};

}  // namespace fastsync::sync
