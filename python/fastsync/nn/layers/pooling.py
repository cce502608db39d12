"""Pooling layers over channels-last inputs ``(N, *spatial, C)``: MaxPool1d/2d/3d and
AvgPool1d/2d/3d.

Each window is a view of the (padded) input, taken with ``as_strided`` (or a reshape when
the windows tile the input), reduced with ``max`` or ``mean`` over its axes; both are
differentiable. As in MLX, max pooling pads with ``-inf`` and average pooling with zeros
that count in the average.
"""

from __future__ import annotations

import math

from ... import _core as mx
from ... import _dtypes
from .base import Module
from .convolution import _check, _per_axis


def _windows(x, kernel: tuple[int, ...], stride: tuple[int, ...]):
    """``(N, *out, *kernel, C)``: every window of ``x`` (``(N, *spatial, C)``)."""
    n = len(kernel)
    batch, spatial, channels = x.shape[0], tuple(x.shape[1:-1]), x.shape[-1]
    out = tuple((s - k) // t + 1 for s, k, t in zip(spatial, kernel, stride, strict=True))
    if kernel == stride:
        # The windows tile the input (after dropping a remainder): a reshape is enough.
        if any(o * k != s for o, k, s in zip(out, kernel, spatial, strict=True)):
            x = x[(slice(None), *(slice(0, o * k) for o, k in zip(out, kernel, strict=True)))]
        split = [batch]
        for o, k in zip(out, kernel, strict=True):
            split += [o, k]
        x = x.reshape(*split, channels)
        order = [0, *range(1, 2 * n, 2), *range(2, 2 * n + 1, 2), 2 * n + 1]
        return x.transpose(order)
    # Row-major strides of x; as_strided reads x's elements in row-major order whatever
    # its layout, so views and transposes need no special care.
    strides = [math.prod(x.shape[i + 1 :]) for i in range(x.ndim)]
    axes = strides[1:-1]
    return mx.as_strided(
        x,
        (batch, *out, *kernel, channels),
        (strides[0], *(a * t for a, t in zip(axes, stride, strict=True)), *axes, 1),
    )


class _Pool(Module):
    """Reduces each ``kernel_size`` window, ``stride`` apart, of the padded input."""

    _dims = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        where, n = type(self).__name__, self._dims
        kernel = _per_axis(kernel_size, n, where, "kernel_size")
        stride = kernel if stride is None else _per_axis(stride, n, where, "stride")
        padding = _per_axis(padding, n, where, "padding")
        _check(where, "kernel_size", kernel, 1)
        _check(where, "stride", stride, 1)
        _check(where, "padding", padding, 0)
        self._kernel_size, self._stride, self._padding = kernel, stride, padding

    def __setattr__(self, key: str, value):
        if key in ("_kernel_size", "_stride", "_padding"):  # tuples, but not state
            object.__setattr__(self, key, value)
        else:
            super().__setattr__(key, value)

    @property
    def kernel_size(self) -> tuple[int, ...]:
        return self._kernel_size

    @property
    def stride(self) -> tuple[int, ...]:
        return self._stride

    @property
    def padding(self) -> tuple[int, ...]:
        return self._padding

    def _extra_repr(self) -> str:
        return f"kernel_size={self._kernel_size}, stride={self._stride}, padding={self._padding}"

    def _pad_value(self, dtype):
        raise NotImplementedError

    def _reduce(self, windows, axes):
        raise NotImplementedError

    def __call__(self, x):
        where, n = type(self).__name__, self._dims
        if x.ndim != n + 2:
            raise ValueError(
                f"[{where}] expects a (N, {n} spatial axes, C) input with {n + 2} dimensions, "
                f"got shape {tuple(x.shape)}"
            )
        if any(self._padding):
            widths = [(0, 0), *((p, p) for p in self._padding), (0, 0)]
            x = mx.pad(x, widths, constant_values=self._pad_value(x.dtype))
        spatial = tuple(x.shape[1:-1])
        if any(s < k for s, k in zip(spatial, self._kernel_size, strict=True)):
            raise ValueError(
                f"[{where}] the kernel {self._kernel_size} is larger than the padded input's "
                f"spatial shape {spatial}"
            )
        windows = _windows(x, self._kernel_size, self._stride)
        return self._reduce(windows, tuple(range(n + 1, 2 * n + 1)))


class _MaxPool(_Pool):
    def _pad_value(self, dtype):
        if _dtypes.issubdtype(dtype, _dtypes.inexact):
            return -float("inf")
        if dtype == mx.bool_:
            return False
        return _dtypes.iinfo(dtype).min

    def _reduce(self, windows, axes):
        return mx.max(windows, axis=axes)


class _AvgPool(_Pool):
    def _pad_value(self, dtype):
        return 0

    def _reduce(self, windows, axes):
        return mx.mean(windows, axis=axes)


class MaxPool1d(_MaxPool):
    """Maximum over sliding windows of ``(N, L, C)`` inputs, padded with ``-inf``;
    ``stride`` defaults to ``kernel_size``."""

    _dims = 1


class MaxPool2d(_MaxPool):
    """Maximum over sliding windows of ``(N, H, W, C)`` inputs, padded with ``-inf``.

    ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding`` are an int
    (every axis) or a tuple with one entry per spatial axis.
    """

    _dims = 2


class MaxPool3d(_MaxPool):
    """Maximum over sliding windows of ``(N, D, H, W, C)`` inputs, padded with ``-inf``."""

    _dims = 3


class AvgPool1d(_AvgPool):
    """Mean over sliding windows of ``(N, L, C)`` inputs; zero padding counts in the mean."""

    _dims = 1


class AvgPool2d(_AvgPool):
    """Mean over sliding windows of ``(N, H, W, C)`` inputs; zero padding counts in the mean.

    ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding`` are an int
    (every axis) or a tuple with one entry per spatial axis.
    """

    _dims = 2


class AvgPool3d(_AvgPool):
    """Mean over sliding windows of ``(N, D, H, W, C)`` inputs; zero padding counts in the
    mean."""

    _dims = 3
