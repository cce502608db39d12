// complex64: the element type of the complex64 dtype, two float32s with the
// real part first (NumPy's and C99's layout, 8 bytes, 4-byte aligned), and
// its arithmetic and math functions. Everything here is FASTSYNC_HD: the CPU
// kernels and the CUDA kernels (backend/common/elementwise.h and the
// reducers) call the same code, so the backends agree.
//
// Conversions: a real value converts implicitly (imaginary part 0); to a
// real type only explicitly, taking the real part as MLX does, except bool,
// which is "nonzero" (either part, as NumPy).
//
// Arithmetic is float32's, as NumPy's complex64: +, -, * componentwise,
// division by Smith's scaling (NumPy's algorithm, so no overflow for large
// divisors). The transcendental functions compute in double and round once,
// which keeps them within float32 precision of NumPy's results everywhere
// the formulas are well conditioned, on both backends. Branch cuts and
// signed zeros follow C99 (NumPy) for the inputs on the cuts.
//
// No ordering: <, >, min and max are not defined, so no kernel can compare
// complex values by accident (the ops layer rejects the ordered ops).
#pragma once

#include <math.h>

#include <type_traits>

#include "backend/common/host_device.h"

namespace fastsync {

struct complex64_t;

namespace detail {
template <typename T>
inline constexpr bool is_real_v =
    !std::is_same_v<std::remove_cv_t<T>, complex64_t> && std::is_convertible_v<T, float>;
}  // namespace detail

struct complex64_t {
  float re;
  float im;

  complex64_t() = default;
  FASTSYNC_HD constexpr complex64_t(float r, float i) : re(r), im(i) {}
  // A real value: imaginary part zero.
  template <typename T, std::enable_if_t<detail::is_real_v<T>, int> = 0>
  FASTSYNC_HD constexpr complex64_t(T x)  // NOLINT: implicit like the builtin arithmetic types
      : re(static_cast<float>(x)), im(0.0f) {}

  // To a real type: the real part; to bool: whether either part is nonzero.
  // Only complex64_t itself is excluded: newer compilers do not count
  // _Float16 as constructible from float (an extended floating type of
  // lower rank), though static_cast converts it.
  template <typename T, std::enable_if_t<!std::is_same_v<T, complex64_t>, int> = 0>
  FASTSYNC_HD constexpr explicit operator T() const {
    if constexpr (std::is_same_v<T, bool>)
      return re != 0.0f || im != 0.0f;
    else
      return static_cast<T>(re);
  }
};

static_assert(sizeof(complex64_t) == 8 && alignof(complex64_t) == 4);
static_assert(std::is_trivially_copyable_v<complex64_t>);

template <typename T>
inline constexpr bool is_complex_v = std::is_same_v<std::remove_cv_t<T>, complex64_t>;

FASTSYNC_HD constexpr complex64_t operator+(complex64_t a, complex64_t b) {
  return {a.re + b.re, a.im + b.im};
}
FASTSYNC_HD constexpr complex64_t operator-(complex64_t a, complex64_t b) {
  return {a.re - b.re, a.im - b.im};
}
FASTSYNC_HD constexpr complex64_t operator-(complex64_t a) { return {-a.re, -a.im}; }
FASTSYNC_HD constexpr complex64_t operator*(complex64_t a, complex64_t b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
// NumPy's complex division (Smith's algorithm); a zero divisor gives
// infinities or NaNs from the real divisions, as NumPy.
FASTSYNC_HD inline complex64_t operator/(complex64_t a, complex64_t b) {
  float abs_r = ::fabsf(b.re), abs_i = ::fabsf(b.im);
  if (abs_r >= abs_i) {
    if (abs_r == 0.0f && abs_i == 0.0f) return {a.re / abs_r, a.im / abs_r};
    float rat = b.im / b.re;
    float scl = 1.0f / (b.re + b.im * rat);
    return {(a.re + a.im * rat) * scl, (a.im - a.re * rat) * scl};
  }
  float rat = b.re / b.im;
  float scl = 1.0f / (b.im + b.re * rat);
  return {(a.re * rat + a.im) * scl, (a.im * rat - a.re) * scl};
}
FASTSYNC_HD inline complex64_t& operator+=(complex64_t& a, complex64_t b) { return a = a + b; }
FASTSYNC_HD inline complex64_t& operator-=(complex64_t& a, complex64_t b) { return a = a - b; }
FASTSYNC_HD inline complex64_t& operator*=(complex64_t& a, complex64_t b) { return a = a * b; }
FASTSYNC_HD inline complex64_t& operator/=(complex64_t& a, complex64_t b) { return a = a / b; }
FASTSYNC_HD constexpr bool operator==(complex64_t a, complex64_t b) {
  return a.re == b.re && a.im == b.im;
}
FASTSYNC_HD constexpr bool operator!=(complex64_t a, complex64_t b) { return !(a == b); }

namespace cmath {

namespace detail {

// Double-precision complex, the working type of the functions below.
struct cd {
  double re, im;
};
FASTSYNC_HD inline cd add(cd a, cd b) { return {a.re + b.re, a.im + b.im}; }
FASTSYNC_HD inline cd sub(cd a, cd b) { return {a.re - b.re, a.im - b.im}; }
FASTSYNC_HD inline cd mul(cd a, cd b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
FASTSYNC_HD inline cd div(cd a, cd b) {
  double abs_r = ::fabs(b.re), abs_i = ::fabs(b.im);
  if (abs_r >= abs_i) {
    if (abs_r == 0.0 && abs_i == 0.0) return {a.re / abs_r, a.im / abs_r};
    double rat = b.im / b.re;
    double scl = 1.0 / (b.re + b.im * rat);
    return {(a.re + a.im * rat) * scl, (a.im - a.re * rat) * scl};
  }
  double rat = b.re / b.im;
  double scl = 1.0 / (b.im + b.re * rat);
  return {(a.re * rat + a.im) * scl, (a.im * rat - a.re) * scl};
}
FASTSYNC_HD inline cd widen(complex64_t z) { return {z.re, z.im}; }
FASTSYNC_HD inline complex64_t narrow(cd z) {
  return {static_cast<float>(z.re), static_cast<float>(z.im)};
}
FASTSYNC_HD inline bool nan(double x) { return x != x; }
FASTSYNC_HD inline bool inf(double x) { return x - x != x - x && x == x; }

FASTSYNC_HD inline cd exp(cd z) {
  double m = ::exp(z.re);
  // exp(x + 0i) is exp(x) + 0i even for infinite x (inf * sin(0) is NaN).
  if (z.im == 0.0) return {m, z.im};
  return {m * ::cos(z.im), m * ::sin(z.im)};
}
FASTSYNC_HD inline cd log(cd z) { return {::log(::hypot(z.re, z.im)), ::atan2(z.im, z.re)}; }
// The principal root: real part >= 0, imaginary part with the sign of z.im.
FASTSYNC_HD inline cd sqrt(cd z) {
  if (z.re == 0.0 && z.im == 0.0) return {0.0, z.im};
  if (inf(z.im)) return {INFINITY, z.im};
  if (nan(z.re)) return {z.re, nan(z.im) ? z.im : z.re};
  if (inf(z.re)) {
    if (z.re > 0) return {z.re, nan(z.im) ? z.im : ::copysign(0.0, z.im)};
    return {nan(z.im) ? z.im : 0.0, ::copysign(INFINITY, z.im)};
  }
  double t = ::sqrt((::fabs(z.re) + ::hypot(z.re, z.im)) * 0.5);
  if (z.re >= 0.0) return {t, z.im / (2.0 * t)};
  return {::fabs(z.im) / (2.0 * t), ::copysign(t, z.im)};
}
FASTSYNC_HD inline cd sinh(cd z) {
  if (z.im == 0.0) return {::sinh(z.re), z.im};
  return {::sinh(z.re) * ::cos(z.im), ::cosh(z.re) * ::sin(z.im)};
}
FASTSYNC_HD inline cd cosh(cd z) {
  if (z.im == 0.0) return {::cosh(z.re), ::copysign(1.0, z.re) * z.im};  // sinh(x) * (+-0)
  return {::cosh(z.re) * ::cos(z.im), ::sinh(z.re) * ::sin(z.im)};
}
FASTSYNC_HD inline cd tanh(cd z) {
  // (sinh 2x + i sin 2y) / (cosh 2x + cos 2y), rewritten so a large |x|
  // gives +-1 instead of inf / inf.
  if (::fabs(z.re) > 22.0) {
    double e = ::exp(-2.0 * ::fabs(z.re));
    return {::copysign(1.0, z.re), 4.0 * ::sin(z.im) * ::cos(z.im) * e};
  }
  double d = ::cosh(2.0 * z.re) + ::cos(2.0 * z.im);
  return {::sinh(2.0 * z.re) / d, ::sin(2.0 * z.im) / d};
}
// i z and -i z.
FASTSYNC_HD inline cd times_i(cd z) { return {-z.im, z.re}; }
FASTSYNC_HD inline cd times_minus_i(cd z) { return {z.im, -z.re}; }
FASTSYNC_HD inline cd sin(cd z) { return times_minus_i(sinh(times_i(z))); }
FASTSYNC_HD inline cd cos(cd z) { return cosh(times_i(z)); }
FASTSYNC_HD inline cd tan(cd z) { return times_minus_i(tanh(times_i(z))); }
// z + r for a real r, keeping the sign of a zero imaginary part (which
// decides the side of a branch cut; adding 0i would turn -0 into +0).
FASTSYNC_HD inline cd plus(cd z, double r) { return {z.re + r, z.im}; }
// asinh z = log(z + sqrt(z^2 + 1)), computed for Re z >= 0 (no cancellation)
// and mirrored: asinh(-z) = -asinh(z).
FASTSYNC_HD inline cd asinh(cd z) {
  bool flip = ::copysign(1.0, z.re) < 0.0;
  cd w = flip ? cd{-z.re, -z.im} : z;
  cd r = log(add(w, sqrt(plus(mul(w, w), 1.0))));
  return flip ? cd{-r.re, -r.im} : r;
}
// acosh z = log(z + sqrt(z + 1) sqrt(z - 1)) (keeps C99's branch cut).
FASTSYNC_HD inline cd acosh(cd z) {
  return log(add(z, mul(sqrt(plus(z, 1.0)), sqrt(plus(z, -1.0)))));
}
// atanh z = (log(1 + z) - log(1 - z)) / 2.
FASTSYNC_HD inline cd atanh(cd z) {
  cd a = log(plus(z, 1.0));
  cd b = log(cd{1.0 - z.re, -z.im});
  return {(a.re - b.re) * 0.5, (a.im - b.im) * 0.5};
}
FASTSYNC_HD inline cd asin(cd z) { return times_minus_i(asinh(times_i(z))); }
FASTSYNC_HD inline cd acos(cd z) {
  cd a = asin(z);
  return {1.5707963267948966 - a.re, -a.im};
}
FASTSYNC_HD inline cd atan(cd z) { return times_minus_i(atanh(times_i(z))); }
// NumPy's power: x ** 0 is 1, 0 ** y is 0 for a real y > 0 and NaN for any
// other y, small integer powers multiply (exact where the products are),
// everything else is exp(y log x).
FASTSYNC_HD inline cd pow(cd a, cd b) {
  if (b.re == 0.0 && b.im == 0.0) return {1.0, 0.0};
  if (a.re == 0.0 && a.im == 0.0) {
    if (b.re > 0.0 && b.im == 0.0) return {0.0, 0.0};
    return {NAN, NAN};
  }
  if (b.im == 0.0 && b.re == ::trunc(b.re) && ::fabs(b.re) <= 100.0) {
    long n = static_cast<long>(::fabs(b.re));
    cd r{1.0, 0.0}, x = a;
    while (n) {
      if (n & 1) r = mul(r, x);
      x = mul(x, x);
      n >>= 1;
    }
    return b.re < 0.0 ? div(cd{1.0, 0.0}, r) : r;
  }
  return exp(mul(b, log(a)));
}

}  // namespace detail

#define FASTSYNC_CMATH1(name)                              \
  FASTSYNC_HD inline complex64_t name(complex64_t z) {     \
    return detail::narrow(detail::name(detail::widen(z))); \
  }
FASTSYNC_CMATH1(exp)
FASTSYNC_CMATH1(log)
FASTSYNC_CMATH1(sqrt)
FASTSYNC_CMATH1(sin)
FASTSYNC_CMATH1(cos)
FASTSYNC_CMATH1(tan)
FASTSYNC_CMATH1(sinh)
FASTSYNC_CMATH1(cosh)
FASTSYNC_CMATH1(tanh)
FASTSYNC_CMATH1(asin)
FASTSYNC_CMATH1(acos)
FASTSYNC_CMATH1(atan)
FASTSYNC_CMATH1(asinh)
FASTSYNC_CMATH1(acosh)
FASTSYNC_CMATH1(atanh)
#undef FASTSYNC_CMATH1

FASTSYNC_HD inline complex64_t pow(complex64_t a, complex64_t b) {
  return detail::narrow(detail::pow(detail::widen(a), detail::widen(b)));
}
FASTSYNC_HD inline complex64_t log1p(complex64_t z) {
  return detail::narrow(detail::log(detail::plus(detail::widen(z), 1.0)));
}
FASTSYNC_HD inline complex64_t log2(complex64_t z) {
  detail::cd l = detail::log(detail::widen(z));
  return detail::narrow({l.re * 1.4426950408889634, l.im * 1.4426950408889634});
}
FASTSYNC_HD inline complex64_t log10(complex64_t z) {
  detail::cd l = detail::log(detail::widen(z));
  return detail::narrow({l.re * 0.4342944819032518, l.im * 0.4342944819032518});
}
FASTSYNC_HD inline complex64_t rsqrt(complex64_t z) {
  return detail::narrow(detail::div({1.0, 0.0}, detail::sqrt(detail::widen(z))));
}
// |z|, without overflow or underflow on the way.
FASTSYNC_HD inline float abs(complex64_t z) { return ::hypotf(z.re, z.im); }
FASTSYNC_HD inline complex64_t conj(complex64_t z) { return {z.re, -z.im}; }
// z / |z| (0 for 0), as NumPy 2 and MLX.
FASTSYNC_HD inline complex64_t sign(complex64_t z) {
  if (z.re == 0.0f && z.im == 0.0f) return z;
  double m = ::hypot(static_cast<double>(z.re), static_cast<double>(z.im));
  return {static_cast<float>(z.re / m), static_cast<float>(z.im / m)};
}
// Each part to the nearest integer, halves to even (NumPy's round).
FASTSYNC_HD inline complex64_t round(complex64_t z) {
  return {::nearbyintf(z.re), ::nearbyintf(z.im)};
}
FASTSYNC_HD inline bool isnan(complex64_t z) { return z.re != z.re || z.im != z.im; }

}  // namespace cmath

}  // namespace fastsync
