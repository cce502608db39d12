#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

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

TEST_CASE("fence: orders a consumer stream after a producer stream") {
  Stream s1 = new_stream(cpu_device), s2 = new_stream(cpu_device);
  for (int round = 0; round < 50; ++round) {
    Fence f(s1);
    std::atomic<int> value{0}, seen{-1};
    scheduler::enqueue(s1, [&] {
      std::this_thread::sleep_for(std::chrono::microseconds(round * 20));
      value = round + 1;
    });
    f.update();
    f.wait(s2);
    scheduler::enqueue(s2, [&] { seen = value.load(); });
    synchronize(s2);
    CHECK(seen.load() == round + 1);
  }
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
