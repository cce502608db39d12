"""Affine layers: Identity, Linear, Bilinear."""

from __future__ import annotations

import math

from ... import _core as mx
from .base import Module


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __call__(self, x):
        return x


class Linear(Module):
    """``y = x W^T + b``; W is ``(output_dims, input_dims)``, both drawn from
    ``U(-k, k)`` with ``k = 1 / sqrt(input_dims)``."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True):
        super().__init__()
        k = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(-k, k, (output_dims, input_dims))
        if bias:
            self.bias = mx.random.uniform(-k, k, (output_dims,))

    def _extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"input_dims={inp}, output_dims={out}, bias={'bias' in self}"

    def __call__(self, x):
        if "bias" in self:
            return mx.addmm(self["bias"], x, self["weight"].T)
        return x @ self["weight"].T

    def to_quantized(self, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        """A QuantizedLinear holding this layer's weights."""
        from .quantized import QuantizedLinear

        return QuantizedLinear.from_linear(self, group_size, bits, mode)


class Bilinear(Module):
    """``y_i = x1^T W_i x2 + b_i``; W is ``(output_dims, input2_dims, input1_dims)``, drawn with
    b from ``U(-k, k)``, ``k = 1 / sqrt(input1_dims)``."""

    def __init__(self, input1_dims: int, input2_dims: int, output_dims: int, bias: bool = True):
        super().__init__()
        k = math.sqrt(1.0 / input1_dims)
        self.weight = mx.random.uniform(-k, k, (output_dims, input2_dims, input1_dims))
        if bias:
            self.bias = mx.random.uniform(-k, k, (output_dims,))

    def _extra_repr(self) -> str:
        out, in2, in1 = self.weight.shape
        return f"input1_dims={in1}, input2_dims={in2}, output_dims={out}, bias={'bias' in self}"

    def __call__(self, x1, x2):
        out, in2, in1 = self.weight.shape
        lead = x1.shape[:-1]
        x1 = x1.reshape(-1, in1)
        x2 = x2.reshape(-1, 1, in2)
        # (n, in1) @ (in1, out*in2) -> (n, out, in2), then contract in2 with x2.
        y = (x1 @ self.weight.reshape(out * in2, in1).T).reshape(-1, out, in2)
        y = (y @ x2.swapaxes(-1, -2)).squeeze(-1)
        if "bias" in self:
            y = y + self.bias
        return y.reshape(*lead, out)
