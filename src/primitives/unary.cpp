#include "primitives/unary.h"

namespace fastsync {

const char* Unary::name() const {
  switch (op_) {
#define FASTSYNC_NAME(op, Name) \
  case UnaryOp::op: return #Name;
    FASTSYNC_UNARY_OPS(FASTSYNC_NAME)
#undef FASTSYNC_NAME
  }
  return "Unary";
}

std::vector<Shape> Unary::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

}  // namespace fastsync

// --- derivatives --------------------------------------------------------
// For complex inputs each rule returns c * conj(f'(x)) (MLX's convention:
// the real and imaginary parts are the derivatives with respect to the real
// and imaginary parts of x).

#include <cmath>
#include <optional>

#include "primitives/grad_util.h"

namespace fastsync {

namespace {

// f'(x) for the smooth ops, in terms of x and y = f(x); nullopt for ops
// whose derivative is zero wherever it exists.
std::optional<array> derivative(UnaryOp op, const array& x, const array& y, Stream s) {
  using grad::k;
  auto one_minus = [&](const array& a) { return subtract(k(1, a), a, s); };
  switch (op) {
    case UnaryOp::negative: return k(-1, x);
    case UnaryOp::exp: return y;
    case UnaryOp::expm1: return add(y, k(1, y), s);
    case UnaryOp::log: return reciprocal(x, s);
    case UnaryOp::log1p: return reciprocal(add(x, k(1, x), s), s);
    case UnaryOp::log2: return reciprocal(multiply(x, k(std::log(2.0), x), s), s);
    case UnaryOp::log10: return reciprocal(multiply(x, k(std::log(10.0), x), s), s);
    case UnaryOp::sqrt: return divide(k(0.5, y), y, s);
    case UnaryOp::rsqrt: return divide(multiply(k(-0.5, y), y, s), x, s);
    case UnaryOp::square: return multiply(k(2, x), x, s);
    case UnaryOp::sin: return cos(x, s);
    case UnaryOp::cos: return negative(sin(x, s), s);
    case UnaryOp::tan: return reciprocal(square(cos(x, s), s), s);
    case UnaryOp::tanh: return one_minus(square(y, s));
    case UnaryOp::sigmoid: return multiply(y, one_minus(y), s);
    case UnaryOp::silu: {
      // From x alone, the sigmoid recomputed: the backward then holds x (which
      // the forward keeps anyway), not a sigmoid of every activation.
      array sg = sigmoid(x, s);
      return multiply(sg, add(k(1, x), multiply(x, one_minus(sg), s), s), s);
    }
    case UnaryOp::erf:
      return multiply(k(2.0 / std::sqrt(M_PI), x), exp(negative(square(x, s), s), s), s);
    case UnaryOp::erfinv: return multiply(k(std::sqrt(M_PI) / 2.0, y), exp(square(y, s), s), s);
    case UnaryOp::arcsin: return rsqrt(one_minus(square(x, s)), s);
    case UnaryOp::arccos: return negative(rsqrt(one_minus(square(x, s)), s), s);
    case UnaryOp::arctan: return reciprocal(add(k(1, x), square(x, s), s), s);
    case UnaryOp::sinh: return cosh(x, s);
    case UnaryOp::cosh: return sinh(x, s);
    case UnaryOp::arcsinh: return rsqrt(add(square(x, s), k(1, x), s), s);
    case UnaryOp::arccosh: return rsqrt(subtract(square(x, s), k(1, x), s), s);
    case UnaryOp::arctanh: return reciprocal(one_minus(square(x, s)), s);
    default: return std::nullopt;
  }
}

}  // namespace

std::vector<array> Unary::vjp(const std::vector<array>& primals,
                              const std::vector<array>& cotangents, const std::vector<int>&,
                              const std::vector<array>& outputs) {
  const Stream s = stream();
  const array& x = primals[0];
  const array& c = cotangents[0];
  const array& y = outputs[0];
  switch (op_) {
    case UnaryOp::abs:
      if (is_complex(x.dtype())) {
        // c (real) along the direction of x.
        array unit = divide(x, astype(maximum(y, grad::k(1e-30, y), s), x.dtype(), s), s);
        return {multiply(astype(c, x.dtype(), s), unit, s)};
      }
      return {multiply(c, sign(x, s), s)};
    case UnaryOp::real: return {is_complex(x.dtype()) ? astype(c, x.dtype(), s) : c};
    case UnaryOp::imag:
      if (is_complex(x.dtype())) {
        return {multiply(astype(c, x.dtype(), s), weak_scalar(complex64_t(0, 1), x.dtype()), s)};
      }
      return {grad::zero_like(x, s)};
    case UnaryOp::conj: return {is_complex(c.dtype()) ? conjugate(c, s) : c};
    default: break;
  }
  if (x.dtype() == bool_) return {grad::zero_like(x, s)};
  auto d = derivative(op_, x, y, s);
  if (!d) return {grad::zero_like(x, s)};
  return {grad::mul_conj(c, *d, s)};
}

}  // namespace fastsync

// --- batching -------------------------------------------------------------

#include "primitives/batching.h"

namespace fastsync {

std::pair<std::vector<array>, std::vector<int>> Unary::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  return batching::elementwise(self, inputs, axes, outputs);
}

}  // namespace fastsync
