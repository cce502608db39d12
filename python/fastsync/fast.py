"""``fastsync.fast``: normalization, rotary embedding and attention (MLX's ``mx.fast``).

Each function is written here in terms of fastsync's ops, so its gradient, vmap and GPU
version come from theirs; the arithmetic follows MLX's (statistics in float32 for half
inputs, softmax of attention in float32). They are not fused yet: each runs as the
handful of kernels its ops issue.
"""

from __future__ import annotations

import functools
import math
from contextlib import nullcontext

from . import _core as mx

__all__ = ["rms_norm", "layer_norm", "rope", "scaled_dot_product_attention"]


def _on_stream(fn):
    """Run ``fn``'s ops on its ``stream=`` argument (the default stream when None)."""

    @functools.wraps(fn)
    def wrapped(*args, stream=None, **kwargs):
        with mx.stream(stream) if stream is not None else nullcontext():
            return fn(*args, **kwargs)

    return wrapped


def _low_precision(x) -> bool:
    return x.dtype in (mx.float16, mx.bfloat16)


@_on_stream
def rms_norm(x, weight=None, eps: float = 1e-5):
    """``x / sqrt(mean(x**2, -1) + eps) * weight`` over the last axis (weight may be None)."""
    if weight is not None and weight.ndim != 1:
        raise ValueError(f"[rms_norm] weight must have one dimension, got {weight.ndim}")
    if weight is not None and weight.shape[0] != x.shape[-1]:
        raise ValueError(
            f"[rms_norm] weight has {weight.shape[0]} entries, the last axis of x {x.shape[-1]}"
        )
    xf = x.astype(mx.float32) if _low_precision(x) else x
    scale = mx.rsqrt(mx.mean(mx.square(xf), axis=-1, keepdims=True) + eps)
    y = (xf * scale).astype(x.dtype)
    return y if weight is None else y * weight


@_on_stream
def layer_norm(x, weight=None, bias=None, eps: float = 1e-5):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last axis (either may be None)."""
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.ndim != 1 or p.shape[0] != x.shape[-1]):
            raise ValueError(
                f"[layer_norm] {name} must have shape ({x.shape[-1]},), got {tuple(p.shape)}"
            )
    xf = x.astype(mx.float32) if _low_precision(x) else x
    mean = mx.mean(xf, axis=-1, keepdims=True)
    centered = xf - mean
    var = mx.mean(mx.square(centered), axis=-1, keepdims=True)
    y = (centered * mx.rsqrt(var + eps)).astype(x.dtype)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


@_on_stream
def rope(
    a,
    dims: int,
    *,
    traditional: bool,
    base: float | None,
    scale: float,
    offset,
    freqs=None,
):
    """Rotary position embedding over the first ``dims`` features of the last axis.

    Positions run along the second-to-last axis, from ``offset`` (an int, a scalar array,
    or one offset per batch entry); each is multiplied by ``scale``. Pairs are adjacent
    features when ``traditional``, else the two halves. Frequencies are
    ``base ** (-2i / dims)``, or ``1 / freqs`` when ``freqs`` (``dims // 2`` of them) is given.
    """
    if a.ndim < 2:
        raise ValueError(f"[rope] the input needs at least 2 dimensions, got {a.ndim}")
    if dims % 2 or dims > a.shape[-1] or dims <= 0:
        raise ValueError(
            f"[rope] dims must be even and at most the last axis ({a.shape[-1]}), got {dims}"
        )
    half = dims // 2
    if freqs is not None:
        if base is not None:
            raise ValueError("[rope] give base or freqs, not both")
        if freqs.ndim != 1 or freqs.shape[0] != half:
            raise ValueError(f"[rope] freqs must have shape ({half},), got {tuple(freqs.shape)}")
        inv_freq = 1.0 / freqs.astype(mx.float32)
    else:
        if base is None:
            raise ValueError("[rope] base is required when freqs is not given")
        inv_freq = mx.exp(mx.arange(0, half, dtype=mx.float32) * (-2.0 * math.log(base) / dims))
    length = a.shape[-2]
    pos = mx.arange(length, dtype=mx.float32)
    if isinstance(offset, mx.array):
        off = offset.astype(mx.float32)
        if off.ndim == 1:  # one offset per batch entry: positions (B, 1, ..., L)
            off = off.reshape(off.shape[0], *([1] * (a.ndim - 2)))
        elif off.ndim != 0:
            raise ValueError(f"[rope] offset must be a scalar or 1-D array, got {off.ndim} dims")
        pos = off + pos
    else:
        pos = pos + float(offset)
    theta = mx.expand_dims(pos * scale, -1) * inv_freq  # (..., L, half)
    cos, sin = mx.cos(theta), mx.sin(theta)
    x = a.astype(mx.float32) if _low_precision(a) else a
    rot, rest = x[..., :dims], x[..., dims:]
    if traditional:
        pairs = rot.reshape(*rot.shape[:-1], half, 2)
        x1, x2 = pairs[..., 0], pairs[..., 1]
        out = mx.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
        out = out.reshape(*out.shape[:-2], dims)
    else:
        x1, x2 = rot[..., :half], rot[..., half:]
        out = mx.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
    if rest.shape[-1]:
        out = mx.concatenate([out, mx.broadcast_to(rest, (*out.shape[:-1], rest.shape[-1]))], -1)
    return out.astype(a.dtype)


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
