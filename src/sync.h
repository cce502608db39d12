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

// Own cache line: waiters spin reading it, and nothing else should bounce
// with it.
class alignas(64) Counter {
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

}  // namespace fastsync::sync
