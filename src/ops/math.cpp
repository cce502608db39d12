// Elementwise ops composed from the primitives (see ops/ops.h for the op
// contract): no kernels of their own, so each runs on every backend and
// stream the primitives run on.
#include <cmath>
#include <limits>

#include "errors.h"
#include "ops/dtype_checks.h"
#include "ops/ops.h"

namespace fastsync {

namespace {

// The dtype a float-valued composition computes in: floats and complex64
// keep theirs, integers and bools compute in float32 (as the transcendental
// ops do).
Dtype float_of(Dtype d) { return is_inexact(d) ? d : float32; }

array as_float(const array& a, StreamOrDevice s) { return astype(a, float_of(a.dtype()), s); }

// The largest finite value of a floating dtype.
double finite_max(Dtype d) {
  if (d == float16) return 65504.0;
  if (d == bfloat16) return 3.3895313892515355e38;
  if (d == float32) return std::numeric_limits<float>::max();
  return std::numeric_limits<double>::max();
}

array false_like(const array& a, StreamOrDevice s) { return zeros(a.shape(), bool_, s); }

}  // namespace

array reciprocal(const array& a, StreamOrDevice s) {
  return divide(weak_scalar(1.0, float_of(a.dtype())), as_float(a, s), s);
}

array trunc(const array& a, StreamOrDevice s) {
  reject_complex("trunc", a.dtype());
  if (!is_floating(a.dtype())) return a;
  return where(less(a, weak_scalar(0.0, a.dtype()), s), ceil(a, s), floor(a, s), s);
}

array degrees(const array& a, StreamOrDevice s) {
  return multiply(as_float(a, s), weak_scalar(180.0 / M_PI, float_of(a.dtype())), s);
}

array radians(const array& a, StreamOrDevice s) {
  return multiply(as_float(a, s), weak_scalar(M_PI / 180.0, float_of(a.dtype())), s);
}

array logical_xor(const array& a, const array& b, StreamOrDevice s) {
  return not_equal(astype(a, bool_, s), astype(b, bool_, s), s);
}

array logaddexp(const array& a, const array& b, StreamOrDevice s) {
  Dtype t = float_of(promote_types(a.dtype(), b.dtype()));
  reject_complex("logaddexp", t);
  array x = astype(a, t, s), y = astype(b, t, s);
  array hi = maximum(x, y, s);
  // hi + log1p(exp(-|x - y|)); when both are the same infinity, x - y is NaN,
  // and the answer is that infinity.
  array lo_part = log1p(exp(negative(abs(subtract(x, y, s), s), s), s), s);
  return where(logical_and(isinf(hi, s), equal(x, y, s), s), hi, add(hi, lo_part, s), s);
}

// complex64: NaN when either part is (z != z says so), infinite when either
// part is (NumPy), finite when both are.
array isnan(const array& a, StreamOrDevice s) {
  if (!is_inexact(a.dtype())) return false_like(a, s);
  return not_equal(a, a, s);
}

array isinf(const array& a, StreamOrDevice s) {
  if (is_complex(a.dtype())) return logical_or(isinf(real(a, s), s), isinf(imag(a, s), s), s);
  if (!is_floating(a.dtype())) return false_like(a, s);
  return equal(abs(a, s), weak_scalar(INFINITY, a.dtype()), s);
}

// complex64: decided by the real part (MLX gives [False, True] for
// isneginf of [0, -inf] cast to complex64; NumPy has no complex form).
array isposinf(const array& a, StreamOrDevice s) {
  if (is_complex(a.dtype())) return isposinf(real(a, s), s);
  if (!is_floating(a.dtype())) return false_like(a, s);
  return equal(a, weak_scalar(INFINITY, a.dtype()), s);
}

array isneginf(const array& a, StreamOrDevice s) {
  if (is_complex(a.dtype())) return isneginf(real(a, s), s);
  if (!is_floating(a.dtype())) return false_like(a, s);
  return equal(a, weak_scalar(-INFINITY, a.dtype()), s);
}

array isfinite(const array& a, StreamOrDevice s) {
  if (!is_inexact(a.dtype())) return ones(a.shape(), bool_, s);
  // Finite values are the ones where x - x is 0 (NaN for NaN and infinities).
  return equal(subtract(a, a, s), weak_scalar(0.0, a.dtype()), s);
}

array nan_to_num(const array& a, double nan, std::optional<double> posinf,
                 std::optional<double> neginf, StreamOrDevice s) {
  reject_complex("nan_to_num", a.dtype(), "replace NaN in the real and imaginary parts apart");
  if (!is_floating(a.dtype())) return a;
  Dtype t = a.dtype();
  double big = finite_max(t);
  array r = where(isnan(a, s), weak_scalar(nan, t), a, s);
  r = where(isposinf(a, s), weak_scalar(posinf.value_or(big), t), r, s);
  return where(isneginf(a, s), weak_scalar(neginf.value_or(-big), t), r, s);
}

array isclose(const array& a, const array& b, double rtol, double atol, bool equal_nan,
              StreamOrDevice s) {
  Dtype t = float_of(promote_types(a.dtype(), b.dtype()));
  array x = astype(a, t, s), y = astype(b, t, s);
  // complex64: the magnitudes are float32, and so is the tolerance.
  Dtype rt = is_complex(t) ? float32 : t;
  array diff = abs(subtract(x, y, s), s);
  array tol = add(weak_scalar(atol, rt), multiply(weak_scalar(rtol, rt), abs(y, s), s), s);
  // Equal values (infinities included) are close; an infinite b makes the
  // tolerance infinite, so the comparison only counts for a finite b. A NaN
  // is close to nothing unless equal_nan.
  array within = logical_and(less_equal(diff, tol, s), isfinite(y, s), s);
  array close = logical_or(within, equal(x, y, s), s);
  if (equal_nan) close = logical_or(close, logical_and(isnan(x, s), isnan(y, s), s), s);
  return close;
}

array allclose(const array& a, const array& b, double rtol, double atol, bool equal_nan,
               StreamOrDevice s) {
  return all(isclose(a, b, rtol, atol, equal_nan, s), {}, false, s);
}

array array_equal(const array& a, const array& b, bool equal_nan, StreamOrDevice s) {
  if (a.shape() != b.shape()) return zeros({}, bool_, s);
  Dtype t = promote_types(a.dtype(), b.dtype());
  array x = astype(a, t, s), y = astype(b, t, s);
  array eq = equal(x, y, s);
  if (equal_nan && is_inexact(t)) eq = logical_or(eq, logical_and(isnan(x, s), isnan(y, s), s), s);
  return all(eq, {}, false, s);
}

}  // namespace fastsync
