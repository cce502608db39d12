#include "primitives/binary.h"

#include <stdexcept>

namespace fastsync {

const char* Binary::name() const {
  switch (op_) {
#define FASTSYNC_NAME(op, Name) \
  case BinaryOp::op: return #Name;
    FASTSYNC_BINARY_OPS(FASTSYNC_NAME)
#undef FASTSYNC_NAME
  }
  return "Binary";
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw std::invalid_argument("shapes " + shape_str(a) + " and " + shape_str(b) +
                                  " cannot be broadcast together");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<Shape> Binary::output_shapes(const std::vector<array>& inputs) const {
  return {broadcast_shapes(inputs[0].shape(), inputs[1].shape())};
}

std::vector<Shape> Select::output_shapes(const std::vector<array>& inputs) const {
  return {
      broadcast_shapes(broadcast_shapes(inputs[0].shape(), inputs[1].shape()), inputs[2].shape())};
}

std::vector<Shape> DivMod::output_shapes(const std::vector<array>& inputs) const {
  auto s = broadcast_shapes(inputs[0].shape(), inputs[1].shape());
  return {s, s};
}

}  // namespace fastsync

// --- derivatives --------------------------------------------------------
// Rules give the cotangent for the broadcast output; unbroadcast sums it
// back to each input's shape. Complex inputs follow Unary's convention.

#include "primitives/grad_util.h"

namespace fastsync {

namespace {

// d out / d a and d out / d b for the smooth ops (as c-weighted terms).
std::pair<array, array> binary_grads(BinaryOp op, const array& a, const array& b, const array& c,
                                     const array& y, Stream s) {
  using grad::k;
  using grad::mul_conj;
  switch (op) {
    case BinaryOp::add: return {c, c};
    case BinaryOp::subtract: return {c, negative(c, s)};
    case BinaryOp::multiply: return {mul_conj(c, b, s), mul_conj(c, a, s)};
    case BinaryOp::divide: {
      array da = mul_conj(c, reciprocal(b, s), s);
      return {da, negative(mul_conj(da, y, s), s)};
    }
    case BinaryOp::power: {
      // 0 ** b has derivative 0 in b (the limit from above), not 0 * -inf.
      array da = mul_conj(c, multiply(b, power(a, subtract(b, k(1, b), s), s), s), s);
      array dlog = where(equal(a, k(0, a), s), k(0, a), multiply(y, log(a, s), s), s);
      return {da, mul_conj(c, dlog, s)};
    }
    case BinaryOp::maximum:
    case BinaryOp::minimum: {
      // Ties go to a.
      array a_wins = op == BinaryOp::maximum ? greater_equal(a, b, s) : less_equal(a, b, s);
      array z = k(0, c);
      return {where(a_wins, c, z, s), where(a_wins, z, c, s)};
    }
    case BinaryOp::arctan2: {
      array denom = add(square(a, s), square(b, s), s);
      return {multiply(c, divide(b, denom, s), s),
              multiply(c, divide(negative(a, s), denom, s), s)};
    }
    case BinaryOp::remainder: return {c, negative(multiply(c, floor(divide(a, b, s), s), s), s)};
    default: {
      array z = zeros(c.shape(), c.dtype(), s);
      return {z, z};
    }
  }
}

}  // namespace

std::vector<array> Binary::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const Stream s = stream();
  const array& a = primals[0];
  const array& b = primals[1];
  if (a.dtype() == bool_ || is_comparison(op_)) return grad::zeros_for(primals, argnums, s);
  auto [da, db] = binary_grads(op_, a, b, cotangents[0], outputs[0], s);
  std::vector<array> out;
  for (int i : argnums) {
    out.push_back(grad::unbroadcast(i == 0 ? da : db, primals[i].shape(), s));
  }
  return out;
}

// Zero for both outputs, the remainder's too (mx.remainder's derivative in a
// is 1): MLX defines divmod's so, its tests pin it, and MLX code must run
// unchanged.
std::vector<array> DivMod::vjp(const std::vector<array>& primals, const std::vector<array>&,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  return grad::zeros_for(primals, argnums, stream());
}

std::vector<array> Select::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const Stream s = stream();
  const array& c = cotangents[0];
  array z = grad::k(0, c);
  std::vector<array> out;
  for (int i : argnums) {
    if (i == 0) {
      out.push_back(grad::zero_like(primals[0], s));
    } else {
      array d = i == 1 ? where(primals[0], c, z, s) : where(primals[0], z, c, s);
      out.push_back(grad::unbroadcast(d, primals[i].shape(), s));
    }
  }
  return out;
}

}  // namespace fastsync

// --- batching -------------------------------------------------------------

#include "primitives/batching.h"

namespace fastsync {

#define FASTSYNC_ELEMENTWISE_VMAP(Class)                                           \
  std::pair<std::vector<array>, std::vector<int>> Class::vmap(                     \
      const std::vector<array>& inputs, const std::vector<int>& axes,              \
      const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) { \
    return batching::elementwise(self, inputs, axes, outputs);                     \
  }
FASTSYNC_ELEMENTWISE_VMAP(Binary)
FASTSYNC_ELEMENTWISE_VMAP(DivMod)
FASTSYNC_ELEMENTWISE_VMAP(Select)
#undef FASTSYNC_ELEMENTWISE_VMAP

}  // namespace fastsync
