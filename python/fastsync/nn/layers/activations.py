"""Activation functions, and a Module class for each (MLX's names and defaults)."""

from __future__ import annotations

import math

from ... import _core as mx
from .base import Module

__all__ = [
    "celu", "elu", "gelu", "gelu_approx", "gelu_fast_approx", "glu", "hard_shrink", "hard_tanh",
    "hardswish", "leaky_relu", "log_sigmoid", "log_softmax", "mish", "prelu", "relu", "relu2",
    "relu6", "selu", "sigmoid", "silu", "softmax", "softmin", "softplus", "softshrink",
    "softsign", "step", "tanh",
    "CELU", "ELU", "GELU", "GLU", "HardShrink", "HardTanh", "Hardswish", "LeakyReLU",
    "LogSigmoid", "LogSoftmax", "Mish", "PReLU", "ReLU", "ReLU2", "ReLU6", "SELU", "Sigmoid",
    "SiLU", "Softmax", "Softmin", "Softplus", "Softshrink", "Softsign", "Step", "Tanh",
]  # fmt: skip

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def sigmoid(x):
    return mx.sigmoid(x)


def relu(x):
    return mx.maximum(x, 0)


def relu2(x):
    """The square of relu."""
    return mx.square(mx.maximum(x, 0))


def relu6(x):
    return mx.minimum(mx.maximum(x, 0), 6.0)


def leaky_relu(x, negative_slope: float = 0.01):
    return mx.maximum(negative_slope * x, x)


def softplus(x):
    """``log(1 + exp(x))``, computed without overflow."""
    return mx.logaddexp(x, 0)


def log_sigmoid(x):
    return -softplus(-x)


def elu(x, alpha: float = 1.0):
    return mx.where(x > 0, x, alpha * (mx.exp(x) - 1))


def celu(x, alpha: float = 1.0):
    return mx.maximum(x, 0.0) + alpha * (mx.exp(mx.minimum(x, 0.0) / alpha) - 1)


def selu(x):
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def gelu(x):
    """The exact GELU: ``x * Phi(x)`` with the normal CDF written through erf."""
    return x * (1 + mx.erf(x / math.sqrt(2))) / 2


def gelu_approx(x):
    """GELU's tanh approximation."""
    return 0.5 * x * (1 + mx.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_fast_approx(x):
    """GELU's sigmoid approximation ``x * sigmoid(1.702 x)``."""
    return x * mx.sigmoid(1.702 * x)


def silu(x):
    return mx._silu(x)


def mish(x):
    return x * mx.tanh(softplus(x))


def tanh(x):
    return mx.tanh(x)


def softsign(x):
    return x / (1 + mx.abs(x))


def softshrink(x, lambd: float = 0.5):
    return mx.where(mx.abs(x) > lambd, x - mx.sign(x) * lambd, 0)


def hard_shrink(x, lambd: float = 0.5):
    return mx.where(mx.abs(x) > lambd, x, 0)


def hard_tanh(x, min_val: float = -1.0, max_val: float = 1.0):
    return mx.minimum(mx.maximum(x, min_val), max_val)


def hardswish(x):
    return x * mx.minimum(mx.maximum(x + 3, 0), 6) / 6


def step(x, threshold: float = 0.0):
    return mx.where(x > threshold, 1, 0)


def prelu(x, alpha):
    return mx.maximum(0, x) + alpha * mx.minimum(0, x)


def glu(x, axis: int = -1):
    """Gated linear unit: the first half of ``axis`` times the sigmoid of the second."""
    if x.shape[axis] % 2:
        raise ValueError(f"[glu] axis {axis} has odd size {x.shape[axis]}; it must split in two")
    a, b = mx.split(x, 2, axis=axis)
    return a * mx.sigmoid(b)


def softmax(x, axis: int = -1):
    return mx.softmax(x, axis=axis)


def softmin(x, axis: int = -1):
    return mx.softmax(-x, axis=axis)


def log_softmax(x, axis: int = -1):
    return x - mx.logsumexp(x, axis=axis, keepdims=True)


def _simple(name: str, fn, doc: str):
    """A parameterless Module class applying ``fn``."""

    def __call__(self, x):
        return fn(x)

    return type(name, (Module,), {"__call__": __call__, "__doc__": doc})


Sigmoid = _simple("Sigmoid", sigmoid, "Applies the sigmoid.")
ReLU = _simple("ReLU", relu, "Applies relu.")
ReLU2 = _simple("ReLU2", relu2, "Applies the square of relu.")
ReLU6 = _simple("ReLU6", relu6, "Applies relu clipped at 6.")
Softplus = _simple("Softplus", softplus, "Applies softplus.")
LogSigmoid = _simple("LogSigmoid", log_sigmoid, "Applies log(sigmoid(x)).")
SELU = _simple("SELU", selu, "Applies the scaled exponential linear unit.")
SiLU = _simple("SiLU", silu, "Applies x * sigmoid(x).")
Mish = _simple("Mish", mish, "Applies x * tanh(softplus(x)).")
Tanh = _simple("Tanh", tanh, "Applies tanh.")
Softsign = _simple("Softsign", softsign, "Applies x / (1 + |x|).")
Hardswish = _simple("Hardswish", hardswish, "Applies hard swish.")


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self._negative_slope = negative_slope

    def __call__(self, x):
        return leaky_relu(x, self._negative_slope)


class ELU(Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return elu(x, self._alpha)


class CELU(Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return celu(x, self._alpha)


class GELU(Module):
    """GELU: ``approx`` is "none" (exact), "precise" or "tanh" (tanh form), or "fast"."""

    def __init__(self, approx: str = "none"):
        super().__init__()
        forms = {"none": gelu, "precise": gelu_approx, "tanh": gelu_approx}
        forms["fast"] = gelu_fast_approx
        if approx not in forms:
            raise ValueError(
                f"[GELU] approx must be one of {', '.join(map(repr, forms))}, got {approx!r}"
            )
        self._act = forms[approx]

    def __call__(self, x):
        return self._act(x)


class GLU(Module):
    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def __call__(self, x):
        return glu(x, self.axis)


class Softshrink(Module):
    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return softshrink(x, self.lambd)


class HardShrink(Module):
    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return hard_shrink(x, self.lambd)


class HardTanh(Module):
    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__()
        self.min_val, self.max_val = min_val, max_val

    def __call__(self, x):
        return hard_tanh(x, self.min_val, self.max_val)


class Step(Module):
    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def __call__(self, x):
        return step(x, self.threshold)


class PReLU(Module):
    """Leaky relu with a learned slope (one, or one per channel of the last axis)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        self.weight = mx.full([num_parameters], init)

    def __call__(self, x):
        return prelu(x, self.weight)


class Softmax(Module):
    def __call__(self, x):
        return softmax(x)


class Softmin(Module):
    def __call__(self, x):
        return softmin(x)


class LogSoftmax(Module):
    def __call__(self, x):
        return log_softmax(x)
