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


class _ChannelDropout(Module):
    """Zeroes whole channels (the last axis) over the ``spatial`` axes before it."""

    _name = ""
    _spatial = 0

    def __init__(self, p: float = 0.5):
        super().__init__()
        self._p_1 = _check_p(self._name, p)

    def __call__(self, x):
        ndims = (self._spatial + 1, self._spatial + 2)
        if x.ndim not in ndims:
            raise ValueError(
                f"[{self._name}] expects {ndims[0]} or {ndims[1]} dimensions (channels last), "
                f"got {x.ndim}"
            )
        if self._p_1 == 1 or not self.training:
            return x
        shape = list(x.shape)
        for k in range(2, self._spatial + 2):
            shape[-k] = 1
        keep = mx.random.bernoulli(self._p_1, shape)
        return (1 / self._p_1) * keep * x


class Dropout2d(_ChannelDropout):
    """Zeroes whole channels of ``(N, H, W, C)`` or ``(H, W, C)`` inputs with probability p."""

    _name, _spatial = "Dropout2d", 2


class Dropout3d(_ChannelDropout):
    """Zeroes whole channels of ``(N, D, H, W, C)`` or ``(D, H, W, C)`` inputs."""

    _name, _spatial = "Dropout3d", 3
