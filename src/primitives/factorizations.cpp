#include "primitives/factorizations.h"

#include <algorithm>

#include "ops/linalg.h"
#include "ops/ops.h"
#include "primitives/grad_util.h"

namespace fastsync {

namespace {

Shape batch_with(const array& a, std::initializer_list<int64_t> tail) {
  Shape s(a.shape().begin(), a.shape().end() - 2);
  s.insert(s.end(), tail);
  return s;
}

int64_t rows(const array& a) { return a.shape(-2); }
int64_t cols(const array& a) { return a.shape(-1); }

}  // namespace

std::vector<Shape> LUFactor::output_shapes(const std::vector<array>& in) const {
  const array& a = in[0];
  Shape piv(a.shape().begin(), a.shape().end() - 2);
  piv.push_back(std::min(rows(a), cols(a)));
  Shape perm(a.shape().begin(), a.shape().end() - 2);
  perm.push_back(rows(a));
  return {a.shape(), piv, perm};
}

std::vector<Shape> QRFactor::output_shapes(const std::vector<array>& in) const {
  const array& a = in[0];
  int64_t k = std::min(rows(a), cols(a));
  return {batch_with(a, {rows(a), k}), batch_with(a, {k, cols(a)})};
}

std::vector<Shape> SVD::output_shapes(const std::vector<array>& in) const {
  const array& a = in[0];
  Shape s(a.shape().begin(), a.shape().end() - 2);
  s.push_back(std::min(rows(a), cols(a)));
  if (!compute_uv_) return {s};
  return {batch_with(a, {rows(a), rows(a)}), s, batch_with(a, {cols(a), cols(a)})};
}

std::vector<Shape> Eigh::output_shapes(const std::vector<array>& in) const {
  Shape w(in[0].shape().begin(), in[0].shape().end() - 1);
  if (!vectors_) return {w};
  return {w, in[0].shape()};
}

std::vector<Shape> Eig::output_shapes(const std::vector<array>& in) const {
  Shape w(in[0].shape().begin(), in[0].shape().end() - 1);
  if (!vectors_) return {w};
  return {w, in[0].shape()};
}

std::vector<Shape> Solve::output_shapes(const std::vector<array>& in) const {
  return {in[1].shape()};
}

// --- derivatives --------------------------------------------------------
// Real inputs only: the complex rules need conjugations these do not apply,
// so a complex input's vjp raises NotImplementedError.

namespace {

void real_only(const char* op, const array& a) {
  if (is_complex(a.dtype())) {
    throw not_implemented(std::string("[") + op + "] has no derivative for complex input yet");
  }
}

array mT(const array& a, Stream s) { return swapaxes(a, -1, -2, s); }

array mm(const array& a, const array& b, Stream s) { return matmul(a, b, s); }

// The leading r x c block of each matrix.
array top_left(const array& a, int64_t r, int64_t c, Stream s) {
  std::vector<std::optional<int64_t>> start(a.ndim()), stop(a.ndim()), step(a.ndim());
  stop[a.ndim() - 2] = r;
  stop[a.ndim() - 1] = c;
  return slice(a, start, stop, step, s);
}

// The triangle a triangular op reads.
array triangle(const array& a, bool upper, Stream s) {
  return upper ? triu(a, 0, s) : tril(a, 0, s);
}

array symmetrize(const array& a, Stream s) {
  return multiply(add(a, mT(a, s), s), grad::k(0.5, a), s);
}

// 1 / (w_j - w_i) off the diagonal, 0 on it (and where two values tie).
array inverse_gaps(const array& w, Stream s) {
  array wi = expand_dims(w, {-1}, s);
  array wj = expand_dims(w, {-2}, s);
  array gap = subtract(wj, wi, s);
  array zero = equal(gap, grad::k(0.0, gap), s);
  array safe = where(zero, grad::k(1.0, gap), gap, s);
  return where(zero, grad::k(0.0, gap), reciprocal(safe, s), s);
}

}  // namespace

std::vector<array> Inverse::vjp(const std::vector<array>& primals,
                                const std::vector<array>& cotangents, const std::vector<int>&,
                                const std::vector<array>& outputs) {
  real_only("linalg.inv", primals[0]);
  const Stream s = stream();
  const array& y = outputs[0];
  // d(A^-1) = -A^-1 dA A^-1, so dA = -A^-T G A^-T.
  array g = negative(mm(mm(mT(y, s), cotangents[0], s), mT(y, s), s), s);
  return {triangular_ ? triangle(g, upper_, s) : g};
}

std::vector<array> Solve::vjp(const std::vector<array>& primals,
                              const std::vector<array>& cotangents, const std::vector<int>& argnums,
                              const std::vector<array>& outputs) {
  real_only("linalg.solve", primals[0]);
  const Stream s = stream();
  const array& a = primals[0];
  const array& x = outputs[0];
  // x = A^-1 b: db = A^-T G, dA = -db x^T.
  array db = array(cotangents[0].shape(), cotangents[0].dtype(),
                   std::make_shared<Solve>(s, triangular_, !upper_), {mT(a, s), cotangents[0]});
  std::vector<array> out;
  for (int i : argnums) {
    if (i == 1) {
      out.push_back(db);
    } else {
      array da = negative(mm(db, mT(x, s), s), s);
      out.push_back(triangular_ ? triangle(da, upper_, s) : da);
    }
  }
  return out;
}

std::vector<array> Cholesky::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                 const std::vector<int>&, const std::vector<array>& outputs) {
  real_only("linalg.cholesky", outputs[0]);
  const Stream s = stream();
  // With L lower (U = L^T for upper): S = L^-T Phi(L^T dL) L^-1, where Phi
  // keeps the lower triangle and halves the diagonal; the gradient of the
  // symmetric input is S symmetrized.
  array l = upper_ ? mT(outputs[0], s) : outputs[0];
  array gl = upper_ ? mT(cotangents[0], s) : cotangents[0];
  array p = mm(mT(l, s), gl, s);
  array phi = subtract(tril(p, 0, s), multiply(tril(triu(p, 0, s), 0, s), grad::k(0.5, p), s), s);
  array linv = array(l.shape(), l.dtype(), std::make_shared<Inverse>(s, true, false), {l});
  array g = mm(mm(mT(linv, s), phi, s), linv, s);
  return {symmetrize(g, s)};
}

std::vector<array> Eigh::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents, const std::vector<int>&,
                             const std::vector<array>& outputs) {
  real_only("linalg.eigh", primals[0]);
  const Stream s = stream();
  std::vector<array> wv = outputs;
  if (!vectors_) {
    wv = array::make_arrays(
        {Shape(primals[0].shape().begin(), primals[0].shape().end() - 1), primals[0].shape()},
        {outputs[0].dtype(), primals[0].dtype()}, std::make_shared<Eigh>(s, upper_, true),
        {primals[0]});
  }
  const array& w = wv[0];
  const array& v = wv[1];
  // A = V diag(w) V^T: dA = V (diag(dw) + F o (V^T dV)) V^T, F_ij = 1 / (w_j - w_i).
  array inner =
      multiply(eye(w.shape(-1), {}, 0, v.dtype(), s), expand_dims(cotangents[0], {-2}, s), s);
  if (vectors_)
    inner = add(inner, multiply(inverse_gaps(w, s), mm(mT(v, s), cotangents[1], s), s), s);
  array g = mm(mm(v, inner, s), mT(v, s), s);
  return {symmetrize(g, s)};
}

std::vector<array> SVD::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                            const std::vector<int>&, const std::vector<array>& outputs) {
  real_only("linalg.svd", primals[0]);
  const Stream s = stream();
  const array& a = primals[0];
  const int64_t m = rows(a), n = cols(a), k = std::min(m, n);
  std::vector<array> usv = outputs;
  if (!compute_uv_) {
    usv = array::make_arrays({batch_with(a, {m, m}), outputs[0].shape(), batch_with(a, {n, n})},
                             {a.dtype(), outputs[0].dtype(), a.dtype()},
                             std::make_shared<SVD>(s, true), {a});
  }
  // The thin factors: A = U S V^T with U (m, k), V (n, k).
  array u = top_left(usv[0], m, k, s);
  array sv = usv[1];
  array v = mT(top_left(usv[2], k, n, s), s);
  array gs = compute_uv_ ? cotangents[1] : cotangents[0];
  array inner = multiply(eye(k, {}, 0, a.dtype(), s), expand_dims(gs, {-2}, s), s);
  array g = mm(mm(u, inner, s), mT(v, s), s);
  if (compute_uv_) {
    array gu = top_left(cotangents[0], m, k, s);
    array gv = mT(top_left(cotangents[2], k, n, s), s);
    array s2 = square(sv, s);
    array f = inverse_gaps(s2, s);  // 1 / (s_j^2 - s_i^2)
    array smat = multiply(eye(k, {}, 0, a.dtype(), s), expand_dims(sv, {-2}, s), s);
    array ut_gu = mm(mT(u, s), gu, s);
    array vt_gv = mm(mT(v, s), gv, s);
    array j = multiply(f, subtract(ut_gu, mT(ut_gu, s), s), s);
    array kk = multiply(f, subtract(vt_gv, mT(vt_gv, s), s), s);
    array core = add(mm(j, smat, s), mm(smat, kk, s), s);
    g = add(g, mm(mm(u, core, s), mT(v, s), s), s);
    array sinv = expand_dims(reciprocal(sv, s), {-2}, s);  // scales columns by 1 / s
    if (m > k) {
      array proj = subtract(eye(m, {}, 0, a.dtype(), s), mm(u, mT(u, s), s), s);
      g = add(g, mm(multiply(mm(proj, gu, s), sinv, s), mT(v, s), s), s);
    }
    if (n > k) {
      array proj = subtract(eye(n, {}, 0, a.dtype(), s), mm(v, mT(v, s), s), s);
      g = add(g, mm(multiply(u, sinv, s), mT(mm(proj, gv, s), s), s), s);
    }
  }
  return {g};
}

std::vector<array> QRFactor::vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents, const std::vector<int>&,
                                 const std::vector<array>& outputs) {
  real_only("linalg.qr", primals[0]);
  const array& a = primals[0];
  if (rows(a) < cols(a)) {
    throw not_implemented("[linalg.qr] has no derivative for wide matrices (M < N) yet");
  }
  const Stream s = stream();
  const array& q = outputs[0];
  const array& r = outputs[1];
  const array& gq = cotangents[0];
  const array& gr = cotangents[1];
  // M = R dR^T - dQ^T Q; dA = (dQ + Q copyltu(M)) R^-T, copyltu mirroring
  // M's lower triangle onto its upper one.
  array mmat = subtract(mm(r, mT(gr, s), s), mm(mT(gq, s), q, s), s);
  array sym = add(tril(mmat, 0, s), mT(tril(mmat, -1, s), s), s);
  array b = add(gq, mm(q, sym, s), s);
  // X = B R^-T solves X R^T = B, i.e. R X^T = B^T.
  array xt =
      array(mT(b, s).shape(), b.dtype(), std::make_shared<Solve>(s, true, true), {r, mT(b, s)});
  return {mT(xt, s)};
}

}  // namespace fastsync
