"""``hadamard_transform``: the Walsh-Hadamard transform along the last axis, as in MLX.

``y = scale * x @ H`` for the Sylvester-ordered Hadamard matrix ``H`` of size ``n``
(``H[i, j] = (-1) ** popcount(i & j)``, the order of ``scipy.linalg.hadamard``), with
``scale = 1 / sqrt(n)`` by default (the orthonormal transform, its own inverse).

``H`` of size ``2**k`` is the Kronecker product of Sylvester matrices of the sizes that
split ``2**k`` (at most 64 each: the fastest cap in a sweep on the CPU), so the transform
is one small matrix product per factor on the row viewed as a grid: two products up to
``n = 2**12``, three up to ``2**18``, run by the BLAS (cuBLAS on a GPU). Composed from
ops, it runs on every stream and device and differentiates and batches (``vjp``, ``vmap``)
like any composition.

Sizes ``m * 2**k`` with ``m`` in 12, 20, 28 (which MLX also takes, with its own choice of
those Hadamard matrices) raise NotImplementedError.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _core as mx
from ._dtypes import floating, integer, issubdtype
from ._quantize import _on_stream

__all__ = ["hadamard_transform"]

_MAX_FACTOR_LOG2 = 6


@functools.cache
def _sylvester(log2: int) -> np.ndarray:
    """The Sylvester Hadamard matrix of size ``2**log2`` (float32, symmetric)."""
    h = np.ones((1, 1), np.float32)
    for _ in range(log2):
        h = np.block([[h, h], [h, -h]])
    return h


def _factors(k: int) -> list[int]:
    """Splits ``k`` into near-equal parts of at most ``_MAX_FACTOR_LOG2``."""
    parts = max(1, -(-k // _MAX_FACTOR_LOG2))
    return [k // parts + (1 if i < k % parts else 0) for i in range(parts)]


@_on_stream
def hadamard_transform(a, scale=None):
    """``scale * (a @ H)`` along the last axis, ``H`` the Sylvester Hadamard matrix.

    The last axis's size must be a power of two. ``scale`` defaults to
    ``1 / sqrt(n)``. Integer input computes in float32; floating input keeps its dtype
    (half-precision input accumulates in float32)."""
    if not isinstance(a, mx.array):
        a = mx.array(a)
    if not (issubdtype(a.dtype, floating) or issubdtype(a.dtype, integer) or a.dtype == mx.bool_):
        raise ValueError(f"[hadamard_transform] expects a real array, got {a.dtype}")
    if a.size == 0:
        raise ValueError(
            f"[hadamard_transform] expects a non-empty array, got shape {tuple(a.shape)}"
        )
    n = a.shape[-1] if a.ndim else 1
    if n & (n - 1):
        raise NotImplementedError(
            f"[hadamard_transform] the last axis must have a power-of-two size, got {n} "
            "(sizes m * 2**k with m in 12, 20, 28 are not supported yet)"
        )
    if scale is None:
        scale = 1.0 / math.sqrt(n)
    out_dtype = a.dtype if issubdtype(a.dtype, floating) else mx.float32
    compute = mx.float64 if out_dtype == mx.float64 else mx.float32
    shape = tuple(a.shape)
    x = a.astype(compute).reshape(-1, n)
    sizes = [1 << f for f in _factors(n.bit_length() - 1)] if n > 1 else []
    # The grid (rows, f0, f1, ...): H of size n is the Kronecker product of the factors'
    # matrices, so it applies one factor per axis of the grid.
    before = 1
    for f in sizes:
        h = mx.array(_sylvester(f.bit_length() - 1)).astype(compute)
        after = n // (before * f)
        if after == 1:
            x = mx.matmul(x.reshape(-1, f), h)
        else:
            x = mx.matmul(h, x.reshape(-1, f, after))
        before *= f
    y = x.reshape(shape) * scale
    return y.astype(out_dtype)
