#include "ops/factorizations.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "autodiff.h"
#include "ops/linalg.h"
#include "ops/ops.h"
#include "primitives/binary.h"
#include "primitives/factorizations.h"
#include "primitives/grad_util.h"
#include "primitives/tracing.h"

namespace fastsync::linalg {

namespace {

[[noreturn]] void fail(const char* op, const std::string& why) {
  throw std::invalid_argument(std::string("[") + op + "] " + why);
}

// The dtype an op computes in: float32, float64 or complex64; the half
// types compute in float32.
Dtype compute_dtype(const char* op, const array& a) {
  Dtype t = a.dtype();
  if (t == float32 || t == float64 || t == complex64) return t;
  if (t == float16 || t == bfloat16) return float32;
  fail(op, std::string("only floating point and complex64 inputs are supported, got ") + t.name() +
               " (cast with astype first)");
}

// Checks a is a batch of (square) matrices and casts it to `t`.
array matrices(const char* op, const array& a, bool square, Dtype t, const Stream& s) {
  if (a.ndim() < 2) {
    fail(op, "expects at least 2 dimensions (..., M, N), got shape " + shape_str(a.shape()));
  }
  if (square && a.shape(-1) != a.shape(-2)) {
    fail(op, "expects square matrices (..., N, N), got shape " + shape_str(a.shape()));
  }
  return a.dtype() == t ? a : astype(a, t, s);
}

// A result computed in float32 for a half-precision input, cast back.
array back_to(const array& x, Dtype t, const Stream& s) {
  return (t == float16 || t == bfloat16) && x.dtype() == float32 ? astype(x, t, s) : x;
}

array mT(const array& a, const Stream& s) { return swapaxes(a, -1, -2, s); }

array top_left(const array& a, int64_t r, int64_t c, const Stream& s) {
  std::vector<std::optional<int64_t>> start(a.ndim()), stop(a.ndim()), step(a.ndim());
  stop[a.ndim() - 2] = r;
  stop[a.ndim() - 1] = c;
  return slice(a, start, stop, step, s);
}

std::vector<int> normalize_axes(const char* op, const std::vector<int>& axes, int ndim) {
  std::vector<int> out;
  for (int ax : axes) {
    int a = ax < 0 ? ax + ndim : ax;
    if (a < 0 || a >= ndim) {
      fail(op, "axis " + std::to_string(ax) + " is out of bounds for an array of " +
                   std::to_string(ndim) + " dimensions");
    }
    if (std::find(out.begin(), out.end(), a) != out.end()) fail(op, "axes repeat");
    out.push_back(a);
  }
  return out;
}

array magnitude(const array& a, const Stream& s) {
  array x = is_inexact(a.dtype()) ? a : astype(a, float32, s);
  return abs(x, s);
}

array two_norm(const array& a, const std::vector<int>& axes, bool keepdims, const Stream& s) {
  array m = magnitude(a, s);
  return sqrt(sum(multiply(m, m, s), axes, keepdims, s), s);
}

// Singular values with the two matrix axes moved last, for the 2 / -2 /
// nuc norms; keepdims puts two size-1 axes back.
array singular_values(const array& a, int r, int c, const Stream& s) {
  // The two matrix axes last (their order does not change the values).
  array m = moveaxis(moveaxis(a, r, -1, s), c > r ? c - 1 : c, -1, s);
  return svd(m, false, s)[0];
}

// The largest of a norm's nonnegative parts. Over no parts it is 0, as in
// NumPy (an empty matrix has norm 0); the least of no parts stays an error.
array largest(const array& x, const std::vector<int>& axes, bool keepdims, const Stream& s) {
  bool empty = false;
  for (int ax : axes) empty |= x.shape()[ax < 0 ? ax + x.ndim() : ax] == 0;
  if (!empty) return max(x, axes, keepdims, s);
  Shape out;
  for (int i = 0; i < x.ndim(); ++i) {
    bool reduced = std::find_if(axes.begin(), axes.end(), [&](int ax) {
                     return (ax < 0 ? ax + x.ndim() : ax) == i;
                   }) != axes.end();
    if (!reduced)
      out.push_back(x.shape()[i]);
    else if (keepdims)
      out.push_back(1);
  }
  return zeros(out, x.dtype(), s);
}

array restore_dims(array x, const std::vector<int>& axes, bool keepdims, const Stream& s) {
  if (!keepdims) return x;
  std::vector<int> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  return expand_dims(x, sorted, s);
}

}  // namespace

array norm(const array& a, std::optional<double> ord, const std::optional<std::vector<int>>& axis,
           bool keepdims, StreamOrDevice so) {
  const char* op = "linalg.norm";
  Stream s = to_stream(so);
  std::vector<int> axes;
  if (axis) {
    axes = normalize_axes(op, *axis, a.ndim());
  } else {
    if (!ord) {
      std::vector<int> all(a.ndim());
      for (int i = 0; i < a.ndim(); ++i) all[i] = i;
      return two_norm(a, all, keepdims, s);
    }
    if (a.ndim() != 1 && a.ndim() != 2) {
      fail(op, "an ord needs a 1-D or 2-D input, or axis, got shape " + shape_str(a.shape()));
    }
    for (int i = 0; i < a.ndim(); ++i) axes.push_back(i);
  }
  if (axes.size() == 1) {
    const int ax = axes[0];
    if (!ord || *ord == 2.0) return two_norm(a, axes, keepdims, s);
    array m = magnitude(a, s);
    double p = *ord;
    if (std::isinf(p)) return p > 0 ? largest(m, axes, keepdims, s) : min(m, axes, keepdims, s);
    if (p == 0.0) {
      return astype(sum(not_equal(m, weak_scalar(0.0, m.dtype()), s), axes, keepdims, s), m.dtype(),
                    s);
    }
    if (p == 1.0) return sum(m, axes, keepdims, s);
    array pw = weak_scalar(p, m.dtype());
    return power(sum(power(m, pw, s), std::vector<int>{ax}, keepdims, s),
                 weak_scalar(1.0 / p, m.dtype()), s);
  }
  if (axes.size() != 2) {
    fail(op, "axis must name 1 (vector norm) or 2 (matrix norm) axes, got " +
                 std::to_string(axes.size()));
  }
  if (!ord) return two_norm(a, axes, keepdims, s);
  const int r = axes[0], c = axes[1];
  const double p = *ord;
  array m = magnitude(a, s);
  if (p == 1.0 || p == -1.0 || std::isinf(p)) {
    // 1: the largest column sum; inf: the largest row sum (and the least).
    int summed = (p == 1.0 || p == -1.0) ? r : c;
    int other = summed == r ? c : r;
    array sums = sum(m, std::vector<int>{summed}, true, s);
    array out = (p > 0) ? largest(sums, std::vector<int>{other}, true, s)
                        : min(sums, std::vector<int>{other}, true, s);
    return keepdims ? out : squeeze(out, std::vector<int>{r, c}, s);
  }
  if (p == 2.0 || p == -2.0) {
    array sv = singular_values(a, r, c, s);
    array out = p > 0 ? largest(sv, std::vector<int>{-1}, false, s)
                      : min(sv, std::vector<int>{-1}, false, s);
    return restore_dims(back_to(out, m.dtype(), s), axes, keepdims, s);
  }
  fail(op, "invalid ord " + std::to_string(p) +
               " for a matrix norm (use 'fro', 'nuc', 1, -1, "
               "2, -2, inf or -inf)");
}

array norm(const array& a, const std::string& ord, const std::optional<std::vector<int>>& axis,
           bool keepdims, StreamOrDevice so) {
  const char* op = "linalg.norm";
  Stream s = to_stream(so);
  std::vector<int> axes;
  if (axis) {
    axes = normalize_axes(op, *axis, a.ndim());
  } else if (a.ndim() == 2) {
    axes = {0, 1};
  } else {
    fail(op, "norm '" + ord + "' needs a 2-D input or two axes, got shape " + shape_str(a.shape()));
  }
  if (axes.size() != 2) {
    fail(op, "norm '" + ord + "' is a matrix norm: axis must name two axes");
  }
  if (ord == "fro") return two_norm(a, axes, keepdims, s);
  if (ord == "nuc") {
    array sv = singular_values(a, axes[0], axes[1], s);
    array out = sum(sv, std::vector<int>{-1}, false, s);
    return restore_dims(back_to(out, magnitude(a, s).dtype(), s), axes, keepdims, s);
  }
  fail(op, "invalid ord '" + ord + "' (use 'fro' or 'nuc', or a number)");
}

std::vector<array> qr(const array& a, StreamOrDevice so) {
  const char* op = "linalg.qr";
  Stream s = to_stream(so);
  Dtype t = compute_dtype(op, a);
  array x = matrices(op, a, false, t, s);
  auto p = std::make_shared<QRFactor>(s);
  auto shapes = p->output_shapes({x});
  auto out = array::make_arrays(shapes, {t, t}, p, {x});
  return {back_to(out[0], a.dtype(), s), back_to(out[1], a.dtype(), s)};
}

std::vector<array> svd(const array& a, bool compute_uv, StreamOrDevice so) {
  const char* op = "linalg.svd";
  Stream s = to_stream(so);
  Dtype t = compute_dtype(op, a);
  array x = matrices(op, a, false, t, s);
  Dtype real = t == complex64 ? float32 : t;
  auto p = std::make_shared<SVD>(s, compute_uv);
  auto shapes = p->output_shapes({x});
  std::vector<Dtype> dtypes =
      compute_uv ? std::vector<Dtype>{t, real, t} : std::vector<Dtype>{real};
  auto out = array::make_arrays(shapes, dtypes, p, {x});
  for (array& o : out) o = back_to(o, a.dtype(), s);
  return out;
}

array inv(const array& a, StreamOrDevice so) {
  Stream s = to_stream(so);
  Dtype t = compute_dtype("linalg.inv", a);
  array x = matrices("linalg.inv", a, true, t, s);
  return back_to(array(x.shape(), t, std::make_shared<Inverse>(s, false, false), {x}), a.dtype(),
                 s);
}

array tri_inv(const array& a, bool upper, StreamOrDevice so) {
  Stream s = to_stream(so);
  Dtype t = compute_dtype("linalg.tri_inv", a);
  array x = matrices("linalg.tri_inv", a, true, t, s);
  return back_to(array(x.shape(), t, std::make_shared<Inverse>(s, true, upper), {x}), a.dtype(), s);
}

array pinv(const array& a, StreamOrDevice so) {
  const char* op = "linalg.pinv";
  Stream s = to_stream(so);
  Dtype t = compute_dtype(op, a);
  array x = matrices(op, a, false, t, s);
  const int64_t m = x.shape(-2), n = x.shape(-1), k = std::min(m, n);
  if (k == 0) {
    Shape shape(x.shape().begin(), x.shape().end() - 2);
    shape.insert(shape.end(), {n, m});
    return back_to(zeros(shape, t, s), a.dtype(), s);
  }
  auto usv = svd(x, true, s);
  array u = top_left(usv[0], m, k, s);
  array sv = usv[1];
  array vt = top_left(usv[2], k, n, s);
  // Singular values below max(M, N) * eps * the largest are taken as zero.
  double eps =
      t == float64 ? std::numeric_limits<double>::epsilon() : std::numeric_limits<float>::epsilon();
  array cutoff = multiply(max(sv, std::vector<int>{-1}, true, s),
                          weak_scalar(static_cast<double>(std::max(m, n)) * eps, sv.dtype()), s);
  array keep = greater(sv, cutoff, s);
  array safe = where(keep, sv, weak_scalar(1.0, sv.dtype()), s);
  array sinv = where(keep, reciprocal(safe, s), weak_scalar(0.0, sv.dtype()), s);
  array vs = multiply(mT(is_complex(t) ? conjugate(vt, s) : vt, s), expand_dims(sinv, {-2}, s), s);
  array uh = mT(is_complex(t) ? conjugate(u, s) : u, s);
  return back_to(matmul(vs, uh, s), a.dtype(), s);
}

array cholesky(const array& a, bool upper, StreamOrDevice so) {
  Stream s = to_stream(so);
  Dtype t = compute_dtype("linalg.cholesky", a);
  array x = matrices("linalg.cholesky", a, true, t, s);
  return back_to(array(x.shape(), t, std::make_shared<Cholesky>(s, upper), {x}), a.dtype(), s);
}

array cholesky_inv(const array& factor, bool upper, StreamOrDevice so) {
  Stream s = to_stream(so);
  Dtype t = compute_dtype("linalg.cholesky_inv", factor);
  array x = matrices("linalg.cholesky_inv", factor, true, t, s);
  return back_to(array(x.shape(), t, std::make_shared<CholeskyInverse>(s, upper), {x}),
                 factor.dtype(), s);
}

array cross(const array& a, const array& b, int axis, StreamOrDevice so) {
  const char* op = "linalg.cross";
  Stream s = to_stream(so);
  if (a.ndim() == 0 || b.ndim() == 0) fail(op, "inputs must have at least one dimension");
  int ax_a = axis < 0 ? axis + a.ndim() : axis;
  int ax_b = axis < 0 ? axis + b.ndim() : axis;
  if (ax_a < 0 || ax_a >= a.ndim() || ax_b < 0 || ax_b >= b.ndim()) {
    fail(op, "axis " + std::to_string(axis) + " is out of bounds for shapes " +
                 shape_str(a.shape()) + " and " + shape_str(b.shape()));
  }
  if (a.shape(ax_a) != 3 || b.shape(ax_b) != 3) {
    fail(op, "the vectors along axis " + std::to_string(axis) +
                 " must have 3 components, got shapes " + shape_str(a.shape()) + " and " +
                 shape_str(b.shape()));
  }
  auto part = [&](const array& x, int ax, int64_t i) {
    return take(x, scalar(static_cast<int64_t>(i)), ax, s);
  };
  array a0 = part(a, ax_a, 0), a1 = part(a, ax_a, 1), a2 = part(a, ax_a, 2);
  array b0 = part(b, ax_b, 0), b1 = part(b, ax_b, 1), b2 = part(b, ax_b, 2);
  array c0 = subtract(multiply(a1, b2, s), multiply(a2, b1, s), s);
  array c1 = subtract(multiply(a2, b0, s), multiply(a0, b2, s), s);
  array c2 = subtract(multiply(a0, b1, s), multiply(a1, b0, s), s);
  array out = stack({c0, c1, c2}, 0, s);
  int out_axis = axis < 0 ? axis + out.ndim() : axis;
  return moveaxis(out, 0, out_axis, s);
}

std::vector<array> eig(const array& a, StreamOrDevice so) {
  Stream s = to_stream(so);
  Dtype t = compute_dtype("linalg.eig", a);
  array x = matrices("linalg.eig", a, true, t, s);
  auto p = std::make_shared<Eig>(s, true);
  return array::make_arrays(p->output_shapes({x}), {complex64, complex64}, p, {x});
}

array eigvals(const array& a, StreamOrDevice so) {
  Stream s = to_stream(so);
  Dtype t = compute_dtype("linalg.eigvals", a);
  array x = matrices("linalg.eigvals", a, true, t, s);
  auto p = std::make_shared<Eig>(s, false);
  return array::make_arrays(p->output_shapes({x}), {complex64}, p, {x})[0];
}

namespace {

bool uplo_upper(const char* op, const std::string& uplo) {
  if (uplo == "L") return false;
  if (uplo == "U") return true;
  fail(op, "UPLO must be 'L' or 'U', got '" + uplo + "'");
}

}  // namespace

std::vector<array> eigh(const array& a, const std::string& uplo, StreamOrDevice so) {
  Stream s = to_stream(so);
  bool upper = uplo_upper("linalg.eigh", uplo);
  Dtype t = compute_dtype("linalg.eigh", a);
  array x = matrices("linalg.eigh", a, true, t, s);
  Dtype real = t == complex64 ? float32 : t;
  auto p = std::make_shared<Eigh>(s, upper, true);
  auto out = array::make_arrays(p->output_shapes({x}), {real, t}, p, {x});
  return {back_to(out[0], a.dtype(), s), back_to(out[1], a.dtype(), s)};
}

array eigvalsh(const array& a, const std::string& uplo, StreamOrDevice so) {
  Stream s = to_stream(so);
  bool upper = uplo_upper("linalg.eigvalsh", uplo);
  Dtype t = compute_dtype("linalg.eigvalsh", a);
  array x = matrices("linalg.eigvalsh", a, true, t, s);
  Dtype real = t == complex64 ? float32 : t;
  auto p = std::make_shared<Eigh>(s, upper, false);
  return back_to(array::make_arrays(p->output_shapes({x}), {real}, p, {x})[0], a.dtype(), s);
}

namespace {

std::vector<array> lu_outputs(const char* op, const array& a, const Stream& s) {
  Dtype t = compute_dtype(op, a);
  array x = matrices(op, a, false, t, s);
  auto p = std::make_shared<LUFactor>(s);
  return array::make_arrays(p->output_shapes({x}), {t, int32, int32}, p, {x});
}

}  // namespace

std::vector<array> lu(const array& a, StreamOrDevice so) {
  Stream s = to_stream(so);
  auto f = lu_outputs("linalg.lu", a, s);
  const int64_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Dtype t = f[0].dtype();
  array l = add(tril(top_left(f[0], m, k, s), -1, s), eye(m, k, 0, t, s), s);
  array u = triu(top_left(f[0], k, n, s), 0, s);
  return {f[2], back_to(l, a.dtype(), s), back_to(u, a.dtype(), s)};
}

std::vector<array> lu_factor(const array& a, StreamOrDevice so) {
  Stream s = to_stream(so);
  auto f = lu_outputs("linalg.lu_factor", a, s);
  return {back_to(f[0], a.dtype(), s), f[1]};
}

namespace {

array solve_impl(const char* op, const array& a, const array& b, bool triangular, bool upper,
                 StreamOrDevice so) {
  Stream s = to_stream(so);
  Dtype t = compute_dtype(op, a);
  Dtype tb = compute_dtype(op, b);
  t = promote_types(t, tb);
  array x = matrices(op, a, true, t, s);
  if (b.ndim() == 0) fail(op, "b must have at least one dimension");
  const bool vector = b.ndim() == 1;
  array rhs = vector ? expand_dims(b, {1}, s) : b;
  rhs = rhs.dtype() == t ? rhs : astype(rhs, t, s);
  const int64_t n = x.shape(-1);
  if (rhs.shape(-2) != n) {
    fail(op, "a has shape " + shape_str(a.shape()) + " but b has shape " + shape_str(b.shape()) +
                 " (its rows must number " + std::to_string(n) + ")");
  }
  // Batch axes broadcast together.
  Shape ba(x.shape().begin(), x.shape().end() - 2), bb(rhs.shape().begin(), rhs.shape().end() - 2);
  Shape batch;
  try {
    batch = fastsync::broadcast_shapes(ba, bb);
  } catch (const std::invalid_argument&) {
    fail(op, "the batch shapes of a " + shape_str(a.shape()) + " and b " + shape_str(b.shape()) +
                 " cannot be broadcast together");
  }
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), {n, n});
  sb.insert(sb.end(), {n, rhs.shape(-1)});
  if (x.shape() != sa) x = broadcast_to(x, sa, s);
  if (rhs.shape() != sb) rhs = broadcast_to(rhs, sb, s);
  array out(sb, t, std::make_shared<Solve>(s, triangular, upper), {x, rhs});
  if (vector) out = squeeze(out, std::vector<int>{-1}, s);
  Dtype want = promote_types(a.dtype(), b.dtype());
  return back_to(out, want, s);
}

}  // namespace

array solve(const array& a, const array& b, StreamOrDevice s) {
  return solve_impl("linalg.solve", a, b, false, false, s);
}

array solve_triangular(const array& a, const array& b, bool upper, StreamOrDevice s) {
  return solve_impl("linalg.solve_triangular", a, b, true, upper, s);
}

namespace {

// The LU factorization's sign and diagonal: det = sign * prod(diag).
std::pair<array, array> lu_sign_diag(const char* op, const array& a, const Stream& s) {
  if (a.ndim() < 2 || a.shape(-1) != a.shape(-2)) {
    fail(op, "expects square matrices (..., N, N), got shape " + shape_str(a.shape()));
  }
  auto f = lu_outputs(op, a, s);
  const int64_t n = a.shape(-1);
  array d = diagonal(f[0], 0, -2, -1, s);
  // Each pivot that moved a row flips the sign.
  array moved = not_equal(f[1], arange(0.0, static_cast<double>(n), 1.0, int32, s), s);
  array flips = sum(astype(moved, int32, s), std::vector<int>{-1}, false, s);
  array odd =
      equal(remainder(flips, weak_scalar(int64_t{2}, int32), s), weak_scalar(int64_t{1}, int32), s);
  array parity = where(odd, weak_scalar(-1.0, d.dtype()), weak_scalar(1.0, d.dtype()), s);
  return {parity, d};
}

}  // namespace

// det and slogdet take integer and bool matrices too (as float32), as MLX.
array float_if_exact(const array& a, const Stream& s) {
  return is_inexact(a.dtype()) ? a : astype(a, float32, s);
}

namespace {

// A^-T, or A^-H... as the derivative rules below need it: the transpose of
// the inverse (the conjugation is the cotangent convention's, grad_util.h).
array inverse_transposed(const array& a, const Stream& s) { return mT(inv(a, s), s); }

array matrix_scalar(const array& v, const Stream& s) { return expand_dims(v, {-2, -1}, s); }

// `values`, computed from `a` through the LU factorization (which has no
// derivative), given the derivative rules of det or slogdet.
std::vector<array> with_rules(const array& a, const std::vector<array>& values, CustomVjp vjp,
                              CustomJvp jvp, const Stream& s) {
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (const array& v : values) {
    shapes.push_back(v.shape());
    dtypes.push_back(v.dtype());
  }
  std::vector<array> inputs = values;
  inputs.push_back(a);
  auto p = std::make_shared<CustomTransforms>(s, static_cast<int>(values.size()), std::move(vjp),
                                              std::move(jvp));
  return array::make_arrays(std::move(shapes), std::move(dtypes), std::move(p), std::move(inputs));
}

}  // namespace

array det(const array& in, StreamOrDevice so) {
  Stream s = to_stream(so);
  array a = float_if_exact(in, s);
  if (a.ndim() >= 2 && a.shape(-1) == 0 && a.shape(-2) == 0) {
    Shape batch(a.shape().begin(), a.shape().end() - 2);
    Dtype t = compute_dtype("linalg.det", a);
    return ones(batch, a.dtype() == t ? t : a.dtype(), s);
  }
  // The value comes through the LU factorization, which has no derivative;
  // the rules below give det's own.
  auto [parity, d] = lu_sign_diag("linalg.det", stop_gradient(a, s), s);
  array value = back_to(multiply(parity, prod(d, std::vector<int>{-1}, false, s), s), a.dtype(), s);
  // d det(A) = det(A) tr(A^-1 dA): the vjp is g * conj(det A^-T). A singular
  // matrix has no inverse: its derivative fails as inv does.
  auto vjp = [s](const std::vector<array>& primals, const std::vector<array>& cotangents,
                 const std::vector<array>& outputs) -> std::vector<array> {
    array dd = multiply(matrix_scalar(outputs[0], s), inverse_transposed(primals[0], s), s);
    return {grad::mul_conj(matrix_scalar(cotangents[0], s), dd, s)};
  };
  auto jvp = [s, value](const std::vector<array>& primals,
                        const std::vector<array>& tangents) -> std::vector<array> {
    array tr = sum(diagonal(matmul(inv(primals[0], s), tangents[0], s), 0, -2, -1, s),
                   std::vector<int>{-1}, false, s);
    return {multiply(value, tr, s)};
  };
  return with_rules(a, {value}, vjp, jvp, s)[0];
}

std::vector<array> slogdet(const array& in, StreamOrDevice so) {
  Stream s = to_stream(so);
  array a = float_if_exact(in, s);
  auto [parity, d] = lu_sign_diag("linalg.slogdet", stop_gradient(a, s), s);
  array mag = abs(d, s);
  array logabs = sum(log(mag, s), std::vector<int>{-1}, false, s);
  array signs =
      prod(is_complex(d.dtype()) ? divide(d, mag, s) : sign(d, s), std::vector<int>{-1}, false, s);
  std::vector<array> values = {back_to(multiply(parity, signs, s), a.dtype(), s),
                               back_to(logabs, a.dtype(), s)};
  // log|det A| changes by Re tr(A^-1 dA); the sign is piecewise constant.
  auto vjp = [s](const std::vector<array>& primals, const std::vector<array>& cotangents,
                 const std::vector<array>&) -> std::vector<array> {
    return {grad::mul_conj(matrix_scalar(cotangents[1], s), inverse_transposed(primals[0], s), s)};
  };
  auto jvp = [s, values](const std::vector<array>& primals,
                         const std::vector<array>& tangents) -> std::vector<array> {
    array tr = sum(diagonal(matmul(inv(primals[0], s), tangents[0], s), 0, -2, -1, s),
                   std::vector<int>{-1}, false, s);
    return {zeros_like(values[0], s), real(tr, s)};
  };
  return with_rules(a, values, vjp, jvp, s);
}

}  // namespace fastsync::linalg
