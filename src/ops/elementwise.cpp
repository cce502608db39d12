#include "errors.h"
#include "ops/ops.h"
#include "primitives/binary.h"
#include "primitives/unary.h"

namespace fastsync {

namespace {

array unary(const array& a, UnaryOp op, Dtype out, StreamOrDevice s) {
  Stream st = to_stream(s);
  auto in = a.dtype() == out ? a : astype(a, out, st);
  return array(a.shape(), out, std::make_shared<Unary>(st, op), {in});
}

// Float ops on integer or bool inputs compute in float32 (MLX's rule).
Dtype float_result(Dtype d) { return is_floating(d) ? d : float32; }

array binary(const array& a, const array& b, BinaryOp op, Dtype compute, StreamOrDevice s) {
  Stream st = to_stream(s);
  Shape shape = broadcast_shapes(a.shape(), b.shape());
  auto x = a.dtype() == compute ? a : astype(a, compute, st);
  auto y = b.dtype() == compute ? b : astype(b, compute, st);
  return array(std::move(shape), compute, std::make_shared<Binary>(st, op), {x, y});
}

Shape checked_broadcast(const char* op, const array& a, const array& b) {
  try {
    return broadcast_shapes(a.shape(), b.shape());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("[") + op + "] " + e.what());
  }
}

}  // namespace

array negative(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_) {
    throw type_error("[negative] not supported for bool arrays; use logical_not");
  }
  return unary(a, UnaryOp::negative, a.dtype(), s);
}
array abs(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::abs, a.dtype(), s); }
array exp(const array& a, StreamOrDevice s) {
  return unary(a, UnaryOp::exp, float_result(a.dtype()), s);
}
array log(const array& a, StreamOrDevice s) {
  return unary(a, UnaryOp::log, float_result(a.dtype()), s);
}
array sqrt(const array& a, StreamOrDevice s) {
  return unary(a, UnaryOp::sqrt, float_result(a.dtype()), s);
}
array square(const array& a, StreamOrDevice s) {
  return unary(a, UnaryOp::square, a.dtype(), s);
}

array add(const array& a, const array& b, StreamOrDevice s) {
  checked_broadcast("add", a, b);
  return binary(a, b, BinaryOp::add, promote_types(a.dtype(), b.dtype()), s);
}
array subtract(const array& a, const array& b, StreamOrDevice s) {
  checked_broadcast("subtract", a, b);
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (t == bool_) throw type_error("[subtract] not supported for bool arrays");
  return binary(a, b, BinaryOp::subtract, t, s);
}
array multiply(const array& a, const array& b, StreamOrDevice s) {
  checked_broadcast("multiply", a, b);
  return binary(a, b, BinaryOp::multiply, promote_types(a.dtype(), b.dtype()), s);
}
array divide(const array& a, const array& b, StreamOrDevice s) {
  checked_broadcast("divide", a, b);
  return binary(a, b, BinaryOp::divide, float_result(promote_types(a.dtype(), b.dtype())), s);
}
array maximum(const array& a, const array& b, StreamOrDevice s) {
  checked_broadcast("maximum", a, b);
  return binary(a, b, BinaryOp::maximum, promote_types(a.dtype(), b.dtype()), s);
}
array minimum(const array& a, const array& b, StreamOrDevice s) {
  checked_broadcast("minimum", a, b);
  return binary(a, b, BinaryOp::minimum, promote_types(a.dtype(), b.dtype()), s);
}
array floor_divide(const array& a, const array& b, StreamOrDevice s) {
  checked_broadcast("floor_divide", a, b);
  Dtype t = promote_types(a.dtype(), b.dtype());
  return binary(a, b, BinaryOp::floor_divide, t == bool_ ? int8 : t, s);
}
array remainder(const array& a, const array& b, StreamOrDevice s) {
  checked_broadcast("remainder", a, b);
  Dtype t = promote_types(a.dtype(), b.dtype());
  return binary(a, b, BinaryOp::remainder, t == bool_ ? int8 : t, s);
}

std::vector<array> divmod(const array& a, const array& b, StreamOrDevice s) {
  Shape shape = checked_broadcast("divmod", a, b);
  Stream st = to_stream(s);
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (t == bool_) t = int8;
  auto x = a.dtype() == t ? a : astype(a, t, st);
  auto y = b.dtype() == t ? b : astype(b, t, st);
  return array::make_arrays({shape, shape}, {t, t}, std::make_shared<DivMod>(st), {x, y});
}

}  // namespace fastsync
