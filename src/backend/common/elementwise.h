// The scalar semantics of the Binary, DivMod and Unary primitives, written
// once for both backends: per op, which compute types it supports and what
// it computes for one element. The CPU inlines these functors into its
// vectorized loops (backend/cpu/{binary,unary}.cpp), the GPU calls them per
// element in its kernels (backend/cuda/{binary,unary}.cu), so the two
// backends give identical results wherever the math is exact (all integer
// ops, comparisons, min/max, floor/ceil/round, divide, fmod, sqrt; a NaN
// result may carry other sign/payload bits) and differ only where the
// platforms' libm differ (exp, pow, atan2, ...).
//
// Functors take the compute type C of the stored type: the type itself,
// except that half types (float16, bfloat16) compute in float
// (compute_t<T>, dtype.h; CUDA's __half/__nv_bfloat16 map the same way in
// kernel_utils.cuh). Converting to C and back is the backend's business.
//
// Semantics (NumPy's, except where NumPy raises and a kernel cannot):
//   - integer arithmetic wraps (two's complement), computed in unsigned
//     types so there is no signed overflow on either side (undefined in
//     device code; the CPU also builds with -fwrapv);
//   - floor_divide / remainder floor (the remainder takes the divisor's
//     sign); integer division by zero gives 0, and x // -1 wraps for the
//     lowest value instead of trapping;
//   - an integer to a negative power is 0, whatever the base (MLX's rule;
//     NumPy raises, which a kernel cannot);
//   - shifts by a negative count or by at least the bit width give 0 (or
//     -1 for a right shift of a negative value);
//   - maximum / minimum propagate a NaN from either argument;
//   - round is half to even.
// complex64 (complex.h) computes in complex64_t: add, subtract, multiply,
// divide, power, equal, not_equal, and the unary ops NumPy defines for
// complex numbers (abs, real and imag give its float32 parts); the ordered
// ops (comparisons, maximum/minimum, floor/ceil, remainder, ...) are not
// supported, and the ops layer rejects them before a kernel is asked.
#pragma once

#include <math.h>

#include <cstdint>
#include <type_traits>

#include "backend/common/host_device.h"
#include "complex.h"
#include "primitives/elementwise_ops.h"

namespace fastsync::elementwise {

// ---------------------------------------------------------------------------
// Which compute types each op supports. The ops layer only sends these;
// a backend asked for another pair raises rather than instantiate it.

template <BinaryOp op, typename C>
constexpr bool binary_supports() {
  if constexpr (is_complex_v<C>) {
    switch (op) {
      case BinaryOp::add:
      case BinaryOp::subtract:
      case BinaryOp::multiply:
      case BinaryOp::divide:
      case BinaryOp::power:
      case BinaryOp::equal:
      case BinaryOp::not_equal: return true;
      default: return false;
    }
  }
  constexpr bool is_bool = std::is_same_v<C, bool>;
  constexpr bool is_int = std::is_integral_v<C> && !is_bool;
  switch (op) {
    case BinaryOp::subtract:
    case BinaryOp::floor_divide:
    case BinaryOp::remainder:
    case BinaryOp::power: return !is_bool;
    case BinaryOp::divide:
    case BinaryOp::arctan2: return std::is_floating_point_v<C>;
    case BinaryOp::logical_and:
    case BinaryOp::logical_or: return is_bool;
    case BinaryOp::bitwise_and:
    case BinaryOp::bitwise_or:
    case BinaryOp::bitwise_xor: return is_int || is_bool;
    case BinaryOp::left_shift:
    case BinaryOp::right_shift: return is_int;
    default: return true;
  }
}

// Comparisons output bool, every other op its compute type.
template <BinaryOp op, typename C>
using binary_result_t = std::conditional_t<is_comparison(op), bool, C>;

template <UnaryOp op, typename C>
constexpr bool unary_supports() {
  if constexpr (is_complex_v<C>) {
    switch (op) {
      case UnaryOp::expm1:
      case UnaryOp::sigmoid:
      case UnaryOp::silu:
      case UnaryOp::erf:
      case UnaryOp::erfinv:
      case UnaryOp::floor:
      case UnaryOp::ceil:
      case UnaryOp::logical_not:
      case UnaryOp::bitwise_invert: return false;
      default: return true;
    }
  }
  switch (op) {
    case UnaryOp::real:
    case UnaryOp::imag:
    case UnaryOp::conj: return false;  // complex only (the ops layer handles real inputs)
    case UnaryOp::negative:
    case UnaryOp::abs:
    case UnaryOp::sign:
    case UnaryOp::square:
    case UnaryOp::floor:
    case UnaryOp::ceil:
    case UnaryOp::round: return !std::is_same_v<C, bool>;
    case UnaryOp::logical_not: return std::is_same_v<C, bool>;
    case UnaryOp::bitwise_invert: return std::is_integral_v<C>;
    default: return std::is_floating_point_v<C>;  // transcendental: the ops layer sends floats
  }
}

// The output of a unary op on compute type C: C, except that abs, real and
// imag of a complex value are float.
template <UnaryOp op, typename C>
using unary_result_t =
    std::conditional_t<is_complex_v<C> &&
                           (op == UnaryOp::abs || op == UnaryOp::real || op == UnaryOp::imag),
                       float, C>;

// ---------------------------------------------------------------------------
// Scalar helpers.

namespace math {
// The float and double flavours of a C math function, picked by overload so
// float math never goes through double. The C names, not std::: those are
// host-only in device code, and ::floorf and friends exist on both sides
// (on the host they are the same builtins std::floor(float) calls, so CPU
// loops vectorize as before).
#define FASTSYNC_MATH1(name)                                      \
  FASTSYNC_HD inline float name(float x) { return ::name##f(x); } \
  FASTSYNC_HD inline double name(double x) { return ::name(x); }
#define FASTSYNC_MATH2(name)                                                  \
  FASTSYNC_HD inline float name(float a, float b) { return ::name##f(a, b); } \
  FASTSYNC_HD inline double name(double a, double b) { return ::name(a, b); }
FASTSYNC_MATH1(floor)
FASTSYNC_MATH1(ceil)
FASTSYNC_MATH1(nearbyint)
FASTSYNC_MATH1(exp)
FASTSYNC_MATH1(expm1)
FASTSYNC_MATH1(log)
FASTSYNC_MATH1(log1p)
FASTSYNC_MATH1(log2)
FASTSYNC_MATH1(sqrt)
FASTSYNC_MATH1(sin)
FASTSYNC_MATH1(cos)
FASTSYNC_MATH1(tanh)
FASTSYNC_MATH1(erf)
FASTSYNC_MATH1(tan)
FASTSYNC_MATH1(asin)
FASTSYNC_MATH1(acos)
FASTSYNC_MATH1(atan)
FASTSYNC_MATH1(sinh)
FASTSYNC_MATH1(cosh)
FASTSYNC_MATH1(asinh)
FASTSYNC_MATH1(acosh)
FASTSYNC_MATH1(atanh)
FASTSYNC_MATH1(log10)
FASTSYNC_MATH2(fmod)
FASTSYNC_MATH2(pow)
FASTSYNC_MATH2(atan2)
#undef FASTSYNC_MATH1
#undef FASTSYNC_MATH2

// The inverse error function. CUDA has it; C's libm does not, so the host
// starts from Giles' single-precision approximation ("Approximating the
// erfinv function", GPU Computing Gems, 2011) and polishes it with Newton
// steps on erf, which bring it to the type's precision.
template <typename C>
FASTSYNC_HD inline C erfinv(C y) {
#ifdef __CUDA_ARCH__
  if constexpr (std::is_same_v<C, float>)
    return ::erfinvf(y);
  else
    return ::erfinv(y);
#else
  if (!(y > C(-1) && y < C(1))) {
    if (y == C(1)) return C(INFINITY);
    if (y == C(-1)) return C(-INFINITY);
    return C(NAN);
  }
  float yf = static_cast<float>(y);
  float w = -::logf((1.0f - yf) * (1.0f + yf));
  float p;
  if (w < 5.0f) {
    w -= 2.5f;
    p = 2.81022636e-08f;
    p = 3.43273939e-07f + p * w;
    p = -3.5233877e-06f + p * w;
    p = -4.39150654e-06f + p * w;
    p = 0.00021858087f + p * w;
    p = -0.00125372503f + p * w;
    p = -0.00417768164f + p * w;
    p = 0.246640727f + p * w;
    p = 1.50140941f + p * w;
  } else {
    w = ::sqrtf(w) - 3.0f;
    p = -0.000200214257f;
    p = 0.000100950558f + p * w;
    p = 0.00134934322f + p * w;
    p = -0.00367342844f + p * w;
    p = 0.00573950773f + p * w;
    p = -0.0076224613f + p * w;
    p = 0.00943887047f + p * w;
    p = 1.00167406f + p * w;
    p = 2.83297682f + p * w;
  }
  C x = static_cast<C>(p * yf);
  // d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
  constexpr int steps = std::is_same_v<C, float> ? 1 : 2;
  for (int i = 0; i < steps; ++i) {
    C err = math::erf(x) - y;
    x -= err / (C(1.1283791670955126) * math::exp(-x * x));
  }
  return x;
#endif
}
}  // namespace math

// Integer arithmetic in an unsigned type of at least int's width: wraps
// with no signed overflow on the way, which small types would otherwise
// hit after promotion to int (uint16 * uint16). Integer types only (not
// bool). The CPU compiler narrows these back to the element width when it
// vectorizes, as it did for the plain `C(a * b)`.
template <typename C>
using wrap_t = std::conditional_t<(sizeof(C) < 4), uint32_t, std::make_unsigned_t<C>>;
template <typename C>
FASTSYNC_HD inline C wrap_add(C a, C b) {
  return C(wrap_t<C>(a) + wrap_t<C>(b));
}
template <typename C>
FASTSYNC_HD inline C wrap_sub(C a, C b) {
  return C(wrap_t<C>(a) - wrap_t<C>(b));
}
template <typename C>
FASTSYNC_HD inline C wrap_mul(C a, C b) {
  return C(wrap_t<C>(a) * wrap_t<C>(b));
}

// NumPy's floor division (not bool: the dtype table excludes it).
template <typename C>
FASTSYNC_HD inline C floor_div(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    return math::floor(a / b);
  } else {
    // NumPy gives 0 for division by zero; lowest // -1 overflows, so -1 takes
    // the wrapping negation and never reaches the divide.
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<C>) {
      if (b == C(-1)) return wrap_sub(C(0), a);
      C q = a / b;
      return (a % b != 0 && ((a < 0) != (b < 0))) ? C(q - 1) : q;
    } else {
      return a / b;
    }
  }
}

// Python's remainder: the sign of the divisor (not bool, as floor_div).
template <typename C>
FASTSYNC_HD inline C py_mod(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    C r = math::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<C>) {
      if (b == C(-1)) return 0;  // lowest % -1 traps; the answer is 0 anyway
      C r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? C(r + b) : r;
    } else {
      return a % b;
    }
  }
}

template <typename C>
FASTSYNC_HD inline C int_power(C base, C exp) {
  if constexpr (std::is_signed_v<C>) {
    // A negative power gives 0 (MLX), 1 and -1 as bases included.
    if (exp < 0) return C(0);
  }
  C r = 1;
  while (exp) {
    if (exp & 1) r = wrap_mul(r, base);
    base = wrap_mul(base, base);
    exp = C(exp >> 1);
  }
  return r;
}

// Shifts defined for every count: C++ leaves counts < 0 or >= the width
// undefined (and x86 and the GPU disagree on them).
template <typename C>
FASTSYNC_HD inline C shift(C a, C b, bool left) {
  constexpr int bits = sizeof(C) * 8;
  if constexpr (std::is_signed_v<C>) {
    if (b < 0) return 0;
  }
  if (b >= bits) return left ? C(0) : (std::is_signed_v<C> && a < 0 ? C(-1) : C(0));
  if (left) return C(wrap_t<C>(a) << b);  // unsigned: shifting into the sign bit is defined
  return C(a >> b);
}

// ---------------------------------------------------------------------------
// The functors. Called only for (op, C) pairs binary_supports /
// unary_supports accept.

template <BinaryOp op>
struct BinaryFn {
  template <typename C>
  FASTSYNC_HD binary_result_t<op, C> operator()(C a, C b) const {
    if constexpr (is_complex_v<C>) {
      if constexpr (op == BinaryOp::add)
        return a + b;
      else if constexpr (op == BinaryOp::subtract)
        return a - b;
      else if constexpr (op == BinaryOp::multiply)
        return a * b;
      else if constexpr (op == BinaryOp::divide)
        return a / b;
      else if constexpr (op == BinaryOp::power)
        return cmath::pow(a, b);
      else if constexpr (op == BinaryOp::equal)
        return a == b;
      else {
        static_assert(op == BinaryOp::not_equal, "binary_supports excludes the other ops");
        return a != b;
      }
    } else {
      return real_op(a, b);
    }
  }

 private:
  template <typename C>
  FASTSYNC_HD binary_result_t<op, C> real_op(C a, C b) const {
    constexpr bool is_float = std::is_floating_point_v<C>;
    constexpr bool is_bool = std::is_same_v<C, bool>;
    if constexpr (op == BinaryOp::add) {
      if constexpr (is_bool)
        return a || b;
      else if constexpr (is_float)
        return a + b;
      else
        return wrap_add(a, b);
    } else if constexpr (op == BinaryOp::subtract) {
      if constexpr (is_float)
        return a - b;
      else
        return wrap_sub(a, b);
    } else if constexpr (op == BinaryOp::multiply) {
      if constexpr (is_bool)
        return a && b;
      else if constexpr (is_float)
        return a * b;
      else
        return wrap_mul(a, b);
    } else if constexpr (op == BinaryOp::divide) {
      return a / b;
    } else if constexpr (op == BinaryOp::floor_divide) {
      return floor_div(a, b);
    } else if constexpr (op == BinaryOp::remainder) {
      return py_mod(a, b);
    } else if constexpr (op == BinaryOp::power) {
      if constexpr (is_float)
        return math::pow(a, b);
      else
        return int_power(a, b);
    } else if constexpr (op == BinaryOp::maximum) {
      if constexpr (is_float)
        return hd::is_nan(a) ? a : (hd::is_nan(b) || a < b ? b : a);
      else
        return a < b ? b : a;
    } else if constexpr (op == BinaryOp::minimum) {
      if constexpr (is_float)
        return hd::is_nan(a) ? a : (hd::is_nan(b) || b < a ? b : a);
      else
        return b < a ? b : a;
    } else if constexpr (op == BinaryOp::arctan2) {
      return math::atan2(a, b);
    } else if constexpr (op == BinaryOp::logical_and) {
      return a && b;
    } else if constexpr (op == BinaryOp::logical_or) {
      return a || b;
    } else if constexpr (op == BinaryOp::bitwise_and) {
      return C(a & b);
    } else if constexpr (op == BinaryOp::bitwise_or) {
      return C(a | b);
    } else if constexpr (op == BinaryOp::bitwise_xor) {
      return C(a ^ b);
    } else if constexpr (op == BinaryOp::left_shift) {
      return shift(a, b, true);
    } else if constexpr (op == BinaryOp::right_shift) {
      return shift(a, b, false);
    } else if constexpr (op == BinaryOp::equal) {
      return a == b;
    } else if constexpr (op == BinaryOp::not_equal) {
      return a != b;
    } else if constexpr (op == BinaryOp::less) {
      return a < b;
    } else if constexpr (op == BinaryOp::less_equal) {
      return a <= b;
    } else if constexpr (op == BinaryOp::greater) {
      return a > b;
    } else {
      return a >= b;
    }
  }
};

template <UnaryOp op>
struct UnaryFn {
  template <typename C>
  FASTSYNC_HD unary_result_t<op, C> operator()(C x) const {
    if constexpr (is_complex_v<C>) {
      return complex_op(x);
    } else {
      return real_op(x);
    }
  }

 private:
  FASTSYNC_HD unary_result_t<op, complex64_t> complex_op(complex64_t x) const {
    if constexpr (op == UnaryOp::negative) {
      return -x;
    } else if constexpr (op == UnaryOp::abs) {
      return cmath::abs(x);
    } else if constexpr (op == UnaryOp::real) {
      return x.re;
    } else if constexpr (op == UnaryOp::imag) {
      return x.im;
    } else if constexpr (op == UnaryOp::conj) {
      return cmath::conj(x);
    } else if constexpr (op == UnaryOp::sign) {
      return cmath::sign(x);
    } else if constexpr (op == UnaryOp::square) {
      return x * x;
    } else if constexpr (op == UnaryOp::round) {
      return cmath::round(x);
    } else if constexpr (op == UnaryOp::rsqrt) {
      return cmath::rsqrt(x);
    } else if constexpr (op == UnaryOp::sin) {
      return cmath::sin(x);
    } else if constexpr (op == UnaryOp::cos) {
      return cmath::cos(x);
    } else if constexpr (op == UnaryOp::tan) {
      return cmath::tan(x);
    } else if constexpr (op == UnaryOp::sinh) {
      return cmath::sinh(x);
    } else if constexpr (op == UnaryOp::cosh) {
      return cmath::cosh(x);
    } else if constexpr (op == UnaryOp::tanh) {
      return cmath::tanh(x);
    } else if constexpr (op == UnaryOp::arcsin) {
      return cmath::asin(x);
    } else if constexpr (op == UnaryOp::arccos) {
      return cmath::acos(x);
    } else if constexpr (op == UnaryOp::arctan) {
      return cmath::atan(x);
    } else if constexpr (op == UnaryOp::arcsinh) {
      return cmath::asinh(x);
    } else if constexpr (op == UnaryOp::arccosh) {
      return cmath::acosh(x);
    } else if constexpr (op == UnaryOp::arctanh) {
      return cmath::atanh(x);
    } else if constexpr (op == UnaryOp::exp) {
      return cmath::exp(x);
    } else if constexpr (op == UnaryOp::log) {
      return cmath::log(x);
    } else if constexpr (op == UnaryOp::log1p) {
      return cmath::log1p(x);
    } else if constexpr (op == UnaryOp::log2) {
      return cmath::log2(x);
    } else if constexpr (op == UnaryOp::log10) {
      return cmath::log10(x);
    } else {
      static_assert(op == UnaryOp::sqrt, "unary_supports excludes the other ops");
      return cmath::sqrt(x);
    }
  }

  template <typename C>
  FASTSYNC_HD C real_op(C x) const {
    constexpr bool is_float = std::is_floating_point_v<C>;
    if constexpr (op == UnaryOp::negative) {
      if constexpr (is_float)
        return -x;
      else
        return wrap_sub(C(0), x);
    } else if constexpr (op == UnaryOp::abs) {
      // `0 - x` for x <= 0 turns -0.0 into +0.0, as NumPy's and IEEE's abs
      // do (to_fp8 reads the sign bit of abs's result); NaN fails the test
      // and stays itself. The lowest integer stays itself.
      if constexpr (std::is_unsigned_v<C>)
        return x;
      else if constexpr (is_float)
        return x <= C(0) ? C(0) - x : x;
      else
        return x < C(0) ? wrap_sub(C(0), x) : x;
    } else if constexpr (op == UnaryOp::sign) {
      if constexpr (is_float) {
        if (x != x) return x;  // NaN stays NaN
      }
      if constexpr (std::is_unsigned_v<C>)
        return C(x > 0);
      else
        return C((x > C(0)) - (x < C(0)));
    } else if constexpr (op == UnaryOp::square) {
      if constexpr (is_float)
        return x * x;
      else
        return wrap_mul(x, x);
    } else if constexpr (op == UnaryOp::floor) {
      if constexpr (is_float)
        return math::floor(x);
      else
        return x;
    } else if constexpr (op == UnaryOp::ceil) {
      if constexpr (is_float)
        return math::ceil(x);
      else
        return x;
    } else if constexpr (op == UnaryOp::round) {
      // Half to even, as NumPy: the current (default) rounding mode, not
      // round(), which rounds halves away from zero.
      if constexpr (is_float)
        return math::nearbyint(x);
      else
        return x;
    } else if constexpr (op == UnaryOp::logical_not) {
      return !x;
    } else if constexpr (op == UnaryOp::bitwise_invert) {
      if constexpr (std::is_same_v<C, bool>)
        return !x;
      else
        return C(~x);
    } else if constexpr (op == UnaryOp::exp) {
      return math::exp(x);
    } else if constexpr (op == UnaryOp::expm1) {
      return math::expm1(x);
    } else if constexpr (op == UnaryOp::log) {
      return math::log(x);
    } else if constexpr (op == UnaryOp::log1p) {
      return math::log1p(x);
    } else if constexpr (op == UnaryOp::log2) {
      return math::log2(x);
    } else if constexpr (op == UnaryOp::sqrt) {
      return math::sqrt(x);
    } else if constexpr (op == UnaryOp::rsqrt) {
      // A correctly rounded quotient, not CUDA's approximate rsqrt(), so
      // both backends agree.
      return C(1) / math::sqrt(x);
    } else if constexpr (op == UnaryOp::sin) {
      return math::sin(x);
    } else if constexpr (op == UnaryOp::cos) {
      return math::cos(x);
    } else if constexpr (op == UnaryOp::tanh) {
      return math::tanh(x);
    } else if constexpr (op == UnaryOp::sigmoid) {
      return C(1) / (C(1) + math::exp(-x));
    } else if constexpr (op == UnaryOp::silu) {
      return x / (C(1) + math::exp(-x));
    } else if constexpr (op == UnaryOp::erf) {
      return math::erf(x);
    } else if constexpr (op == UnaryOp::erfinv) {
      return math::erfinv(x);
    } else if constexpr (op == UnaryOp::tan) {
      return math::tan(x);
    } else if constexpr (op == UnaryOp::arcsin) {
      return math::asin(x);
    } else if constexpr (op == UnaryOp::arccos) {
      return math::acos(x);
    } else if constexpr (op == UnaryOp::arctan) {
      return math::atan(x);
    } else if constexpr (op == UnaryOp::sinh) {
      return math::sinh(x);
    } else if constexpr (op == UnaryOp::cosh) {
      return math::cosh(x);
    } else if constexpr (op == UnaryOp::arcsinh) {
      return math::asinh(x);
    } else if constexpr (op == UnaryOp::arccosh) {
      return math::acosh(x);
    } else if constexpr (op == UnaryOp::arctanh) {
      return math::atanh(x);
    } else {
      static_assert(op == UnaryOp::log10, "unary_supports excludes real, imag, conj");
      return math::log10(x);
    }
  }
};

}  // namespace fastsync::elementwise
