// Concurrency stress for the eval driver: many threads, many streams, async
// evals, cross-stream graphs and failing tasks at once. Meant to run clean
// under ThreadSanitizer and AddressSanitizer builds too.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ops/ops.h"
#include "testing/testing.h"
#include "transforms.h"

using namespace fastsync;

namespace {
float first(array a) {
  a.eval();
  return *static_cast<const float*>(a.raw_ptr());
}
}  // namespace

TEST_CASE("stress: threads x streams x async_eval with random cross-stream graphs") {
  std::vector<Stream> shared;
  for (int i = 0; i < 4; ++i) shared.push_back(new_stream(cpu_device));
  std::atomic<int> failures{0};
  auto work = [&](int tid) {
    std::mt19937 rng(tid);
    Stream own = new_stream(cpu_device);
    for (int round = 0; round < 40; ++round) {
      std::vector<array> vals{full({8}, scalar(1.0), float32, own)};
      std::vector<float> ref{1.0f};
      for (int k = 0; k < 30; ++k) {
        Stream s = rng() % 3 ? shared[rng() % shared.size()] : own;
        size_t i = rng() % vals.size(), j = rng() % vals.size();
        if (rng() % 2) {
          vals.push_back(add(vals[i], vals[j], s));
          ref.push_back(ref[i] + ref[j]);
        } else {
          vals.push_back(multiply(vals[i], scalar(0.5), s));
          ref.push_back(ref[i] * 0.5f);
        }
        // Keep magnitudes bounded so float comparisons stay exact enough.
        if (ref.back() > 1e6f) {
          vals.back() = multiply(vals.back(), scalar(0.0), s);
          ref.back() = 0.0f;
        }
      }
      if (round % 3 == 0) {
        async_eval({vals.back(), vals[vals.size() / 2]});
      } else if (round % 3 == 1) {
        eval({vals.back()});
      }
      for (size_t k = vals.size() - 5; k < vals.size(); ++k) {
        if (first(vals[k]) != doctest::Approx(ref[k]).epsilon(1e-4)) failures++;
      }
      if (round % 10 == 5) {
        // A failing task on a shared stream must not disturb the others.
        array bad = add(fail_in_task(vals[0], "stress failure", shared[tid % shared.size()]),
                        scalar(1.0), own);
        try {
          eval({bad});
          failures++;
        } catch (const std::runtime_error&) {
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back(work, t);
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  synchronize();
}

TEST_CASE("stress: dropped async outputs and a tiny memory limit") {
  auto& alloc = allocator::host();
  size_t old = alloc.set_memory_limit(1);
  Stream s1 = new_stream(cpu_device), s2 = new_stream(cpu_device);
  for (int i = 0; i < 200; ++i) {
    array x = zeros({256}, float32, s1);
    for (int k = 0; k < 10; ++k) x = add(x, scalar(1.0), k % 2 ? s1 : s2);
    async_eval({x});
  }
  alloc.set_memory_limit(old);
  synchronize();
  array y = add(zeros({4}, float32, s1), scalar(2.0), s2);
  CHECK(first(y) == 2.0f);
}
