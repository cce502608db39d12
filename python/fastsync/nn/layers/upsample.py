"""Spatial upsampling of channels-last inputs ``(N, *spatial, C)``: the Upsample layer and
the functions ``upsample_nearest``, ``upsample_linear`` and ``upsample_cubic``.

Every mode works on any number of spatial axes, one axis after the other (linear and
cubic interpolation are separable): gather the source samples with ``take`` and add them
up with their weights, so the result is differentiable in the input. Sample positions and
weights follow ``torch.nn.Upsample`` given a ``scale_factor``: an axis of size ``n`` becomes
``floor(n * scale)``; output index ``i`` reads the input at ``(i + 0.5) / scale - 0.5``, or
at ``i * (n - 1) / (out - 1)`` with ``align_corners``; nearest takes ``floor(i / scale)``;
cubic is Keys' kernel with ``a = -0.75``, clamping taps at the border. The positions are
computed in float32 (float64 for float64 inputs), as PyTorch does.
"""

from __future__ import annotations

import math

from ... import _core as mx
from ... import _dtypes
from .base import Module

_CUBIC_A = -0.75


def _scales(x, scale_factor, where: str) -> tuple[float, ...]:
    dims = x.ndim - 2
    if dims <= 0:
        raise ValueError(
            f"[{where}] expects a (N, *spatial, C) input with at least one spatial axis, "
            f"got shape {tuple(x.shape)}"
        )
    if isinstance(scale_factor, (tuple, list)):
        scales = tuple(float(s) for s in scale_factor)
        if len(scales) != dims:
            raise ValueError(
                f"[{where}] one scale per spatial axis is needed: got {len(scales)} scale(s) "
                f"for an input with {dims} spatial axes (shape {tuple(x.shape)})"
            )
    else:
        scales = (float(scale_factor),) * dims
    for n, s in zip(x.shape[1:-1], scales, strict=True):
        if not s > 0 or math.isinf(s):
            raise ValueError(f"[{where}] scale factors must be positive and finite, got {s}")
        if int(n * s) < 1:
            raise ValueError(f"[{where}] scale {s} leaves no sample of a spatial axis of size {n}")
    return scales


def _grid_dtype(x):
    return mx.float64 if x.dtype == mx.float64 else mx.float32


def _weight_dtype(x):
    return x.dtype if _dtypes.issubdtype(x.dtype, _dtypes.floating) else mx.float32


def _positions(n: int, m: int, scale: float, align_corners: bool, dtype):
    """Where each of the ``m`` outputs samples an axis of ``n`` inputs (unclamped)."""
    i = mx.arange(m, dtype=dtype)
    if align_corners:
        return i * ((n - 1) / (m - 1) if m > 1 else 0.0)
    return (i + 0.5) * (1.0 / scale) - 0.5


def _along(w, axis: int, ndim: int):
    """``w`` (``(m,)``) shaped to broadcast along ``axis`` of an ``ndim``-d array."""
    shape = [1] * ndim
    shape[axis] = -1
    return w.reshape(shape)


def _repeat(x, axis: int, r: int):
    """Each entry of ``axis`` repeated ``r`` times, by broadcasting."""
    shape = list(x.shape)
    x = mx.expand_dims(x, axis + 1)
    x = mx.broadcast_to(x, (*shape[: axis + 1], r, *shape[axis + 1 :]))
    shape[axis] *= r
    return x.reshape(shape)


def _weighted_sum(x, axis: int, taps):
    """``sum_k take(x, index_k, axis) * weight_k`` over the ``(index, weight)`` taps."""
    out = None
    for index, weight in taps:
        term = mx.take(x, index, axis=axis) * _along(weight, axis, x.ndim)
        out = term if out is None else out + term
    return out


def upsample_nearest(x, scale_factor):
    """Nearest-neighbour upsampling of ``x`` (``(N, *spatial, C)``) by ``scale_factor``
    (a number, or one per spatial axis): output ``i`` copies input ``floor(i / scale)``."""
    scales = _scales(x, scale_factor, "upsample_nearest")
    for axis, (n, s) in enumerate(zip(x.shape[1:-1], scales, strict=True), start=1):
        if s == int(s):
            x = _repeat(x, axis, int(s))
            continue
        i = mx.arange(int(n * s), dtype=_grid_dtype(x))
        index = mx.minimum(mx.floor(i * (1.0 / s)).astype(mx.int32), n - 1)
        x = mx.take(x, index, axis=axis)
    return x


def _linear_taps(n, m, s, align_corners, dtype, wdtype):
    pos = mx.maximum(_positions(n, m, s, align_corners, dtype), 0)
    lo = mx.minimum(mx.floor(pos), n - 1)
    frac = mx.clip(pos - lo, 0, 1)
    lo = lo.astype(mx.int32)
    hi = mx.minimum(lo + 1, n - 1)
    return [(lo, (1 - frac).astype(wdtype)), (hi, frac.astype(wdtype))]


def _cubic_taps(n, m, s, align_corners, dtype, wdtype):
    pos = _positions(n, m, s, align_corners, dtype)
    base = mx.floor(pos)
    t = pos - base
    a = _CUBIC_A

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    base = base.astype(mx.int32)
    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    return [
        (mx.clip(base + k, 0, n - 1), w.astype(wdtype))
        for k, w in zip((-1, 0, 1, 2), weights, strict=True)
    ]


def _interpolate(x, scale_factor, align_corners, taps_fn, where):
    scales = _scales(x, scale_factor, where)
    dtype, wdtype = _grid_dtype(x), _weight_dtype(x)
    for axis, (n, s) in enumerate(zip(x.shape[1:-1], scales, strict=True), start=1):
        taps = taps_fn(n, int(n * s), s, align_corners, dtype, wdtype)
        x = _weighted_sum(x, axis, taps)
    return x


def upsample_linear(x, scale_factor, align_corners: bool = False):
    """Linear (bi-, trilinear, ...) upsampling of ``x`` (``(N, *spatial, C)``), as PyTorch's
    ``linear``/``bilinear``/``trilinear`` modes."""
    return _interpolate(x, scale_factor, align_corners, _linear_taps, "upsample_linear")


def upsample_cubic(x, scale_factor, align_corners: bool = False):
    """Cubic (bicubic, ...) upsampling of ``x`` (``(N, *spatial, C)``) with Keys' kernel,
    ``a = -0.75``, as PyTorch's ``bicubic`` mode."""
    return _interpolate(x, scale_factor, align_corners, _cubic_taps, "upsample_cubic")


_MODES = ("nearest", "linear", "cubic")


class Upsample(Module):
    """Upsamples the spatial axes of ``(N, *spatial, C)`` inputs by ``scale_factor`` (a
    number, or one per spatial axis) with ``mode`` ``"nearest"``, ``"linear"`` or ``"cubic"``.

    ``align_corners`` (linear and cubic) maps the first and last samples of the input and
    output onto each other instead of the outer edges of their pixels.
    """

    def __init__(self, scale_factor, mode: str = "nearest", align_corners: bool = False):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(
                f"[Upsample] unsupported mode {mode!r}: use one of {', '.join(_MODES)}"
            )
        if isinstance(scale_factor, (tuple, list)):
            scale_factor = tuple(float(s) for s in scale_factor)
            object.__setattr__(self, "scale_factor", scale_factor)
        else:
            self.scale_factor = float(scale_factor)
        self.mode = mode
        self.align_corners = align_corners

    def _extra_repr(self) -> str:
        return (
            f"scale_factor={self.scale_factor}, mode={self.mode!r}, "
            f"align_corners={self.align_corners}"
        )

    def __call__(self, x):
        if self.mode == "nearest":
            return upsample_nearest(x, self.scale_factor)
        fn = upsample_linear if self.mode == "linear" else upsample_cubic
        return fn(x, self.scale_factor, self.align_corners)
