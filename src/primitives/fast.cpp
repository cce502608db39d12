// Derivative and batching rules of the fused primitives (primitives/fast.h),
// written as ops on the primitive's stream so that they differentiate again.
// Statistics are recomputed from x rather than kept from the forward pass.
#include "primitives/fast.h"

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

std::vector<array> RMSNorm::vjp(const std::vector<array>& primals,
                                const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  const Stream s = stream();
  const array& x0 = primals[0];
  array x = widen(x0, s), c = widen(cotangents[0], s);
  array inv = rsqrt(add(mean(square(x, s), last(x), true, s), grad::k(eps_, x), s), s);
  array xhat = multiply(x, inv, s);
  array g = has_w_ ? multiply(c, widen(primals[1], s), s) : c;
  array proj = mean(multiply(g, xhat, s), last(x), true, s);
  array dx = multiply(inv, subtract(g, multiply(xhat, proj, s), s), s);
  std::vector<array> all{astype(dx, x0.dtype(), s)};
  if (has_w_) all.push_back(astype(sum_rows(multiply(c, xhat, s), s), primals[1].dtype(), s));
  return pick(all, argnums);
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
                             const std::vector<array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<array>&) {
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
