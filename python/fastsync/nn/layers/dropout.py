"""Dropout layers: active in training mode only, scaling kept entries by 1 / (1 - p)."""

from __future__ import annotations

from ... import _core as mx
from .base import Module


def _check_p(name: str, p: float) -> float:
    if not 0 <= p < 1:
        raise ValueError(f"[{name}] the dropout probability must be in [0, 1), got {p}")
    return 1 - p


class Dropout(Module):
    """Zeroes each entry with probability ``p``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self._p_1 = _check_p("Dropout", p)

    def _extra_repr(self) -> str:
        return f"p={1 - self._p_1}"

    def __call__(self, x):
        if self._p_1 == 1 or not self.training:
            return x
        keep = mx.random.bernoulli(self._p_1, x.shape)
        return (1 / self._p_1) * keep * x


class Dropout2d(Module):
    """Zeroes whole channels of ``(N, H, W, C)`` or ``(H, W, C)`` inputs with probability p."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self._p_1 = _check_p("Dropout2d", p)

    def __call__(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"[Dropout2d] expects 3 or 4 dimensions (NHWC), got {x.ndim}")
        if self._p_1 == 1 or not self.training:
            return x
        shape = list(x.shape)
        shape[-2] = shape[-3] = 1
        keep = mx.random.bernoulli(self._p_1, shape)
        return (1 / self._p_1) * keep * x


class Dropout3d(Module):
    """Zeroes whole channels of ``(N, D, H, W, C)`` or ``(D, H, W, C)`` inputs."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self._p_1 = _check_p("Dropout3d", p)

    def __call__(self, x):
        if x.ndim not in (4, 5):
            raise ValueError(f"[Dropout3d] expects 4 or 5 dimensions (NDHWC), got {x.ndim}")
        if self._p_1 == 1 or not self.training:
            return x
        shape = list(x.shape)
        shape[-2] = shape[-3] = shape[-4] = 1
        keep = mx.random.bernoulli(self._p_1, shape)
        return (1 / self._p_1) * keep * x
