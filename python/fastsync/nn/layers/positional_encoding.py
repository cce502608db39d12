"""Position information: RoPE, SinusoidalPositionalEncoding, ALiBi."""

from __future__ import annotations

import math

from ... import _core as mx
from ... import fast
from .base import Module


class RoPE(Module):
    """Rotary position embedding of the first ``dims`` features (see ``fast.rope``)."""

    def __init__(
        self, dims: int, traditional: bool = False, base: float = 10000, scale: float = 1.0
    ):
        super().__init__()
        self.dims, self.traditional, self.base, self.scale = dims, traditional, base, scale

    def _extra_repr(self) -> str:
        return f"{self.dims}, traditional={self.traditional}"

    def __call__(self, x, offset=0):
        return fast.rope(
            x, self.dims, traditional=self.traditional, base=self.base, scale=self.scale,
            offset=offset,
        )  # fmt: skip


class SinusoidalPositionalEncoding(Module):
    """Maps positions to ``dims`` sines and cosines of geometrically spaced frequencies
    from ``max_freq`` down to ``min_freq`` (times 2*pi with ``full_turns``)."""

    def __init__(
        self,
        dims: int,
        min_freq: float = 0.0001,
        max_freq: float = 1,
        scale: float | None = None,
        cos_first: bool = False,
        full_turns: bool = False,
    ):
        super().__init__()
        half = dims // 2
        frac = 1 - mx.arange(half, dtype=mx.float32) / max(half - 1, 1)
        lo, hi = math.log(min_freq), math.log(max_freq)
        self._sigmas = mx.exp(frac * (hi - lo) + lo)
        if full_turns:
            self._sigmas = self._sigmas * (2 * math.pi)
        self.scale = scale if scale is not None else math.sqrt(2 / dims)
        self.cos_first = cos_first

    def __call__(self, x):
        y = mx.expand_dims(x, -1) * self._sigmas
        parts = [mx.cos(y), mx.sin(y)] if self.cos_first else [mx.sin(y), mx.cos(y)]
        return mx.concatenate(parts, axis=-1) * self.scale


class ALiBi(Module):
    """Attention with linear biases: adds ``-slope_h * |i - j|`` to head h's scores."""

    @staticmethod
    def create_alibi_slope(num_heads: int):
        x = (2**8) ** (1.0 / num_heads)
        return mx.power(x, -mx.arange(1, num_heads + 1, dtype=mx.float32)).reshape(-1, 1, 1)

    @staticmethod
    def create_alibi_matrix(
        q_sequence_length: int, k_sequence_length: int, num_heads: int, offset: int, dtype
    ):
        qi = mx.arange(offset, q_sequence_length, dtype=mx.float32).reshape(-1, 1)
        kj = mx.arange(k_sequence_length, dtype=mx.float32).reshape(1, -1)
        distance = -mx.abs(qi - kj)
        return (
            (distance * ALiBi.create_alibi_slope(num_heads))
            .reshape(1, num_heads, *distance.shape)
            .astype(dtype)
        )

    def __call__(self, attention_scores, offset: int = 0, mask=None):
        lq, lk = attention_scores.shape[-2], attention_scores.shape[-1]
        bias = ALiBi.create_alibi_matrix(
            lq + offset, lk, attention_scores.shape[1], offset, attention_scores.dtype
        )
        if mask is not None:
            bias = bias + mask
        return attention_scores + bias
