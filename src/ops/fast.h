// Ops of fastsync.fast that build fused primitives (primitives/fast.h):
// validation and dtype handling here, kernels in the backends.
#pragma once

#include <optional>

#include "array.h"
#include "stream.h"

namespace fastsync::fast {

// x / sqrt(mean(x^2, -1) + eps) * weight (weight: 1-D of x's last size).
array rms_norm(const array& x, const std::optional<array>& weight, float eps,
               StreamOrDevice s = {});
// (x - mean) / sqrt(var + eps) * weight + bias over the last axis.
array layer_norm(const array& x, const std::optional<array>& weight,
                 const std::optional<array>& bias, float eps, StreamOrDevice s = {});
// Rotary embedding of the first `dims` features of the last axis; positions
// along the second-to-last axis start at `offset` (an integer scalar, or one
// per entry of x's first axis). Frequencies: base^(-2i/dims), or 1 / freqs.
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           const array& offset, const std::optional<array>& freqs, StreamOrDevice s = {});

}  // namespace fastsync::fast

namespace fastsync::fast {

// softmax(q k^T * scale + mask) v; mask: none, "causal" (causal = true), or
// an array (bool keeps, floating adds) broadcast to (B, Hq, Lq, Lk); sinks:
// one extra logit per query head. k and v may have fewer heads than q.
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   bool causal, const std::optional<array>& mask,
                                   const std::optional<array>& sinks, StreamOrDevice s = {});

}  // namespace fastsync::fast
