"""Convolution layers over channels-last inputs: Conv1d/2d/3d and ConvTranspose1d/2d/3d.

Inputs are ``(N, *spatial, C_in)`` and weights ``(C_out, *kernel_size, C_in // groups)``, as
in MLX, for the plain and the transposed convolutions alike. Weights are drawn from
``U(-s, s)`` with ``s = sqrt(1 / (in_channels * prod(kernel_size)))`` and biases start at
zero, MLX's initialization.
"""

from __future__ import annotations

import math
import operator

from ... import _core as mx
from .base import Module


def _per_axis(value, n: int, where: str, name: str) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of ``n`` ints) as a tuple of ``n`` ints."""
    seq = value if isinstance(value, (tuple, list)) else (value,) * n
    try:
        if len(seq) != n or any(isinstance(v, bool) for v in seq):
            raise TypeError
        return tuple(operator.index(v) for v in seq)
    except TypeError:
        raise ValueError(
            f"[{where}] '{name}' must be an int or a tuple of {n} ints, got {value!r}"
        ) from None


def _check(where: str, name: str, values: tuple[int, ...], low: int) -> None:
    if any(v < low for v in values):
        what = "positive" if low == 1 else "non-negative"
        shown = values[0] if len(values) == 1 else values
        raise ValueError(f"[{where}] '{name}' must be {what}, got {shown}")


# The layers' hyper-parameters: plain attributes, never entries of the module's tree.
_CONFIG = frozenset(
    "in_channels out_channels kernel_size stride padding dilation output_padding groups".split()
)


class _ConvNd(Module):
    """The state and checks shared by the plain and transposed convolutions."""

    _dims = 0
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride,
        padding,
        dilation,
        groups: int,
        bias: bool,
        output_padding=0,
    ):
        super().__init__()
        where, n = type(self).__name__, self._dims
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(
                f"[{where}] channel counts must be positive, got in_channels={in_channels}, "
                f"out_channels={out_channels}"
            )
        if groups <= 0:
            raise ValueError(f"[{where}] 'groups' must be positive, got {groups}")
        for name, count in (("in_channels", in_channels), ("out_channels", out_channels)):
            if count % groups:
                raise ValueError(
                    f"[{where}] {name} ({count}) must be divisible by groups ({groups})"
                )
        kernel = _per_axis(kernel_size, n, where, "kernel_size")
        stride = _per_axis(stride, n, where, "stride")
        padding = _per_axis(padding, n, where, "padding")
        dilation = _per_axis(dilation, n, where, "dilation")
        output_padding = _per_axis(output_padding, n, where, "output_padding")
        _check(where, "kernel_size", kernel, 1)
        _check(where, "stride", stride, 1)
        _check(where, "padding", padding, 0)
        _check(where, "dilation", dilation, 1)
        _check(where, "output_padding", output_padding, 0)
        if any(p >= max(s, d) for p, s, d in zip(output_padding, stride, dilation, strict=True)):
            raise ValueError(
                f"[{where}] 'output_padding' {self._show(output_padding)} must be smaller "
                f"than the stride or the dilation along each axis"
            )

        scale = math.sqrt(1.0 / (in_channels * math.prod(kernel)))
        self.weight = mx.random.uniform(
            -scale, scale, (out_channels, *kernel, in_channels // groups)
        )
        if bias:
            self.bias = mx.zeros((out_channels,))
        config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "kernel_size": self._show(kernel),
            "stride": self._show(stride),
            "padding": self._show(padding),
            "dilation": self._show(dilation),
            "groups": groups,
        }
        if self._transposed:
            config["output_padding"] = self._show(output_padding)
        for key, value in config.items():
            setattr(self, key, value)

    def __setattr__(self, key: str, value):
        if key in _CONFIG:  # kept out of the tree even when reassigned to a tuple
            object.__setattr__(self, key, value)
        else:
            super().__setattr__(key, value)

    def _show(self, values: tuple[int, ...]):
        """An int for 1-d layers (as MLX keeps them), the tuple otherwise."""
        return values[0] if self._dims == 1 else values

    def _extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
        )
        if self._transposed:
            text += f"output_padding={self.output_padding}, "
        return text + f"groups={self.groups}, bias={'bias' in self}"

    def _check_input(self, x) -> None:
        n = self._dims
        if x.ndim != n + 2:
            raise ValueError(
                f"[{type(self).__name__}] expects a (N, {n} spatial axes, C) input with "
                f"{n + 2} dimensions, got shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.in_channels:
            raise ValueError(
                f"[{type(self).__name__}] expects {self.in_channels} input channels (the last "
                f"axis), got shape {tuple(x.shape)}"
            )

    def _add_bias(self, y):
        return y + self["bias"] if "bias" in self else y


_CONV = {1: mx.conv1d, 2: mx.conv2d, 3: mx.conv3d}
_CONV_T = {1: mx.conv_transpose1d, 2: mx.conv_transpose2d, 3: mx.conv_transpose3d}


class _Conv(_ConvNd):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
        )

    def __call__(self, x):
        self._check_input(x)
        conv = _CONV[self._dims]
        y = conv(x, self["weight"], self.stride, self.padding, self.dilation, self.groups)
        return self._add_bias(y)


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        output_padding=0,
        bias: bool = True,
        groups: int = 1,
    ):
        # bias before groups, as MLX orders them: a positional bias must land on bias.
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            output_padding,
        )

    def __call__(self, x):
        self._check_input(x)
        conv = _CONV_T[self._dims]
        y = conv(
            x,
            self["weight"],
            self.stride,
            self.padding,
            self.dilation,
            self.output_padding,
            self.groups,
        )
        return self._add_bias(y)


class Conv1d(_Conv):
    """1-d convolution of ``(N, L, C_in)`` inputs; weight ``(C_out, K, C_in // groups)``."""

    _dims = 1


class Conv2d(_Conv):
    """2-d convolution of ``(N, H, W, C_in)`` inputs; weight ``(C_out, KH, KW, C_in // groups)``.

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are an int (every axis) or a
    tuple with one entry per spatial axis.
    """

    _dims = 2


class Conv3d(_Conv):
    """3-d convolution of ``(N, D, H, W, C_in)`` inputs; weight
    ``(C_out, KD, KH, KW, C_in // groups)``."""

    _dims = 3


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution (the adjoint of Conv1d's input map) of ``(N, L, C_in)``
    inputs; weight ``(C_out, K, C_in // groups)``.

    The output length is ``(L - 1) * stride - 2 * padding + dilation * (K - 1) +
    output_padding + 1``, as in PyTorch.
    """

    _dims = 1


class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution of ``(N, H, W, C_in)`` inputs; weight
    ``(C_out, KH, KW, C_in // groups)``."""

    _dims = 2


class ConvTranspose3d(_ConvTranspose):
    """3-d transposed convolution of ``(N, D, H, W, C_in)`` inputs; weight
    ``(C_out, KD, KH, KW, C_in // groups)``."""

    _dims = 3
