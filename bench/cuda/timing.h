// What the standalone CUDA microbenchmarks of bench/cuda share: a check that
// exits on the first failing call, and the median host time of a call.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#define CK(x)                                                            \
  do {                                                                   \
    auto e_ = (x);                                                       \
    if (e_ != 0) {                                                       \
      std::printf("%s failed (%d) at line %d\n", #x, int(e_), __LINE__); \
      std::exit(1);                                                      \
    }                                                                    \
  } while (0)

using clk = std::chrono::steady_clock;

// Median of n timed calls of f (µs); `after` runs untimed after each.
inline double median_us(int n, const std::function<void()>& f,
                        const std::function<void()>& after = {}) {
  std::vector<double> t(n);
  for (int i = 0; i < n; ++i) {
    auto a = clk::now();
    f();
    t[i] = std::chrono::duration<double, std::micro>(clk::now() - a).count();
    if (after) after();
  }
  std::sort(t.begin(), t.end());
  return t[n / 2];
}
