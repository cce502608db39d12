// Fused primitives behind fastsync.fast: RMSNorm and LayerNorm over the last
// axis, and RoPE (rotary position embedding). Each is one kernel per backend
// (backend/cpu/fast.cpp, backend/cuda/fast.cu) in place of the handful the
// composed ops would issue; derivatives are composed from ops
// (primitives/fast.cpp), so they differentiate again.
//
// Inputs are validated and cast by the ops layer (ops/fast.cpp): floating x;
// weight and bias (when present) 1-D of x's last size in x's dtype; RoPE's
// offsets int32 (one, or one per entry of x's first axis), its frequencies
// float32. Statistics and rotations are computed in float (double for
// float64) and rounded once to x's dtype.
#pragma once

#include <optional>

#include "primitive.h"

namespace fastsync {

// y = x / sqrt(mean(x^2) + eps) [* w]. Inputs: x [, w].
class RMSNorm : public Primitive {
 public:
  RMSNorm(Stream s, float eps, bool has_weight) : Primitive(s), eps_(eps), has_w_(has_weight) {}
  const char* name() const override { return "RMSNorm"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override {
    return {inputs[0].shape()};
  }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
  FASTSYNC_VMAP
  float eps() const { return eps_; }
  bool has_weight() const { return has_w_; }

 private:
  float eps_;
  bool has_w_;
};

// RMSNorm's gradients in one pass per row: inputs x [, w], the cotangent c
// (x's dtype); outputs dx [, dw when with_dw] (the weight's gradient, a sum
// over rows). Its own derivatives are those of the composed gradients, so
// it differentiates again.
class RMSNormGrad : public Primitive {
 public:
  RMSNormGrad(Stream s, float eps, bool has_weight, bool with_dw)
      : Primitive(s), eps_(eps), has_w_(has_weight), with_dw_(with_dw) {}
  const char* name() const override { return "RMSNormGrad"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP

 private:
  float eps_;
  bool has_w_, with_dw_;
};

// y = (x - mean) / sqrt(var + eps) [* w] [+ b]. Inputs: x [, w] [, b].
class LayerNorm : public Primitive {
 public:
  LayerNorm(Stream s, float eps, bool has_weight, bool has_bias)
      : Primitive(s), eps_(eps), has_w_(has_weight), has_b_(has_bias) {}
  const char* name() const override { return "LayerNorm"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override {
    return {inputs[0].shape()};
  }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
  FASTSYNC_VMAP
  float eps() const { return eps_; }
  bool has_weight() const { return has_w_; }
  bool has_bias() const { return has_b_; }

 private:
  float eps_;
  bool has_w_, has_b_;
};

// Rotates pairs of the first `dims` features of x's last axis by
// angle = (offset + position) * scale * inv_freq[i], position along the
// second-to-last axis. Pairs are (2i, 2i+1) when traditional, else
// (i, i + dims/2). inv_freq[i] = base^(-2i/dims), or 1 / freqs[i].
// Inputs: x, offsets [, freqs]; offsets has 1 entry or x.shape[0].
class RoPE : public Primitive {
 public:
  RoPE(Stream s, int dims, bool traditional, float base, float scale, bool has_freqs)
      : Primitive(s),
        dims_(dims),
        traditional_(traditional),
        base_(base),
        scale_(scale),
        has_freqs_(has_freqs) {}
  const char* name() const override { return "RoPE"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override {
    return {inputs[0].shape()};
  }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
  // Offsets are positions (no gradient); frequencies refuse one in vjp.
  bool passes_gradient(int input) const override { return input != 1; }
  int dims() const { return dims_; }
  bool traditional() const { return traditional_; }
  float base() const { return base_; }
  float scale() const { return scale_; }
  bool has_freqs() const { return has_freqs_; }

 private:
  int dims_;
  bool traditional_;
  float base_, scale_;
  bool has_freqs_;
};

}  // namespace fastsync

namespace fastsync {

// softmax(q k^T * scale + mask) v over (B, heads, L, D) arrays, one pass per
// query row with a running (max, sum) so the scores never reach memory.
// Inputs: q (B, Hq, Lq, D), k (B, Hk, Lk, D), v (B, Hk, Lk, Dv) of one float
// dtype, Hq a multiple of Hk (query head h reads key head h / (Hq / Hk));
// then, when present, the mask viewed as (B, Hq, Lq, Lk) (bool: keep where
// true; float32: added) and the sinks (Hq,) float32, one more logit per head
// that takes probability but adds no value. causal: query i sees keys up to
// i + Lk - Lq. A row that sees no key is NaN (0/0), as the composed form.
class ScaledDotProductAttention : public Primitive {
 public:
  ScaledDotProductAttention(Stream s, float scale, bool causal, bool has_mask, bool has_sinks)
      : Primitive(s), scale_(scale), causal_(causal), has_mask_(has_mask), has_sinks_(has_sinks) {}
  const char* name() const override { return "ScaledDotProductAttention"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
  float scale() const { return scale_; }
  bool causal() const { return causal_; }
  bool has_mask() const { return has_mask_; }
  bool has_sinks() const { return has_sinks_; }

 private:
  float scale_;
  bool causal_, has_mask_, has_sinks_;
};

// Flash attention, the GPU's path for long queries (backend/cuda/
// flash_attention.cu): softmax(q k^T * scale) v on tensor cores, a tile of
// scores at a time, never the whole score matrix in memory. Inputs q, k, v
// as ScaledDotProductAttention's, float16 or bfloat16, one head dimension
// of 64 or 128 for all three, no mask array and no sinks (causal or not);
// the ops layer builds it only then and only on a GPU stream. Outputs: the
// attention (B, Hq, Lq, D) and, per query row, the log-sum-exp of the
// scaled scores in base 2, float32 (B, Hq, Lq): what the backward pass
// needs to recompute the probabilities tile by tile.
class FlashAttention : public Primitive {
 public:
  FlashAttention(Stream s, float scale, bool causal)
      : Primitive(s), scale_(scale), causal_(causal) {}
  const char* name() const override { return "FlashAttention"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP

 private:
  float scale_;
  bool causal_;
};

// FlashAttention's gradients: inputs q, k, v, the forward's two outputs and
// the attention's cotangent; outputs dq, dk, dv (query heads sharing a key
// head summed into it). Its own derivatives are those of the composed
// gradients (ScaledDotProductAttention::vjp), so it differentiates again.
class FlashAttentionGrad : public Primitive {
 public:
  FlashAttentionGrad(Stream s, float scale, bool causal)
      : Primitive(s), scale_(scale), causal_(causal) {}
  const char* name() const override { return "FlashAttentionGrad"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP

 private:
  float scale_;
  bool causal_;
};

}  // namespace fastsync

namespace fastsync {

// The attention's probabilities composed of ops, over (B, Hk, Hq / Hk, Lq,
// Lk) in float32 (float64 for float64 inputs): `all` has the sink column
// first when there are sinks, `keys` is the part over the keys. What the
// vjp recomputes, and the forward where the composed form is chosen
// (ops/fast.cpp). mask: (B, Hq, Lq, Lk), bool or float32.
//
// The products take their operands in `product`: float16 and bfloat16 stay
// as they are (tensor cores; float32 sums, each product rounded once to
// the input dtype, as PyTorch's and MLX's composed attention do), anything
// else in `compute`. Masks and the softmax are in `compute` either way.
struct AttentionProbs {
  array all, keys;
  Dtype compute, product;
};
Dtype attention_product_dtype(Dtype in, Dtype compute);
AttentionProbs attention_probs(const array& q, const array& k, float scale, bool causal,
                               const std::optional<array>& mask, const std::optional<array>& sinks,
                               Stream s);

}  // namespace fastsync
