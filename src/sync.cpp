#include "sync.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define FASTSYNC_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define FASTSYNC_PAUSE() asm volatile("yield")
#else
#define FASTSYNC_PAUSE()
#endif

namespace fastsync::sync {

int64_t spin_ns() {
  static const int64_t ns = [] {
    const char* e = std::getenv("FASTSYNC_SPIN_NS");
    return e ? std::atoll(e) : int64_t(50000);
  }();
  return ns;
}

template <typename Done>
void Counter::block(Done done) const {
  if (done()) return;
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto yield_from = start + std::chrono::nanoseconds(std::min<int64_t>(spin_ns(), 3000));
  auto deadline = start + std::chrono::nanoseconds(spin_ns());
  for (int i = 1;; ++i) {
    FASTSYNC_PAUSE();
    if (done()) return;
    if ((i & 63) == 0) {
      auto now = clock::now();
      if (now > deadline) break;
      // Past a few microseconds, spin by yielding: with more runnable
      // threads than cores (2-core machines: the encoding thread and two
      // stream workers), a pure spin would steal the core the thread we
      // wait for needs.
      if (now > yield_from) std::this_thread::yield();
    }
  }
  // seq_cst on both sides (here and in wake) means either the advancer sees
  // our sleeper count or we see its new value: no lost wake-up.
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  for (;;) {
    uint32_t cur = value_.load(std::memory_order_seq_cst);
    if (done()) break;
    value_.wait(cur, std::memory_order_seq_cst);
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
}

void SpinMutex::pause() { FASTSYNC_PAUSE(); }
void SpinMutex::yield() { std::this_thread::yield(); }

void Counter::wake() {
  if (sleepers_.load(std::memory_order_seq_cst) > 0) value_.notify_all();
}

void Counter::advance_to(uint32_t v) {
  uint32_t cur = value_.load(std::memory_order_relaxed);
  while (cur < v && !value_.compare_exchange_weak(cur, v, std::memory_order_seq_cst)) {
  }
  wake();
}

uint32_t Counter::increment() {
  uint32_t v = value_.fetch_add(1, std::memory_order_seq_cst) + 1;
  wake();
  return v;
}

void Counter::wait_for(uint32_t v) const {
  block([&] { return value_.load(std::memory_order_acquire) >= v; });
}

void Counter::wait_change(uint32_t seen) const {
  block([&] { return value_.load(std::memory_order_acquire) != seen; });
}

}  // namespace fastsync::sync
