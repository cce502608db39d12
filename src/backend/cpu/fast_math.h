// exp for float32 written as plain arithmetic, so loops over it vectorize
// (libm's expf is an opaque call per element). Range reduction to
// r in [-ln2/2, ln2/2], a degree-6 polynomial, and 2^n built in the exponent
// bits: about 2 ulp, exact 0 below -87.3 (so exp(-inf) is 0) and +inf above
// 88.7. NaN stays NaN.
#pragma once

#include <cstdint>
#include <cstring>

namespace fastsync::cpu {

inline float fast_expf(float x) {
  const float hi = 88.72f, lo = -87.3f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  float n = __builtin_rintf(xc * 1.44269504088896341f);  // rint vectorizes; roundf is a call
  float r = xc - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  float y = p * scale;
  y = x < lo ? 0.0f : y;
  y = x > hi ? __builtin_inff() : y;
  return x != x ? x : y;
}

}  // namespace fastsync::cpu
