// exp for float32 written as plain arithmetic, so loops over it vectorize
// (libm's expf is an opaque call per element). Range reduction to
// r in [-ln2/2, ln2/2], a degree-6 polynomial, and 2^n built in the exponent
// bits: about 2 ulp, exact 0 below -87.3 (so exp(-inf) is 0) and +inf above
// 88.7. NaN stays NaN.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backend/common/elementwise.h"

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

// exp(r) for |r| <= ln2/2 as a degree-7 Taylor polynomial, in T's steps.
template <typename T>
inline T exp_taylor7(T r) {
  T p = T(1) / T(5040);
  p = p * r + T(1) / T(720);
  p = p * r + T(1) / T(120);
  p = p * r + T(1) / T(24);
  p = p * r + T(1) / T(6);
  p = p * r + T(0.5);
  p = p * r + T(1);
  return p * r + T(1);
}

// exp for float32 as plain arithmetic again, but as accurate as libm's for
// what users see of exp itself: a degree-7 polynomial (truncation 5e-9
// relative) and 2^n applied as two normal factors, so results in the
// subnormal range round once instead of flushing to 0. Exhaustive check
// over every 7th float in [-105, 90] against double exp: at most 0.93 ulp,
// 0 below -103.97208 and +inf above log(FLT_MAX), NaN stays NaN. Vectorizes
// where libm's expf is a call per element (4096x4096: 20 ms with libm).
// That bound needs the polynomial's steps fused (FMA): a build for any
// x86-64 (FASTSYNC_NATIVE=OFF, or not a Release build) rounds each step and
// reached 1.2 ulp, so it evaluates in double instead (0.58 ulp, one rounding
// at the end, subnormals included; no slower there, where neither loop
// vectorizes).
inline float accurate_expf(float x) {
  const float hi = 88.72283935546875f, lo = -103.97208f;
#if defined(__FMA__) || defined(__aarch64__)
  float xc = x > hi ? hi : (x < lo ? lo : x);
  float n = __builtin_rintf(xc * 1.44269504088896341f);
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  float p = exp_taylor7(r);
  int32_t ni = static_cast<int32_t>(n);
  int32_t n1 = ni >> 1, n2 = ni - n1;  // each in [-75, 64]: normal exponents
  int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, sizeof(s1));
  std::memcpy(&s2, &b2, sizeof(s2));
  float y = p * s1 * s2;
#else
  double xc = x > hi ? hi : (x < lo ? lo : x);
  double n = __builtin_rint(xc * 1.4426950408889634);
  double p = exp_taylor7(xc - n * 0.6931471805599453);
  int64_t bits = (static_cast<int64_t>(n) + 1023) << 52;  // 2^n, normal in double
  double s;
  std::memcpy(&s, &bits, sizeof(s));
  float y = static_cast<float>(p * s);
#endif
  y = x < lo ? 0.0f : y;
  y = x > hi ? __builtin_inff() : y;
  return x != x ? x : y;
}

// The CPU's unary ops: UnaryFn's, except float32 exp, sigmoid and silu,
// which go through the exps above so that their loops vectorize (libm's
// expf is a call per element: a sigmoid over a training step's MLP
// activations took 2 ms). Where fast_expf flushes to 0 (below -87.3)
// 1 / (1 + e) is 1.0f either way; exp itself keeps its subnormal results
// (a log-sum-exp of very negative values). Used by the unary kernel and by
// compile's fused chains alike, so both paths agree.
template <UnaryOp op>
struct UnaryFn {
  template <typename C>
  auto operator()(C x) const {
    if constexpr (std::is_same_v<C, float> && op == UnaryOp::exp) {
      return accurate_expf(x);
    } else if constexpr (std::is_same_v<C, float> && op == UnaryOp::sigmoid) {
      return 1.0f / (1.0f + fast_expf(-x));
    } else if constexpr (std::is_same_v<C, float> && op == UnaryOp::silu) {
      return x / (1.0f + fast_expf(-x));
    } else {
      return elementwise::UnaryFn<op>{}(x);
    }
  }
};

}  // namespace fastsync::cpu
