"""Tensor-parallel linear layers over ``fastsync.distributed`` (MLX's
``nn.layers.distributed``).

``AllToShardedLinear`` takes the full input on every process and returns this process's
slice of the output features; ``ShardedToAllLinear`` takes a slice of the input features
and returns the full output (summed over the group). A pair of them splits an MLP or an
attention block over the processes with one all-sum forward and one backward.
``shard_linear`` builds either from a Linear or QuantizedLinear; ``shard_inplace`` slices a
module's parameters in place. ``segments`` handles fused projections (q, k and v in one
weight): each segment is sliced separately.
"""

from __future__ import annotations

import math

from ... import _core as mx
from ... import distributed
from ..._quantize import quantized_matmul
from ..._transforms import custom_function
from .base import Module
from .linear import Linear
from .quantized import QuantizedLinear, _Frozen

__all__ = [
    "AllToShardedLinear", "ShardedToAllLinear", "QuantizedAllToShardedLinear",
    "QuantizedShardedToAllLinear", "shard_linear", "shard_inplace", "sum_gradients",
]  # fmt: skip


def sum_gradients(group=None):
    """The identity whose gradient is summed over ``group`` (replicated input, sharded use)."""
    group = group or distributed.init()
    if group.size() == 1:
        return lambda x: x

    @custom_function
    def f(x):
        return x

    @f.vjp
    def f_vjp(x, dx, _):
        return distributed.all_sum(dx, group=group)

    return f


def _split(name: str, n: int, parts: int) -> int:
    if n % parts:
        raise ValueError(f"[{name}] {n} does not split into {parts} equal parts")
    return n // parts


def _shard(x, axis: int, segments: int, group):
    """This process's slice of ``x`` along ``axis``, slicing each of ``segments`` on its own."""
    n, r = group.size(), group.rank()
    seg = _split("shard", x.shape[axis], segments)
    size = _split("shard", seg, n)
    parts = []
    for s in range(segments):
        start = s * seg + r * size
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, start + size)
        parts.append(x[tuple(index)])
    return mx.concatenate(parts, axis=axis) if len(parts) > 1 else mx.contiguous(parts[0])


class AllToShardedLinear(Module):
    """Full input, this process's ``output_dims / N`` output features."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True, group=None):
        super().__init__()
        self.group = group or distributed.init()
        out = _split("AllToShardedLinear", output_dims, self.group.size())
        k = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(-k, k, (out, input_dims))
        if bias:
            self.bias = mx.random.uniform(-k, k, (out,))

    def __call__(self, x):
        x = sum_gradients(self.group)(x)
        if "bias" in self:
            return mx.addmm(self["bias"], x, self["weight"].T)
        return x @ self["weight"].T

    @classmethod
    def from_linear(cls, linear: Linear, *, segments: int = 1, group=None):
        group = group or distributed.init()
        out, inp = linear.weight.shape
        layer = cls(inp, out, "bias" in linear, group)
        layer.weight = _shard(linear.weight, 0, segments, group)
        if "bias" in linear:
            layer.bias = _shard(linear.bias, 0, segments, group)
        return layer


class ShardedToAllLinear(Module):
    """This process's ``input_dims / N`` input features, the full (summed) output."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True, group=None):
        super().__init__()
        self.group = group or distributed.init()
        inp = _split("ShardedToAllLinear", input_dims, self.group.size())
        k = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(-k, k, (output_dims, inp))
        if bias:
            self.bias = mx.random.uniform(-k, k, (output_dims,))

    def __call__(self, x):
        y = x @ self["weight"].T
        if self.group.size() > 1:
            y = distributed.all_sum(y, group=self.group)
        return y + self["bias"] if "bias" in self else y

    @classmethod
    def from_linear(cls, linear: Linear, *, segments: int = 1, group=None):
        group = group or distributed.init()
        out, inp = linear.weight.shape
        layer = cls(inp, out, "bias" in linear, group)
        layer.weight = _shard(linear.weight, 1, segments, group)
        if "bias" in linear:
            layer.bias = linear.bias
        return layer


class QuantizedAllToShardedLinear(_Frozen):
    """AllToShardedLinear over a quantized weight (rows are output features)."""

    def __init__(self, q: QuantizedLinear, segments: int = 1, group=None):
        super().__init__()
        self.group = group or distributed.init()
        self.group_size, self.bits, self.mode = q.group_size, q.bits, q.mode
        self.weight = _shard(q.weight, 0, segments, self.group)
        self.scales = _shard(q.scales, 0, segments, self.group)
        self.biases = _shard(q.biases, 0, segments, self.group)
        if "bias" in q:
            self.bias = _shard(q.bias, 0, segments, self.group)
        self.freeze(keys=["weight", "scales", "biases"], recurse=False)

    def __call__(self, x):
        x = sum_gradients(self.group)(x)
        y = quantized_matmul(
            x, self["weight"], self["scales"], self["biases"], True, self.group_size, self.bits,
            self.mode,
        )  # fmt: skip
        return y + self["bias"] if "bias" in self else y


class QuantizedShardedToAllLinear(_Frozen):
    """ShardedToAllLinear over a quantized weight: input features are sliced by whole
    quantization groups."""

    def __init__(self, q: QuantizedLinear, segments: int = 1, group=None):
        super().__init__()
        self.group = group or distributed.init()
        self.group_size, self.bits, self.mode = q.group_size, q.bits, q.mode
        self.weight = _shard(q.weight, 1, segments, self.group)
        self.scales = _shard(q.scales, 1, segments, self.group)
        self.biases = _shard(q.biases, 1, segments, self.group)
        if "bias" in q:
            self.bias = q.bias
        self.freeze(keys=["weight", "scales", "biases"], recurse=False)

    def __call__(self, x):
        y = quantized_matmul(
            x, self["weight"], self["scales"], self["biases"], True, self.group_size, self.bits,
            self.mode,
        )  # fmt: skip
        if self.group.size() > 1:
            y = distributed.all_sum(y, group=self.group)
        return y + self["bias"] if "bias" in self else y


_KINDS = ("all-to-sharded", "sharded-to-all")


def shard_linear(module, sharding: str, *, segments: int = 1, group=None):
    """A sharded copy of a Linear or QuantizedLinear (``sharding``: "all-to-sharded" or
    "sharded-to-all")."""
    if sharding not in _KINDS:
        raise ValueError(f"[shard_linear] sharding must be one of {_KINDS}, got {sharding!r}")
    first = sharding == _KINDS[0]
    if isinstance(module, QuantizedLinear):
        kind = QuantizedAllToShardedLinear if first else QuantizedShardedToAllLinear
        return kind(module, segments, group)
    if isinstance(module, Linear):
        kind = AllToShardedLinear if first else ShardedToAllLinear
        return kind.from_linear(module, segments=segments, group=group)
    raise ValueError(f"[shard_linear] cannot shard a {type(module).__name__}")


def shard_inplace(module: Module, sharding: str, *, segments: int = 1, group=None) -> None:
    """Slice ``module``'s parameters for this process in place: weights along the output
    axis (all-to-sharded, biases too) or the input axis (sharded-to-all)."""
    if sharding not in _KINDS:
        raise ValueError(f"[shard_inplace] sharding must be one of {_KINDS}, got {sharding!r}")
    group = group or distributed.init()
    first = sharding == _KINDS[0]

    def one(x):
        if first:
            return _shard(x, 0, segments, group)
        return _shard(x, x.ndim - 1, segments, group) if x.ndim > 1 else x

    module.apply(one)
