#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "backend/cpu/parallel.h"

using namespace fastsync;

TEST_CASE("parallel_for: chunks cover the range exactly once") {
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(1000), cpu::kParallelGrain * 7 + 3}) {
    std::vector<std::atomic<int>> hits(n);
    cpu::parallel_for(n, 1000, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    bool once = true;
    for (auto& h : hits) once &= h.load() == 1;
    CHECK(once);
  }
}

TEST_CASE("parallel_for: concurrent callers share the pool and an error reaches its caller") {
  std::vector<std::thread> callers;
  std::atomic<int64_t> total{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int rep = 0; rep < 20; ++rep) {
        cpu::parallel_for(100000, 1000, [&](int64_t b, int64_t e) { total += e - b; });
      }
    });
  }
  for (auto& c : callers) c.join();
  CHECK(total.load() == 4 * 20 * 100000);
  CHECK_THROWS_WITH_AS(cpu::parallel_for(100000, 1000,
                                         [](int64_t b, int64_t) {
                                           if (b > 0) throw std::runtime_error("chunk failed");
                                         }),
                       "chunk failed", std::runtime_error);
}
