// Derivative and batching rules of the fused primitives (primitives/fast.h),
// written as ops on the primitive's stream so that they differentiate again.
// Statistics are recomputed from x rather than kept from the forward pass.
#include "primitives/fast.h"

#include "autodiff.h"
#include "ops/fast.h"
#include "ops/ops.h"
#include "primitives/batching.h"
#include "primitives/grad_util.h"

namespace fastsync {

namespace {

// Low-precision inputs differentiate in float32 (as the forward computes).
array widen(const array& a, Stream s) {
  return a.dtype() == float16 || a.dtype() == bfloat16 ? astype(a, float32, s) : a;
}

std::vector<int> last(const array& a) { return {a.ndim() - 1}; }

// Sum of c over every axis but the last: a weight's (or bias's) gradient.
array sum_rows(const array& c, Stream s) {
  std::vector<int> axes;
  for (int i = 0; i < c.ndim() - 1; ++i) axes.push_back(i);
  return axes.empty() ? c : sum(c, axes, false, s);
}

// Collects the gradients of `argnums` from a full list (x, w, b order).
std::vector<array> pick(const std::vector<array>& all, const std::vector<int>& argnums) {
  std::vector<array> out;
  for (int i : argnums) out.push_back(all[i]);
  return out;
}

}  // namespace

// RMSNorm's gradients composed of ops: what RMSNormGrad computes, and what
// differentiates it again. x, w, c in the norm's dtype.
static std::vector<array> rms_norm_grads(const array& x0, const std::optional<array>& w,
                                         const array& c0, float eps, bool with_dw, Stream s) {
  array x = widen(x0, s), c = widen(c0, s);
  array inv = rsqrt(add(mean(square(x, s), last(x), true, s), grad::k(eps, x), s), s);
  array xhat = multiply(x, inv, s);
  array g = w ? multiply(c, widen(*w, s), s) : c;
  array proj = mean(multiply(g, xhat, s), last(x), true, s);
  array dx = multiply(inv, subtract(g, multiply(xhat, proj, s), s), s);
  std::vector<array> out{astype(dx, x0.dtype(), s)};
  if (with_dw) out.push_back(astype(sum_rows(multiply(c, xhat, s), s), w->dtype(), s));
  return out;
}

// One RMSNormGrad node (a pass over the rows and one over the columns for
// dw) in place of a dozen elementwise ops and reductions in float32.
std::vector<array> RMSNorm::vjp(const std::vector<array>& primals,
                                const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  const Stream s = stream();
  const array& x = primals[0];
  bool with_dw = false;
  for (int i : argnums) with_dw = with_dw || i == 1;
  std::vector<array> in{x};
  std::vector<Shape> shapes{x.shape()};
  std::vector<Dtype> dtypes{x.dtype()};
  if (has_w_) in.push_back(primals[1]);
  if (with_dw) {
    shapes.push_back(primals[1].shape());
    dtypes.push_back(primals[1].dtype());
  }
  in.push_back(astype(cotangents[0], x.dtype(), s));
  std::vector<array> all =
      array::make_arrays(std::move(shapes), std::move(dtypes),
                         std::make_shared<RMSNormGrad>(s, eps_, has_w_, with_dw), std::move(in));
  return pick(all, argnums);
}

std::vector<Shape> RMSNormGrad::output_shapes(const std::vector<array>& inputs) const {
  std::vector<Shape> out{inputs[0].shape()};
  if (with_dw_) out.push_back(inputs[1].shape());
  return out;
}

// Second derivatives: the composed gradients, differentiated.
std::vector<array> RMSNormGrad::vjp(const std::vector<array>& primals,
                                    const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const Stream s = stream();
  const float eps = eps_;
  const bool has_w = has_w_, with_dw = with_dw_;
  auto composed = [s, eps, has_w, with_dw](const std::vector<array>& in) {
    std::optional<array> w;
    if (has_w) w = in[1];
    return rms_norm_grads(in[0], w, in.back(), eps, with_dw, s);
  };
  auto [values, grads] = fastsync::vjp(composed, primals, cotangents);
  return pick(grads, argnums);
}

std::vector<array> LayerNorm::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  const Stream s = stream();
  const array& x0 = primals[0];
  array x = widen(x0, s), c = widen(cotangents[0], s);
  array centered = subtract(x, mean(x, last(x), true, s), s);
  array var = mean(square(centered, s), last(x), true, s);
  array inv = rsqrt(add(var, grad::k(eps_, x), s), s);
  array xhat = multiply(centered, inv, s);
  array g = has_w_ ? multiply(c, widen(primals[1], s), s) : c;
  array g_mean = mean(g, last(x), true, s);
  array proj = mean(multiply(g, xhat, s), last(x), true, s);
  array dx = multiply(inv, subtract(subtract(g, g_mean, s), multiply(xhat, proj, s), s), s);
  std::vector<array> all{astype(dx, x0.dtype(), s)};
  size_t next = 1;
  if (has_w_) {
    all.push_back(astype(sum_rows(multiply(c, xhat, s), s), primals[next].dtype(), s));
    ++next;
  }
  if (has_b_) all.push_back(astype(sum_rows(c, s), primals[next].dtype(), s));
  return pick(all, argnums);
}

std::vector<array> RoPE::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents, const std::vector<int>& argnums,
                             const std::vector<array>&) {
  const Stream s = stream();
  std::vector<array> out;
  for (int i : argnums) {
    if (i != 0) {
      throw std::invalid_argument(
          "[rope] no gradient with respect to the offset or the frequencies: wrap them in "
          "stop_gradient");
    }
    // A rotation's transpose rotates back: the same angles, negated.
    std::vector<array> in{cotangents[0], primals[1]};
    if (has_freqs_) in.push_back(primals[2]);
    auto back = std::make_shared<RoPE>(s, dims_, traditional_, base_, -scale_, has_freqs_);
    out.push_back(array(cotangents[0].shape(), cotangents[0].dtype(), back, in));
  }
  return out;
}

// Over the last axis: with the batch axis first, rows are still rows, if the
// weight and bias are shared (not batched) and x has a row axis left.
std::pair<std::vector<array>, std::vector<int>> RMSNorm::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  bool shared = axes.size() < 2 || axes[1] < 0;
  if (!shared || inputs[0].ndim() < 2 || axes[0] < 0) {
    return Primitive::vmap(inputs, axes, outputs, self);
  }
  std::vector<array> in = inputs;
  in[0] = batching::batch_first(inputs[0], axes[0], stream());
  return batching::apply(self, in, outputs);
}

std::pair<std::vector<array>, std::vector<int>> LayerNorm::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  bool shared = true;
  for (size_t i = 1; i < axes.size(); ++i) shared = shared && axes[i] < 0;
  if (!shared || inputs[0].ndim() < 2 || axes[0] < 0) {
    return Primitive::vmap(inputs, axes, outputs, self);
  }
  std::vector<array> in = inputs;
  in[0] = batching::batch_first(inputs[0], axes[0], stream());
  return batching::apply(self, in, outputs);
}

}  // namespace fastsync

// --- attention ------------------------------------------------------------

#include "ops/linalg.h"

namespace fastsync {

std::vector<Shape> ScaledDotProductAttention::output_shapes(
    const std::vector<array>& inputs) const {
  const Shape& q = inputs[0].shape();
  return {{q[0], q[1], q[2], inputs[2].shape()[3]}};
}

Dtype attention_product_dtype(Dtype in, Dtype compute) {
  return in == float16 || in == bfloat16 ? in : compute;
}

AttentionProbs attention_probs(const array& q0, const array& k0, float scale, bool causal,
                               const std::optional<array>& mask, const std::optional<array>& sinks,
                               Stream s) {
  int64_t b = q0.shape()[0], hq = q0.shape()[1], lq = q0.shape()[2], d = q0.shape()[3];
  int64_t hk = k0.shape()[1], lk = k0.shape()[2], rep = hq / hk;
  Dtype ct = q0.dtype() == float64 ? float64 : float32;
  Dtype pd = attention_product_dtype(q0.dtype(), ct);
  auto wide = [&](const array& a) { return astype(a, ct, s); };
  // Scaled before the product, in its dtype: a pass over q, not over the
  // scores (one rounding more for half types, as MLX and PyTorch do).
  array q = astype(q0, pd, s);
  q = reshape(multiply(q, grad::k(scale, q), s), {b, hk, rep, lq, d}, s);
  array k = expand_dims(astype(k0, pd, s), {2}, s);
  array scores = wide(matmul(q, swapaxes(k, -1, -2, s), s));
  array neg_inf = full({}, scalar(-INFINITY), ct, s);
  if (causal) {
    array rows = reshape(arange(double(lk - lq), double(lk), 1, int32, s), {lq, 1}, s);
    array cols = reshape(arange(0, double(lk), 1, int32, s), {1, lk}, s);
    scores = where(greater_equal(rows, cols, s), scores, neg_inf, s);
  }
  if (mask) {
    array m = reshape(*mask, {b, hk, rep, lq, lk}, s);
    scores = m.dtype() == bool_ ? where(m, scores, neg_inf, s) : add(scores, wide(m), s);
  }
  if (sinks) {
    array col = broadcast_to(reshape(wide(*sinks), {1, hk, rep, 1, 1}, s), {b, hk, rep, lq, 1}, s);
    scores = concatenate({col, scores}, -1, s);
  }
  array all = softmax(scores, std::vector<int>{-1}, s);
  array keys =
      sinks ? slice(all, {0, 0, 0, 0, 1}, {b, hk, rep, lq, lk + 1}, {1, 1, 1, 1, 1}, s) : all;
  return {all, keys, ct, pd};
}

// The composed attention, recomputed: probabilities P over (B, Hk, rep, Lq,
// Lk) in float32, then the usual products. Query heads sharing a key head
// sum their contributions to it.
std::vector<array> ScaledDotProductAttention::vjp(const std::vector<array>& primals,
                                                  const std::vector<array>& cotangents,
                                                  const std::vector<int>& argnums,
                                                  const std::vector<array>&) {
  const Stream s = stream();
  const array &q0 = primals[0], &k0 = primals[1], &v0 = primals[2];
  int64_t b = q0.shape()[0], hq = q0.shape()[1], lq = q0.shape()[2], d = q0.shape()[3];
  int64_t hk = k0.shape()[1], dv = v0.shape()[3], rep = hq / hk;
  size_t next = 3;
  std::optional<array> mask, sinks;
  if (has_mask_) mask = primals[next++];
  if (has_sinks_) sinks = primals[next];
  AttentionProbs P = attention_probs(q0, k0, scale_, causal_, mask, sinks, s);
  Dtype ct = P.compute, pd = P.product;
  auto f32 = [&](const array& a) { return astype(a, ct, s); };
  auto prod = [&](const array& a) { return astype(a, pd, s); };
  array q = reshape(prod(q0), {b, hk, rep, lq, d}, s);
  array k = expand_dims(prod(k0), {2}, s);
  array v = expand_dims(prod(v0), {2}, s);
  const array& probs = P.keys;
  const array& probs_all = P.all;
  array dout = reshape(prod(cotangents[0]), {b, hk, rep, lq, dv}, s);
  array dp = f32(matmul(dout, swapaxes(v, -1, -2, s), s));
  array rowdot = sum(multiply(dp, probs, s), std::vector<int>{-1}, true, s);
  array ds_c = multiply(probs, subtract(dp, rowdot, s), s);  // the scores' gradient
  array ds = prod(ds_c);
  std::vector<array> out;
  for (int i : argnums) {
    if (i == 0) {
      array dq = f32(matmul(ds, k, s));
      dq = multiply(dq, grad::k(scale_, dq), s);
      out.push_back(astype(reshape(dq, q0.shape(), s), q0.dtype(), s));
    } else if (i == 1) {
      array dk = f32(matmul(swapaxes(ds, -1, -2, s), q, s));
      dk = multiply(sum(dk, std::vector<int>{2}, false, s), grad::k(scale_, dk), s);
      out.push_back(astype(dk, k0.dtype(), s));
    } else if (i == 2) {
      array dvv = f32(matmul(swapaxes(prod(probs), -1, -2, s), dout, s));
      dvv = sum(dvv, std::vector<int>{2}, false, s);
      out.push_back(astype(dvv, v0.dtype(), s));
    } else if (has_sinks_ && i == static_cast<int>(primals.size()) - 1) {
      array p_sink = slice(probs_all, {0, 0, 0, 0, 0}, {b, hk, rep, lq, 1}, {1, 1, 1, 1, 1}, s);
      array g = sum(negative(multiply(p_sink, rowdot, s), s), std::vector<int>{0, 3, 4}, false, s);
      out.push_back(astype(reshape(g, {hq}, s), primals[i].dtype(), s));
    } else {
      // The additive mask adds to the scores: its gradient is theirs.
      const array& m = primals[i];
      array dm = m.dtype() == bool_ ? zeros(m.shape(), float32, s) : reshape(ds_c, m.shape(), s);
      out.push_back(astype(dm, m.dtype() == bool_ ? float32 : m.dtype(), s));
    }
  }
  return out;
}

}  // namespace fastsync

// --- flash attention --------------------------------------------------------

namespace fastsync {

std::vector<Shape> FlashAttention::output_shapes(const std::vector<array>& inputs) const {
  const Shape& q = inputs[0].shape();
  return {{q[0], q[1], q[2], inputs[2].shape()[3]}, {q[0], q[1], q[2]}};
}

// The log-sum-exp output is internal (the op returns the attention only),
// so its cotangent is zero and ignored.
std::vector<array> FlashAttention::vjp(const std::vector<array>& primals,
                                       const std::vector<array>& cotangents,
                                       const std::vector<int>& argnums,
                                       const std::vector<array>& outputs) {
  const Stream s = stream();
  const array &q = primals[0], &k = primals[1], &v = primals[2];
  std::vector<array> in{q, k, v, outputs[0], outputs[1], astype(cotangents[0], q.dtype(), s)};
  std::vector<array> grads =
      array::make_arrays({q.shape(), k.shape(), v.shape()}, {q.dtype(), k.dtype(), v.dtype()},
                         std::make_shared<FlashAttentionGrad>(s, scale_, causal_), std::move(in));
  std::vector<array> out;
  for (int i : argnums) out.push_back(grads[i]);
  return out;
}

std::vector<Shape> FlashAttentionGrad::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape(), inputs[1].shape(), inputs[2].shape()};
}

// The gradients as ScaledDotProductAttention::vjp composes them from q, k, v
// and the cotangent, differentiated: the same values, without the forward's
// outputs (which only save recomputation), so those get zeros.
std::vector<array> FlashAttentionGrad::vjp(const std::vector<array>& primals,
                                           const std::vector<array>& cotangents,
                                           const std::vector<int>& argnums,
                                           const std::vector<array>&) {
  const Stream s = stream();
  const float scale = scale_;
  const bool causal = causal_;
  auto composed = [s, scale, causal](const std::vector<array>& x) {
    ScaledDotProductAttention attention(s, scale, causal, false, false);
    return attention.vjp({x[0], x[1], x[2]}, {x[3]}, {0, 1, 2}, {});
  };
  auto [values, grads] = fastsync::vjp(composed, {primals[0], primals[1], primals[2], primals[5]},
                                       {cotangents[0], cotangents[1], cotangents[2]});
  std::vector<array> out;
  for (int i : argnums) {
    if (i < 3) {
      out.push_back(grads[i]);
    } else if (i == 5) {
      out.push_back(grads[3]);
    } else {
      out.push_back(zeros_like(primals[i], s));
    }
  }
  return out;
}

}  // namespace fastsync
