#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "ops/ops.h"
#include "scheduler.h"
#include "transforms.h"

using namespace fastsync;

TEST_CASE("scheduler: outstanding tasks are counted until they finish") {
  Stream s = new_stream(cpu_device);
  std::atomic<bool> gate{false};
  int before = scheduler::outstanding();
  for (int i = 0; i < 10; ++i) {
    scheduler::enqueue(s, [&gate] {
      while (!gate.load()) std::this_thread::yield();
    });
  }
  CHECK(scheduler::outstanding() == before + 10);
  gate = true;
  scheduler::wait_outstanding_at_most(before);
  CHECK(scheduler::outstanding() <= before);
}

TEST_CASE("scheduler: the driver caps outstanding tasks") {
  Stream s = new_stream(cpu_device);
  std::atomic<bool> gate{false};
  scheduler::enqueue(s, [&gate] {
    while (!gate.load()) std::this_thread::yield();
  });
  int cap = scheduler::max_outstanding();
  array x = ones({4}, float32, s);
  for (int i = 0; i < 3 * cap; ++i) x = add(x, x, s);
  std::atomic<bool> done{false};
  std::thread t([&] {
    eval({x});
    done = true;
  });
  // Encoding stalls at the cap while the first task blocks the stream.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(done.load());
  CHECK(scheduler::outstanding() <= cap + 2);
  gate = true;
  t.join();
  CHECK(done.load());
}

TEST_CASE("scheduler: a failing task poisons only the work after it, until a signal") {
  Stream s = new_stream(cpu_device);
  std::atomic<int> ran{0};
  scheduler::enqueue(s, [] { throw std::runtime_error("boom"); });
  scheduler::enqueue(s, [&ran] { ran++; });  // skipped: the stream has an error
  Event e(s);
  e.signal();
  CHECK_THROWS_WITH_AS(e.wait(), "boom", std::runtime_error);
  scheduler::enqueue(s, [&ran] { ran += 10; });
  synchronize(s);
  CHECK(ran.load() == 10);
}
