"""Affine quantization in MLX's format: ``quantize``, ``dequantize``, ``quantized_matmul``.

A matrix ``w`` of shape ``(..., K)`` is cut into groups of ``group_size`` consecutive
entries of the last axis. Each group's range is mapped onto ``2**bits`` levels starting
at the endpoint of larger magnitude (``bias``; the step ``scale`` is negative when that is
the maximum), with the step adjusted so that zero falls exactly on a level: zeros stay
zeros. Scales and biases are kept in w's dtype; each entry becomes the integer
``q = round((w - bias) / scale)`` in ``[0, 2**bits)``. ``32 / bits`` integers are packed
into each uint32, the first in the lowest bits. ``dequantize`` computes
``scale * q + bias``.

These are composed from fastsync's ops (so they run on every stream and device, and
``quantized_matmul`` differentiates with respect to ``x``); ``quantized_matmul``
dequantizes the weight and multiplies, without a fused kernel yet.
"""

from __future__ import annotations

import functools
from contextlib import nullcontext

from . import _core as mx
from ._dtypes import floating, issubdtype

__all__ = ["quantize", "dequantize", "quantized_matmul"]

_BITS = (2, 4, 8)
_GROUPS = (32, 64, 128)


def _on_stream(fn):
    """Runs ``fn``'s ops on its ``stream=`` argument (the default stream when None)."""

    @functools.wraps(fn)
    def wrapped(*args, stream=None, **kwargs):
        with mx.stream(stream) if stream is not None else nullcontext():
            return fn(*args, **kwargs)

    return wrapped


def _check(op: str, group_size: int, bits: int, mode: str = "affine"):
    if mode != "affine":
        raise NotImplementedError(f"[{op}] mode {mode!r} is not supported yet: only 'affine'")
    if bits not in _BITS:
        raise ValueError(f"[{op}] bits must be one of {_BITS} (3, 5 and 6 are not supported yet)")
    if group_size not in _GROUPS:
        raise ValueError(f"[{op}] group_size must be one of {_GROUPS}, got {group_size}")


@_on_stream
def quantize(w, group_size: int = 64, bits: int = 4, mode: str = "affine"):
    """``(w_q, scales, biases)``: w packed into uint32 with per-group scales and biases."""
    _check("quantize", group_size, bits, mode)
    if w.ndim < 2:
        raise ValueError(f"[quantize] needs at least 2 dimensions, got shape {tuple(w.shape)}")
    k = w.shape[-1]
    if k % group_size:
        raise ValueError(
            f"[quantize] the last axis ({k}) must be a multiple of group_size ({group_size})"
        )
    if not issubdtype(w.dtype, floating):
        raise ValueError(f"[quantize] needs a floating array, got {w.dtype}")
    lead = tuple(w.shape[:-1])
    g = w.astype(mx.float32).reshape(*lead, k // group_size, group_size)
    lo = mx.min(g, axis=-1, keepdims=True)
    hi = mx.max(g, axis=-1, keepdims=True)
    levels = 2**bits - 1
    step = mx.maximum((hi - lo) / levels, 1e-7)
    from_lo = mx.abs(lo) > mx.abs(hi)
    step = mx.where(from_lo, step, -step)
    edge = mx.where(from_lo, lo, hi)
    zero_level = mx.round(edge / step)  # how many steps from the edge to zero, negated
    scale = mx.where(zero_level != 0, edge / zero_level, step)
    bias = mx.where(zero_level == 0, 0.0, edge)
    # Rounded through w's dtype first, so dequantize (which reads them in it) is consistent.
    scale = scale.astype(w.dtype).astype(mx.float32)
    bias = bias.astype(w.dtype).astype(mx.float32)
    q = mx.clip(mx.round((g - bias) / scale), 0, levels).astype(mx.uint32)
    per = 32 // bits
    q = q.reshape(*lead, k // per, per)
    shifts = mx.arange(0, 32, bits, dtype=mx.uint32)
    packed = mx.sum(mx.left_shift(q, shifts), axis=-1).astype(mx.uint32)
    return packed, scale.squeeze(-1).astype(w.dtype), bias.squeeze(-1).astype(w.dtype)


@_on_stream
def dequantize(w, scales, biases, group_size: int = 64, bits: int = 4, mode: str = "affine"):
    """The floating matrix that :func:`quantize` packed (in the scales' dtype)."""
    _check("dequantize", group_size, bits, mode)
    if w.dtype != mx.uint32:
        raise ValueError(f"[dequantize] the packed matrix must be uint32, got {w.dtype}")
    per = 32 // bits
    k = w.shape[-1] * per
    lead = tuple(w.shape[:-1])
    if tuple(scales.shape) != (*lead, k // group_size) or scales.shape != biases.shape:
        raise ValueError(
            f"[dequantize] scales and biases must have shape {(*lead, k // group_size)} for a "
            f"packed matrix of shape {tuple(w.shape)}, got {tuple(scales.shape)} and "
            f"{tuple(biases.shape)}"
        )
    shifts = mx.arange(0, 32, bits, dtype=mx.uint32)
    mask = mx.array(2**bits - 1, mx.uint32)
    q = mx.bitwise_and(mx.right_shift(mx.expand_dims(w, -1), shifts), mask)
    q = q.reshape(*lead, k // group_size, group_size).astype(scales.dtype)
    out = q * mx.expand_dims(scales, -1) + mx.expand_dims(biases, -1)
    return out.reshape(*lead, k)


@_on_stream
def quantized_matmul(
    x,
    w,
    scales,
    biases,
    transpose: bool = True,
    group_size: int = 64,
    bits: int = 4,
    mode: str = "affine",
):
    """``x @ dequantize(w).T`` (``transpose``) or ``x @ dequantize(w)``."""
    wf = dequantize(w, scales, biases, group_size, bits, mode)
    if transpose:
        wf = mx.swapaxes(wf, -1, -2)
    if x.shape[-1] != wf.shape[-2]:
        raise ValueError(
            f"[quantized_matmul] x's last axis ({x.shape[-1]}) does not match the weight's "
            f"input size ({wf.shape[-2]})"
        )
    return mx.matmul(x, wf.astype(x.dtype))
