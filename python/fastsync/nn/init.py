"""Parameter initializers: each returns a function ``init(array) -> array`` of that shape."""

from __future__ import annotations

import math
from collections.abc import Callable

from .. import _core as mx

__all__ = [
    "constant", "normal", "uniform", "identity", "glorot_normal", "glorot_uniform",
    "he_normal", "he_uniform", "sparse", "orthogonal",
]  # fmt: skip


def constant(value: float, dtype=mx.float32) -> Callable:
    def init(a):
        return mx.full(a.shape, value, dtype=dtype)

    return init


def normal(mean: float = 0.0, std: float = 1.0, dtype=mx.float32) -> Callable:
    def init(a):
        return mx.random.normal(a.shape, dtype=dtype, loc=mean, scale=std)

    return init


def uniform(low: float = 0.0, high: float = 1.0, dtype=mx.float32) -> Callable:
    def init(a):
        return mx.random.uniform(low, high, a.shape, dtype=dtype)

    return init


def identity(dtype=mx.float32) -> Callable:
    def init(a):
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"[identity] needs a square matrix, got shape {tuple(a.shape)}")
        return mx.eye(a.shape[0], dtype=dtype)

    return init


def _fans(a) -> tuple[int, int]:
    if a.ndim < 2:
        raise ValueError(
            f"[init] fan in and fan out need at least 2 dimensions, got shape {tuple(a.shape)}"
        )
    receptive = math.prod(a.shape[1:-1])
    return a.shape[-1] * receptive, a.shape[0] * receptive


def glorot_normal(dtype=mx.float32) -> Callable:
    def init(a, gain: float = 1.0):
        fan_in, fan_out = _fans(a)
        std = gain * math.sqrt(2 / (fan_in + fan_out))
        return mx.random.normal(a.shape, dtype=dtype, scale=std)

    return init


def glorot_uniform(dtype=mx.float32) -> Callable:
    def init(a, gain: float = 1.0):
        fan_in, fan_out = _fans(a)
        limit = gain * math.sqrt(6 / (fan_in + fan_out))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return init


def _fan(a, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"[init] mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(a)
    return fan_in if mode == "fan_in" else fan_out


def he_normal(dtype=mx.float32) -> Callable:
    def init(a, mode: str = "fan_in", gain: float = 1.0):
        return mx.random.normal(a.shape, dtype=dtype, scale=gain / math.sqrt(_fan(a, mode)))

    return init


def he_uniform(dtype=mx.float32) -> Callable:
    def init(a, mode: str = "fan_in", gain: float = 1.0):
        limit = gain * math.sqrt(3 / _fan(a, mode))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return init


def sparse(sparsity: float, mean: float = 0.0, std: float = 1.0, dtype=mx.float32) -> Callable:
    """Normal entries, with ``ceil(sparsity * rows)`` of each column set to zero."""
    if not 0 <= sparsity <= 1:
        raise ValueError(f"[sparse] sparsity must be in [0, 1], got {sparsity}")

    def init(a):
        if a.ndim != 2:
            raise ValueError(f"[sparse] needs a matrix, got shape {tuple(a.shape)}")
        rows, _ = a.shape
        zeros = math.ceil(sparsity * rows)
        w = mx.random.normal(a.shape, dtype=dtype, loc=mean, scale=std)
        # A random rank per entry within its column; the lowest `zeros` ranks are cleared.
        rank = mx.argsort(mx.argsort(mx.random.uniform(shape=a.shape), axis=0), axis=0)
        return mx.where(rank < zeros, mx.zeros((), dtype=dtype), w)

    return init


def orthogonal(gain: float = 1.0, dtype=mx.float32) -> Callable:
    def init(a):
        raise NotImplementedError(
            "[orthogonal] needs a QR factorization, which fastsync.linalg does not have yet"
        )

    return init
