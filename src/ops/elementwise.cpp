#include <cmath>
#include <optional>

#include "errors.h"
#include "ops/dtype_checks.h"
#include "ops/ops.h"
#include "pool.h"
#include "primitives/binary.h"
#include "primitives/unary.h"

namespace fastsync {

namespace {

// `out`: the output dtype when it is not `compute` (float32 for the parts
// and magnitude of complex64).
array unary(const array& a, UnaryOp op, Dtype compute, StreamOrDevice s,
            std::optional<Dtype> out = {}) {
  Stream st = to_stream(s);
  std::vector<array> in;
  in.push_back(a.dtype() == compute ? a : astype(a, compute, st));
  return array(a.shape(), out.value_or(compute), make_pooled<Unary>(st, op), std::move(in));
}

// Transcendental ops on integer or bool inputs compute in float32 (MLX);
// float and complex inputs keep their dtype.
Dtype float_result(Dtype d) { return is_inexact(d) ? d : float32; }

array float_unary(const array& a, UnaryOp op, StreamOrDevice s) {
  return unary(a, op, float_result(a.dtype()), s);
}

// The transcendental functions NumPy and MLX define on the reals only.
array real_only_unary(const char* name, const array& a, UnaryOp op, StreamOrDevice s) {
  reject_complex(name, a.dtype(), "defined for real arrays only");
  return float_unary(a, op, s);
}

Shape checked_broadcast(const char* op, const Shape& a, const Shape& b) {
  try {
    return broadcast_shapes(a, b);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("[") + op + "] " + e.what());
  }
}

array binary(const char* name, const array& a, const array& b, BinaryOp op, Dtype compute,
             StreamOrDevice s) {
  Shape shape = checked_broadcast(name, a.shape(), b.shape());
  Stream st = to_stream(s);
  // Built in place (an initializer list would copy each handle once more):
  // the graph of every elementwise op goes through here.
  std::vector<array> in;
  in.reserve(2);
  in.push_back(a.dtype() == compute ? a : astype(a, compute, st));
  in.push_back(b.dtype() == compute ? b : astype(b, compute, st));
  Dtype out = is_comparison(op) ? bool_ : compute;
  return array(std::move(shape), out, make_pooled<Binary>(st, op), std::move(in));
}

Dtype promoted(const array& a, const array& b) { return promote_types(a.dtype(), b.dtype()); }

// A dtype an op cannot take is a ValueError, as in MLX (the argument's type,
// an array, is right).
void require_integer(const char* op, Dtype t, bool allow_bool) {
  if (is_integral(t) || (allow_bool && t == bool_)) return;
  throw std::invalid_argument(std::string("[") + op + "] only integer" +
                              (allow_bool ? " and bool" : "") + " arrays are supported, got " +
                              t.name());
}

}  // namespace

array negative(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_) {
    throw type_error("[negative] not supported for bool arrays; use logical_not");
  }
  return unary(a, UnaryOp::negative, a.dtype(), s);
}
array abs(const array& a, StreamOrDevice s) {
  if (is_complex(a.dtype())) return unary(a, UnaryOp::abs, a.dtype(), s, float32);
  return a.dtype() == bool_ ? a : unary(a, UnaryOp::abs, a.dtype(), s);
}
array real(const array& a, StreamOrDevice s) {
  if (!is_complex(a.dtype())) return a;
  return unary(a, UnaryOp::real, a.dtype(), s, float32);
}
array imag(const array& a, StreamOrDevice s) {
  if (!is_complex(a.dtype())) return zeros_like(a, s);
  return unary(a, UnaryOp::imag, a.dtype(), s, float32);
}
array conjugate(const array& a, StreamOrDevice s) {
  if (!is_complex(a.dtype())) return a;
  return unary(a, UnaryOp::conj, a.dtype(), s);
}
array sign(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_) throw type_error("[sign] not supported for bool arrays");
  return unary(a, UnaryOp::sign, a.dtype(), s);
}
array square(const array& a, StreamOrDevice s) {
  return a.dtype() == bool_ ? a : unary(a, UnaryOp::square, a.dtype(), s);
}
array floor(const array& a, StreamOrDevice s) {
  reject_complex("floor", a.dtype());
  return is_floating(a.dtype()) ? unary(a, UnaryOp::floor, a.dtype(), s) : a;
}
array ceil(const array& a, StreamOrDevice s) {
  reject_complex("ceil", a.dtype());
  return is_floating(a.dtype()) ? unary(a, UnaryOp::ceil, a.dtype(), s) : a;
}
// Integers rounded to a multiple of 10^digits, half to even (NumPy's
// round with negative decimals), in exact integer arithmetic and the input's
// dtype; a multiple beyond the dtype's range rounds everything to 0.
static array round_integers(const array& a, int digits, StreamOrDevice s) {
  if (a.dtype() == bool_) return a;
  Dtype wide = is_unsigned(a.dtype()) ? uint64 : int64;
  if (digits > 18) return zeros_like(a, s);
  int64_t q = 1;
  for (int i = 0; i < digits; ++i) q *= 10;
  array x = astype(a, wide, s);
  array qa = weak_scalar(q, wide);
  array r = remainder(x, qa, s);  // in [0, q): floor mod
  array base = subtract(x, r, s);
  array twice = multiply(r, weak_scalar(int64_t{2}, wide), s);
  array odd = not_equal(remainder(floor_divide(base, qa, s), weak_scalar(int64_t{2}, wide), s),
                        weak_scalar(int64_t{0}, wide), s);
  array up = logical_or(greater(twice, qa, s), logical_and(equal(twice, qa, s), odd, s), s);
  return astype(where(up, add(base, qa, s), base, s), a.dtype(), s);
}

array round(const array& a, int decimals, StreamOrDevice s) {
  // complex64: each part rounds (MLX, NumPy).
  if (!is_inexact(a.dtype())) return decimals >= 0 ? a : round_integers(a, -decimals, s);
  if (decimals == 0) return unary(a, UnaryOp::round, a.dtype(), s);
  auto scale = weak_scalar(std::pow(10.0, decimals), a.dtype());
  return divide(unary(multiply(a, scale, s), UnaryOp::round, a.dtype(), s), scale, s);
}
array logical_not(const array& a, StreamOrDevice s) {
  return unary(a, UnaryOp::logical_not, bool_, s);
}
array bitwise_invert(const array& a, StreamOrDevice s) {
  require_integer("bitwise_invert", a.dtype(), true);
  return unary(a, UnaryOp::bitwise_invert, a.dtype(), s);
}

#define FASTSYNC_FLOAT_UNARY(op) \
  array op(const array& a, StreamOrDevice s) { return float_unary(a, UnaryOp::op, s); }
FASTSYNC_FLOAT_UNARY(exp)
FASTSYNC_FLOAT_UNARY(log)
FASTSYNC_FLOAT_UNARY(log1p)
FASTSYNC_FLOAT_UNARY(log2)
FASTSYNC_FLOAT_UNARY(sqrt)
FASTSYNC_FLOAT_UNARY(rsqrt)
FASTSYNC_FLOAT_UNARY(sin)
FASTSYNC_FLOAT_UNARY(cos)
FASTSYNC_FLOAT_UNARY(tanh)
FASTSYNC_FLOAT_UNARY(tan)
FASTSYNC_FLOAT_UNARY(arcsin)
FASTSYNC_FLOAT_UNARY(arccos)
FASTSYNC_FLOAT_UNARY(arctan)
FASTSYNC_FLOAT_UNARY(sinh)
FASTSYNC_FLOAT_UNARY(cosh)
FASTSYNC_FLOAT_UNARY(arcsinh)
FASTSYNC_FLOAT_UNARY(arccosh)
FASTSYNC_FLOAT_UNARY(arctanh)
FASTSYNC_FLOAT_UNARY(log10)
#undef FASTSYNC_FLOAT_UNARY

#define FASTSYNC_REAL_UNARY(op) \
  array op(const array& a, StreamOrDevice s) { return real_only_unary(#op, a, UnaryOp::op, s); }
FASTSYNC_REAL_UNARY(expm1)
FASTSYNC_REAL_UNARY(sigmoid)
FASTSYNC_REAL_UNARY(silu)
FASTSYNC_REAL_UNARY(erf)
FASTSYNC_REAL_UNARY(erfinv)
#undef FASTSYNC_REAL_UNARY

array add(const array& a, const array& b, StreamOrDevice s) {
  return binary("add", a, b, BinaryOp::add, promoted(a, b), s);
}
array subtract(const array& a, const array& b, StreamOrDevice s) {
  Dtype t = promoted(a, b);
  if (t == bool_) throw type_error("[subtract] not supported for bool arrays");
  return binary("subtract", a, b, BinaryOp::subtract, t, s);
}
array multiply(const array& a, const array& b, StreamOrDevice s) {
  return binary("multiply", a, b, BinaryOp::multiply, promoted(a, b), s);
}
array divide(const array& a, const array& b, StreamOrDevice s) {
  return binary("divide", a, b, BinaryOp::divide, float_result(promoted(a, b)), s);
}
array floor_divide(const array& a, const array& b, StreamOrDevice s) {
  Dtype t = promoted(a, b);
  reject_complex("floor_divide", t);
  return binary("floor_divide", a, b, BinaryOp::floor_divide, t == bool_ ? int8 : t, s);
}
array remainder(const array& a, const array& b, StreamOrDevice s) {
  Dtype t = promoted(a, b);
  reject_complex("remainder", t);
  return binary("remainder", a, b, BinaryOp::remainder, t == bool_ ? int8 : t, s);
}
array power(const array& a, const array& b, StreamOrDevice s) {
  Dtype t = promoted(a, b);
  return binary("power", a, b, BinaryOp::power, t == bool_ ? int8 : t, s);
}
array maximum(const array& a, const array& b, StreamOrDevice s) {
  reject_complex("maximum", promoted(a, b));
  return binary("maximum", a, b, BinaryOp::maximum, promoted(a, b), s);
}
array minimum(const array& a, const array& b, StreamOrDevice s) {
  reject_complex("minimum", promoted(a, b));
  return binary("minimum", a, b, BinaryOp::minimum, promoted(a, b), s);
}
array arctan2(const array& a, const array& b, StreamOrDevice s) {
  reject_complex("arctan2", promoted(a, b), "defined for real arrays only");
  return binary("arctan2", a, b, BinaryOp::arctan2, float_result(promoted(a, b)), s);
}
array logical_and(const array& a, const array& b, StreamOrDevice s) {
  return binary("logical_and", a, b, BinaryOp::logical_and, bool_, s);
}
array logical_or(const array& a, const array& b, StreamOrDevice s) {
  return binary("logical_or", a, b, BinaryOp::logical_or, bool_, s);
}

#define FASTSYNC_INT_BINARY(op, allow_bool)                    \
  array op(const array& a, const array& b, StreamOrDevice s) { \
    Dtype t = promoted(a, b);                                  \
    require_integer(#op, t, allow_bool);                       \
    return binary(#op, a, b, BinaryOp::op, t, s);              \
  }
FASTSYNC_INT_BINARY(bitwise_and, true)
FASTSYNC_INT_BINARY(bitwise_or, true)
FASTSYNC_INT_BINARY(bitwise_xor, true)
FASTSYNC_INT_BINARY(left_shift, false)
FASTSYNC_INT_BINARY(right_shift, false)
#undef FASTSYNC_INT_BINARY

#define FASTSYNC_COMPARE(op)                                   \
  array op(const array& a, const array& b, StreamOrDevice s) { \
    return binary(#op, a, b, BinaryOp::op, promoted(a, b), s); \
  }
FASTSYNC_COMPARE(equal)
FASTSYNC_COMPARE(not_equal)
#undef FASTSYNC_COMPARE

// The ordered comparisons: not for complex64.
#define FASTSYNC_COMPARE(op)                                   \
  array op(const array& a, const array& b, StreamOrDevice s) { \
    Dtype t = promoted(a, b);                                  \
    reject_complex(#op, t);                                    \
    return binary(#op, a, b, BinaryOp::op, t, s);              \
  }
FASTSYNC_COMPARE(less)
FASTSYNC_COMPARE(less_equal)
FASTSYNC_COMPARE(greater)
FASTSYNC_COMPARE(greater_equal)
#undef FASTSYNC_COMPARE

std::vector<array> divmod(const array& a, const array& b, StreamOrDevice s) {
  Shape shape = checked_broadcast("divmod", a.shape(), b.shape());
  Stream st = to_stream(s);
  Dtype t = promoted(a, b);
  reject_complex("divmod", t);
  if (t == bool_) t = int8;
  auto x = a.dtype() == t ? a : astype(a, t, st);
  auto y = b.dtype() == t ? b : astype(b, t, st);
  return array::make_arrays({shape, shape}, {t, t}, std::make_shared<DivMod>(st), {x, y});
}

array where(const array& condition, const array& x, const array& y, StreamOrDevice s) {
  Shape shape = checked_broadcast("where", checked_broadcast("where", condition.shape(), x.shape()),
                                  y.shape());
  Stream st = to_stream(s);
  Dtype t = promoted(x, y);
  auto c = condition.dtype() == bool_ ? condition : astype(condition, bool_, st);
  auto a = x.dtype() == t ? x : astype(x, t, st);
  auto b = y.dtype() == t ? y : astype(y, t, st);
  return array(std::move(shape), t, std::make_shared<Select>(st), {c, a, b});
}

array clip(const array& a, const std::optional<array>& lo, const std::optional<array>& hi,
           StreamOrDevice s) {
  if (!lo && !hi) throw std::invalid_argument("[clip] at least one of a_min and a_max is needed");
  reject_complex("clip", a.dtype());
  if (lo) reject_complex("clip", lo->dtype());
  if (hi) reject_complex("clip", hi->dtype());
  array r = a;
  if (lo) r = maximum(r, *lo, s);
  if (hi) r = minimum(r, *hi, s);
  return r;
}

}  // namespace fastsync
