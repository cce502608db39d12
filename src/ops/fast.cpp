#include "ops/fast.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "ops/dtype_checks.h"
#include "ops/linalg.h"
#include "ops/ops.h"
#include "primitives/fast.h"

namespace fastsync::fast {

namespace {

// The dtype both x and the affine parameters are computed in.
Dtype norm_dtype(const char* op, const array& x, std::initializer_list<const array*> params) {
  reject_complex(op, x.dtype(), "a norm of complex values is not defined here");
  Dtype t = is_floating(x.dtype()) ? x.dtype() : float32;
  for (const array* p : params) {
    if (!p) continue;
    reject_complex(op, p->dtype());
    t = promote_types(t, p->dtype());
  }
  return is_floating(t) ? t : float32;
}

void check_param(const char* op, const char* what, const array& p, const array& x) {
  if (p.ndim() != 1 || p.shape()[0] != x.shape().back()) {
    throw std::invalid_argument(std::string("[") + op + "] " + what + " must have shape (" +
                                std::to_string(x.shape().back()) + ",), got " +
                                shape_str(p.shape()));
  }
}

void check_x(const char* op, const array& x) {
  if (x.ndim() == 0) {
    throw std::invalid_argument(std::string("[") + op + "] the input needs at least 1 dimension");
  }
}

// Which attention a call gets: the graph of ops (its products on BLAS /
// cuBLAS, the scores held in memory), the fused kernel (a running softmax
// per query row, the scores never held), or, on a GPU stream, flash
// attention (tiles of scores on tensor cores, never held either).
// FASTSYNC_ATTENTION=composed|fused|flash chooses. By default: the fused
// kernel for a few query rows (a decoding step: one kernel, or two on the
// GPU, instead of a dozen nodes; bench/attention.py and
// bench/decode_breakdown.py measure it); flash attention where it applies
// (FlashAttention in primitives/fast.h); past kFusedFromBytes of scores the
// fused kernel, which bounds the memory; otherwise the composed graph, whose
// products are faster than the fused kernel's for long queries.
enum class AttentionPath { composed, fused, flash };

constexpr double kFusedFromBytes = double(1 << 30);
constexpr int64_t kFusedUpToQueries = 8;

// Empty when flash attention applies, else why not.
std::string flash_unfit(const Stream& s, Dtype t, int64_t b, int64_t hq, int64_t d, int64_t dv,
                        bool mask, bool sinks) {
  if (s.device.type != Device::Type::gpu) return "it runs on GPU streams only";
  if (t != float16 && t != bfloat16) return "it takes float16 or bfloat16";
  if (d != dv || (d != 64 && d != 128)) return "it takes a head dimension of 64 or 128";
  if (mask) return "it takes no mask array (causal or none)";
  if (sinks) return "it takes no sinks";
  if (b > 65535 || hq > 65535) return "it takes up to 65535 batch entries and heads";
  return "";
}

AttentionPath attention_path(int64_t lq, double score_bytes, const std::string& flash_unfit) {
  const char* env = std::getenv("FASTSYNC_ATTENTION");
  std::string want = env ? env : "";
  if (want == "fused") return AttentionPath::fused;
  if (want == "composed") return AttentionPath::composed;
  if (want == "flash") {
    if (!flash_unfit.empty()) {
      throw std::invalid_argument(
          "[scaled_dot_product_attention] FASTSYNC_ATTENTION=flash, but flash attention "
          "does not apply here: " +
          flash_unfit);
    }
    return AttentionPath::flash;
  }
  if (!want.empty()) {
    throw std::invalid_argument("[scaled_dot_product_attention] FASTSYNC_ATTENTION=" + want +
                                " is not fused, composed or flash");
  }
  if (lq <= kFusedUpToQueries) return AttentionPath::fused;
  if (flash_unfit.empty()) return AttentionPath::flash;
  return score_bytes > kFusedFromBytes ? AttentionPath::fused : AttentionPath::composed;
}

}  // namespace

array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s) {
  check_x("rms_norm", x);
  if (weight) check_param("rms_norm", "weight", *weight, x);
  Dtype t = norm_dtype("rms_norm", x, {weight ? &*weight : nullptr});
  std::vector<array> in{astype(x, t, s)};
  if (weight) in.push_back(astype(*weight, t, s));
  auto prim = std::make_shared<RMSNorm>(to_stream(s), eps, weight.has_value());
  return array(x.shape(), t, std::move(prim), std::move(in));
}

array layer_norm(const array& x, const std::optional<array>& weight,
                 const std::optional<array>& bias, float eps, StreamOrDevice s) {
  check_x("layer_norm", x);
  if (weight) check_param("layer_norm", "weight", *weight, x);
  if (bias) check_param("layer_norm", "bias", *bias, x);
  Dtype t = norm_dtype("layer_norm", x, {weight ? &*weight : nullptr, bias ? &*bias : nullptr});
  std::vector<array> in{astype(x, t, s)};
  if (weight) in.push_back(astype(*weight, t, s));
  if (bias) in.push_back(astype(*bias, t, s));
  auto prim = std::make_shared<LayerNorm>(to_stream(s), eps, weight.has_value(), bias.has_value());
  return array(x.shape(), t, std::move(prim), std::move(in));
}

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           const array& offset, const std::optional<array>& freqs, StreamOrDevice s) {
  if (x.ndim() < 2) {
    throw std::invalid_argument("[rope] the input needs at least 2 dimensions, got " +
                                std::to_string(x.ndim()));
  }
  int64_t width = x.shape().back();
  if (dims <= 0 || dims % 2 || dims > width) {
    throw std::invalid_argument("[rope] dims must be even and at most the last axis (" +
                                std::to_string(width) + "), got " + std::to_string(dims));
  }
  if (freqs.has_value() == base.has_value()) {
    throw std::invalid_argument(freqs ? "[rope] give base or freqs, not both"
                                      : "[rope] base is required when freqs is not given");
  }
  if (freqs && (freqs->ndim() != 1 || freqs->shape()[0] != dims / 2)) {
    throw std::invalid_argument("[rope] freqs must have shape (" + std::to_string(dims / 2) +
                                ",), got " + shape_str(freqs->shape()));
  }
  if (!is_integral(offset.dtype()) || offset.ndim() > 1 ||
      (offset.ndim() == 1 && offset.size() != 1 && offset.size() != x.shape()[0])) {
    throw std::invalid_argument(
        "[rope] offset must be an integer scalar or a 1-D integer array with one offset per "
        "entry of the input's first axis (" +
        std::to_string(x.shape()[0]) + "), got dtype " + std::string(offset.dtype().name()) +
        " shape " + shape_str(offset.shape()));
  }
  reject_complex("rope", x.dtype());
  Dtype t = is_floating(x.dtype()) ? x.dtype() : float32;
  std::vector<array> in{astype(x, t, s), astype(reshape(offset, {-1}, s), int32, s)};
  if (freqs) in.push_back(astype(*freqs, float32, s));
  auto prim = std::make_shared<RoPE>(to_stream(s), dims, traditional, base.value_or(0.0f), scale,
                                     freqs.has_value());
  return array(x.shape(), t, std::move(prim), std::move(in));
}

}  // namespace fastsync::fast

namespace fastsync::fast {

array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   bool causal, const std::optional<array>& mask,
                                   const std::optional<array>& sinks, StreamOrDevice s) {
  const char* op = "scaled_dot_product_attention";
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) {
    throw std::invalid_argument(
        "[scaled_dot_product_attention] q, k and v must have 4 "
        "dimensions (batch, heads, length, features)");
  }
  int64_t b = q.shape()[0], hq = q.shape()[1], lq = q.shape()[2], d = q.shape()[3];
  int64_t hk = k.shape()[1], lk = k.shape()[2];
  if (hk == 0 || hq % hk || v.shape()[1] != hk) {
    throw std::invalid_argument("[scaled_dot_product_attention] q has " + std::to_string(hq) +
                                " heads, k " + std::to_string(hk) + " and v " +
                                std::to_string(v.shape()[1]) +
                                ": k and v must have the same number, dividing q's");
  }
  if (k.shape()[0] != b || v.shape()[0] != b || k.shape()[3] != d || v.shape()[2] != lk) {
    throw std::invalid_argument("[scaled_dot_product_attention] q " + shape_str(q.shape()) +
                                ", k " + shape_str(k.shape()) + " and v " + shape_str(v.shape()) +
                                " do not match");
  }
  if (causal && mask) {
    throw std::invalid_argument("[scaled_dot_product_attention] give a mask array or causal");
  }
  for (const array* a : {&q, &k, &v}) reject_complex(op, a->dtype());
  Dtype t = promote_types(promote_types(q.dtype(), k.dtype()), v.dtype());
  if (!is_floating(t)) t = float32;
  Stream st = to_stream(s);
  std::vector<array> in{astype(q, t, st), astype(k, t, st), astype(v, t, st)};
  if (mask) {
    reject_complex(op, mask->dtype());
    Dtype mt = mask->dtype() == bool_ ? bool_ : float32;
    in.push_back(broadcast_to(astype(*mask, mt, st), {b, hq, lq, lk}, st));
  }
  if (sinks) {
    if (sinks->ndim() != 1 || sinks->shape()[0] != hq) {
      throw std::invalid_argument("[scaled_dot_product_attention] sinks must have shape (" +
                                  std::to_string(hq) + ",), got " + shape_str(sinks->shape()));
    }
    in.push_back(astype(*sinks, float32, st));
  }
  AttentionPath path = attention_path(
      lq, 4.0 * b * hq * lq * lk,
      flash_unfit(st, t, b, hq, d, v.shape()[3], mask.has_value(), sinks.has_value()));
  if (path == AttentionPath::flash) {
    return array::make_arrays({{b, hq, lq, d}, {b, hq, lq}}, {t, float32},
                              std::make_shared<FlashAttention>(st, scale, causal),
                              {in[0], in[1], in[2]})[0];
  }
  if (path == AttentionPath::composed) {
    size_t next = 3;
    std::optional<array> m, sk;
    if (mask) m = in[next++];
    if (sinks) sk = in[next];
    AttentionProbs p = attention_probs(in[0], in[1], scale, causal, m, sk, st);
    array o = matmul(astype(p.keys, p.product, st),
                     expand_dims(astype(in[2], p.product, st), {2}, st), st);
    return astype(reshape(o, {b, hq, lq, v.shape()[3]}, st), t, st);
  }
  auto prim = std::make_shared<ScaledDotProductAttention>(st, scale, causal, mask.has_value(),
                                                          sinks.has_value());
  return array({b, hq, lq, v.shape()[3]}, t, std::move(prim), std::move(in));
}

}  // namespace fastsync::fast
