#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
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

TEST_CASE("accurate_expf: within one ulp of the double exp, subnormal results included") {
  // Every 101st float from where exp underflows to where it overflows. The
  // build picks the path (fused steps in float, or double without FMA): this
  // binary is built without -march=native, so here the double one; the
  // Python tests check the library's own (native in a Release build).
  float worst = 0, at = 0;
  uint32_t lo_bits, hi_bits;
  float lo = -104.0f, hi = 88.7f;
  std::memcpy(&lo_bits, &lo, 4);  // negative floats: larger bits, smaller value
  std::memcpy(&hi_bits, &hi, 4);
  auto check = [&](float x) {
    double exact = std::exp(static_cast<double>(x));
    float want = static_cast<float>(exact);
    if (want == 0.0f || std::isinf(want)) return;
    double ulp = std::nextafter(want, std::numeric_limits<float>::infinity()) - double{want};
    float err = static_cast<float>(std::fabs(fastsync::cpu::accurate_expf(x) - exact) / ulp);
    if (err > worst) worst = err, at = x;
  };
  for (uint32_t b = 0x80000000u; b <= lo_bits; b += 101) check(std::bit_cast<float>(b));
  for (uint32_t b = 0; b <= hi_bits; b += 101) check(std::bit_cast<float>(b));
  MESSAGE("worst " << worst << " ulp at " << at);
  CHECK(worst <= 1.0f);
  CHECK(fastsync::cpu::accurate_expf(-87.5f) > 0.0f);  // subnormal, not flushed
  CHECK(fastsync::cpu::accurate_expf(-105.0f) == 0.0f);
  CHECK(std::isinf(fastsync::cpu::accurate_expf(89.0f)));
  CHECK(std::isnan(fastsync::cpu::accurate_expf(std::nanf(""))));
}
