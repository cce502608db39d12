#include <doctest/doctest.h>

#include "primitives/random.h"

using namespace fastsync;

// Known-answer vectors of threefry-2x32 with 20 rounds (Random123's kat file).
TEST_CASE("random: threefry2x32 matches the published known answers") {
  uint32_t a, b;
  threefry2x32(0, 0, 0, 0, a, b);
  CHECK(a == 0x6b200159u);
  CHECK(b == 0x99ba4efeu);
  threefry2x32(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, a, b);
  CHECK(a == 0x1cb996fcu);
  CHECK(b == 0xbb002be7u);
  threefry2x32(0x13198a2eu, 0x03707344u, 0x243f6a88u, 0x85a308d3u, a, b);
  CHECK(a == 0xc4923a9cu);
  CHECK(b == 0x483df7a0u);
}
