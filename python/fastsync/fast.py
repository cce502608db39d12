"""``fastsync.fast``: normalization, rotary embedding and attention (MLX's ``mx.fast``).

``rms_norm``, ``layer_norm`` and ``rope`` are single fused kernels on the CPU and on CUDA
(statistics and angles in float32, float64 for float64 inputs, one rounding to the
output), with gradients composed from ops. ``scaled_dot_product_attention`` is still
composed here from fastsync's ops (softmax in float32): its gradient, vmap and GPU
version come from theirs, and it runs as the handful of kernels those ops issue.
"""

from __future__ import annotations

import functools
import math
from contextlib import nullcontext

from . import _core as mx
from ._core import _fast as _core_fast

__all__ = ["rms_norm", "layer_norm", "rope", "scaled_dot_product_attention"]


def _on_stream(fn):
    """Run ``fn``'s ops on its ``stream=`` argument (the default stream when None)."""

    @functools.wraps(fn)
    def wrapped(*args, stream=None, **kwargs):
        with mx.stream(stream) if stream is not None else nullcontext():
            return fn(*args, **kwargs)

    return wrapped


# Fused kernels on every backend (src/primitives/fast.h); their gradients are composed.
rms_norm = _core_fast.rms_norm
layer_norm = _core_fast.layer_norm
rope = _core_fast.rope


def _causal(lq: int, lk: int):
    """True where query i may see key j: queries are the last ``lq`` positions of ``lk``."""
    rows = mx.arange(lq).reshape(lq, 1) + (lk - lq)
    return rows >= mx.arange(lk).reshape(1, lk)


@_on_stream
def scaled_dot_product_attention(q, k, v, *, scale: float, mask=None, sinks=None):
    """``softmax(q k^T * scale + mask) v`` over ``(B, heads, L, D)`` inputs.

    k and v may have fewer heads than q (grouped-query attention: q's heads share them in
    order). ``mask`` is None, ``"causal"``, a boolean array (True keeps) or an additive
    array, broadcast to ``(B, q_heads, Lq, Lk)``. ``sinks`` (one logit per q head) adds a
    column to each softmax that takes probability but contributes no value.
    """
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("[scaled_dot_product_attention] q, k and v must have 4 dimensions")
    b, hq, lq, d = q.shape
    hk, lk = k.shape[1], k.shape[2]
    if hq % hk or v.shape[1] != hk:
        raise ValueError(
            f"[scaled_dot_product_attention] q has {hq} heads, k {hk} and v {v.shape[1]}: "
            "k and v must have the same number, dividing q's"
        )
    if k.shape[-1] != d or v.shape[2] != lk:
        raise ValueError("[scaled_dot_product_attention] q, k and v shapes do not match")
    rep = hq // hk
    qg = (q * scale).reshape(b, hk, rep, lq, d)
    scores = qg @ mx.expand_dims(k, 2).swapaxes(-1, -2)  # (B, hk, rep, Lq, Lk)
    scores = scores.astype(mx.float32)
    if isinstance(mask, str):
        if mask != "causal":
            raise ValueError(f"[scaled_dot_product_attention] unknown mask {mask!r}")
        scores = mx.where(_causal(lq, lk), scores, -math.inf)
    elif mask is not None:
        m = mx.broadcast_to(mask, (b, hq, lq, lk)).reshape(b, hk, rep, lq, lk)
        if m.dtype == mx.bool_:
            scores = mx.where(m, scores, -math.inf)
        else:
            scores = scores + m.astype(mx.float32)
    if sinks is not None:
        col = sinks.astype(mx.float32).reshape(1, hk, rep, 1, 1)
        col = mx.broadcast_to(col, (b, hk, rep, lq, 1))
        probs = mx.softmax(mx.concatenate([col, scores], axis=-1), axis=-1)[..., 1:]
    else:
        probs = mx.softmax(scores, axis=-1)
    out = probs.astype(v.dtype) @ mx.expand_dims(v, 2)  # (B, hk, rep, Lq, Dv)
    return out.reshape(b, hq, lq, v.shape[-1])
