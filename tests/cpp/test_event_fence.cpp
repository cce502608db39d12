#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "event.h"
#include "fence.h"
#include "scheduler.h"
#include "transforms.h"

using namespace fastsync;
using namespace std::chrono_literals;

TEST_CASE("event: host wait sees a signal from the stream") {
  Stream s = new_stream(cpu_device);
  std::atomic<int> value{0};
  Event e(s);
  scheduler::enqueue(s, [&value] {
    std::this_thread::sleep_for(20ms);
    value = 42;
  });
  e.signal();
  CHECK_FALSE(e.is_signaled());
  e.wait();
  CHECK(e.is_signaled());
  CHECK(value.load() == 42);
}

TEST_CASE("event: waits from several threads and from another stream") {
  Stream s1 = new_stream(cpu_device), s2 = new_stream(cpu_device);
  Event e(s1);
  std::atomic<int> produced{0}, seen{-1};
  scheduler::enqueue(s1, [&] {
    std::this_thread::sleep_for(10ms);
    produced = 7;
  });
  e.signal();
  e.wait(s2, 0);
  scheduler::enqueue(s2, [&] { seen = produced.load(); });
  std::vector<std::thread> waiters;
  std::atomic<int> woke{0};
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      e.wait();
      woke++;
    });
  }
  for (auto& t : waiters) t.join();
  CHECK(woke.load() == 4);
  synchronize(s2);
  CHECK(seen.load() == 7);
}

TEST_CASE("event: carries a task's error to waiters and to consuming streams") {
  Stream s1 = new_stream(cpu_device), s2 = new_stream(cpu_device);
  scheduler::enqueue(s1, [] { throw std::runtime_error("task failed"); });
  Event e(s1);
  e.signal();
  e.wait(s2, UINT64_MAX);  // a position the error spoiled
  std::atomic<bool> ran{false};
  scheduler::enqueue(s2, [&] { ran = true; });
  CHECK_THROWS_WITH_AS(e.wait(), "task failed", std::runtime_error);
  CHECK_THROWS_WITH_AS(synchronize(s2), "task failed", std::runtime_error);
  CHECK_FALSE(ran.load());
  synchronize(s1);  // the error was handed over: the stream is clean again
  synchronize(s2);
}

namespace {
// Rounds of a producer task that takes `step` longer each round, a fence,
// and a consumer task that reads what the producer wrote.
void check_fence_orders(Stream producer, Stream consumer, int rounds,
                        std::chrono::microseconds step) {
  for (int round = 0; round < rounds; ++round) {
    Fence f(producer);
    std::atomic<int> value{0}, seen{-1};
    scheduler::enqueue(producer, [&] {
      std::this_thread::sleep_for(step * round);
      value = round + 1;
    });
    f.update();
    f.wait(consumer);
    scheduler::enqueue(consumer, [&] { seen = value.load(); });
    synchronize(consumer);
    CHECK(seen.load() == round + 1);
  }
}
}  // namespace

TEST_CASE("fence: orders a consumer stream after a producer stream") {
  check_fence_orders(new_stream(cpu_device), new_stream(cpu_device), 50, 20us);
}

TEST_CASE("fence: an error on the producer poisons the consumer") {
  Stream s1 = new_stream(cpu_device), s2 = new_stream(cpu_device);
  Fence f(s1);
  scheduler::enqueue(s1, [] { throw std::runtime_error("producer failed"); });
  f.update();
  f.wait(s2);
  CHECK_THROWS_WITH_AS(synchronize(s2), "producer failed", std::runtime_error);
  CHECK_THROWS_WITH_AS(synchronize(s1), "producer failed", std::runtime_error);
}

namespace {
// A task on `s` that holds the stream until `go` is set, then runs `then`:
// what is encoded meanwhile is encoded before the task has run.
void hold(Stream s, std::atomic<bool>& go, std::function<void()> then = [] {}) {
  scheduler::enqueue(s, [&go, then = std::move(then)] {
    while (!go.load()) std::this_thread::sleep_for(100us);
    then();
  });
}
}  // namespace

TEST_CASE("fence: between CPU streams, a producer failing after the update poisons the consumer") {
  // A fresh producer, never poisoned and with no wait pending: the fence is
  // a position on it. The error reaches the consumer all the same, and the
  // consumer's work after the wait is skipped.
  Stream s1 = new_stream(cpu_device), s2 = new_stream(cpu_device);
  std::atomic<bool> go{false}, ran{false};
  hold(s1, go, [] { throw std::runtime_error("producer failed later"); });
  Fence f(s1);
  f.update();
  f.wait(s2);
  scheduler::enqueue(s2, [&] { ran = true; });
  go = true;
  CHECK_THROWS_WITH_AS(synchronize(s2), "producer failed later", std::runtime_error);
  CHECK_FALSE(ran.load());
  CHECK_THROWS_WITH_AS(synchronize(s1), "producer failed later", std::runtime_error);
  // Both clean again; later fences from the once-poisoned producer (marks
  // now) order work as before.
  check_fence_orders(s1, s2, 3, 1ms);
}

TEST_CASE("fence: a position sees the producer's error as it was right after the fenced task") {
  // The producer's task fails and an event lifts the error after it.
  // `before` is updated before the event is placed (the error was live for
  // it), `after` after it (lifted): each consumer gets what a mark at that
  // point would have carried, whether the event is folded into the failing
  // task or is a task of its own. Pushed quietly: nothing runs until the
  // scope ends, so the event can fold.
  for (bool event_folded : {true, false}) {
    CAPTURE(event_folded);
    Stream p = new_stream(cpu_device), c1 = new_stream(cpu_device), c2 = new_stream(cpu_device);
    std::atomic<bool> c1_ran{false}, c2_ran{false};
    std::optional<Event> e;
    {
      scheduler::QuietPushes quiet;
      scheduler::enqueue(p, [] { throw std::runtime_error("lifted by the event"); });
      Fence before(p), after(p);
      before.update();
      if (!event_folded) scheduler::enqueue_control(p, [] {});
      e.emplace(p);
      e->signal();
      after.update();
      before.wait(c1);
      after.wait(c2);
      scheduler::enqueue(c1, [&] { c1_ran = true; });
      scheduler::enqueue(c2, [&] { c2_ran = true; });
    }
    CHECK_THROWS_WITH_AS(e->wait(), "lifted by the event", std::runtime_error);
    CHECK_THROWS_WITH_AS(synchronize(c1), "lifted by the event", std::runtime_error);
    CHECK_FALSE(c1_ran.load());
    synchronize(c2);
    CHECK(c2_ran.load());
    synchronize(p);
  }
}

TEST_CASE("fence: positions between many CPU streams from several threads lose no wake-up") {
  // Each thread: chains of tasks hopping over four streams, each ordered
  // after the previous one by a fence (a position), under one encoding
  // lock; every task runs once, in chain order.
  std::vector<Stream> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(new_stream(cpu_device));
  std::mutex encoding;
  std::atomic<int> failures{0};
  auto chains = [&](int tid) {
    for (int round = 0; round < 40; ++round) {
      constexpr int kHops = 50;
      std::atomic<int> step{0};
      std::atomic<bool> out_of_order{false};
      std::optional<Event> last;
      {
        std::lock_guard lk(encoding);
        std::optional<Fence> prev;
        for (int i = 0; i < kHops; ++i) {
          Stream s = streams[(tid + i * 3) % streams.size()];
          if (prev && prev->stream() != s) prev->wait(s);
          scheduler::enqueue(s, [&, i] {
            if (step.fetch_add(1) != i) out_of_order = true;
          });
          if (!prev || prev->stream() != s) prev.emplace(s);
          prev->update();
        }
        last.emplace(prev->stream());
        last->signal();
      }
      last->wait();
      if (step.load() != kHops || out_of_order.load()) ++failures;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back(chains, t);
  for (auto& t : threads) t.join();
  for (auto& s : streams) synchronize(s);
  CHECK(failures.load() == 0);
}
