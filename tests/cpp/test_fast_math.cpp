#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "backend/cpu/fast_math.h"

TEST_CASE("fast_expf: within a few ulp of std::exp, exact at the edges") {
  float worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.001953125f) {
    float want = std::exp(x), got = fastsync::cpu::fast_expf(x);
    worst = std::max(worst, std::fabs(got - want) / want);
  }
  MESSAGE("worst relative error " << worst);
  CHECK(worst < 1e-6f);
  CHECK(fastsync::cpu::fast_expf(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(fastsync::cpu::fast_expf(-100.0f) == 0.0f);
  CHECK(std::isinf(fastsync::cpu::fast_expf(100.0f)));
  CHECK(std::isnan(fastsync::cpu::fast_expf(std::nanf(""))));
  CHECK(fastsync::cpu::fast_expf(0.0f) == 1.0f);
}
