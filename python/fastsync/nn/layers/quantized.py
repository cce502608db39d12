"""Quantized layers (MLX's affine format, see fastsync.quantize) and ``nn.quantize``.

A quantized layer keeps the packed weight, its scales and biases as frozen state (they
are not trained; a bias vector, if any, may be), and multiplies through
``quantized_matmul``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ... import _core as mx
from ..._quantize import dequantize, quantize, quantized_matmul
from ...utils import tree_map_with_path
from .base import Module

_QUANTIZED = ("weight", "scales", "biases")


class _Frozen(Module):
    """Keeps the quantized tensors frozen through ``unfreeze``."""

    def unfreeze(self, *args, **kwargs):
        super().unfreeze(*args, **kwargs)
        self.freeze(keys=list(_QUANTIZED), recurse=False)
        return self


class QuantizedLinear(_Frozen):
    """A Linear layer whose ``(output_dims, input_dims)`` weight is quantized."""

    def __init__(
        self,
        input_dims: int,
        output_dims: int,
        bias: bool = True,
        group_size: int = 64,
        bits: int = 4,
        mode: str = "affine",
    ):
        super().__init__()
        self.group_size, self.bits, self.mode = group_size, bits, mode
        k = math.sqrt(1.0 / input_dims)
        w = mx.random.uniform(-k, k, (output_dims, input_dims))
        self.weight, self.scales, self.biases = quantize(w, group_size, bits, mode)
        if bias:
            self.bias = mx.zeros((output_dims,))
        self.freeze(keys=list(_QUANTIZED), recurse=False)

    def _extra_repr(self) -> str:
        out, packed = self.weight.shape
        inp = packed * 32 // self.bits
        return (
            f"input_dims={inp}, output_dims={out}, bias={'bias' in self}, "
            f"group_size={self.group_size}, bits={self.bits}"
        )

    def __call__(self, x):
        y = quantized_matmul(
            x, self["weight"], self["scales"], self["biases"], True, self.group_size, self.bits,
            self.mode,
        )  # fmt: skip
        return y + self["bias"] if "bias" in self else y

    @classmethod
    def from_linear(cls, linear, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        out, inp = linear.weight.shape
        q = cls(inp, out, False, group_size, bits, mode)
        q.weight, q.scales, q.biases = quantize(linear.weight, group_size, bits, mode)
        if "bias" in linear:
            q.bias = linear.bias
        return q


class QuantizedEmbedding(_Frozen):
    """An Embedding whose ``(num_embeddings, dims)`` table is quantized."""

    def __init__(
        self, num_embeddings: int, dims: int, group_size: int = 64, bits: int = 4, mode="affine"
    ):
        super().__init__()
        self.group_size, self.bits, self.mode = group_size, bits, mode
        table = mx.random.normal((num_embeddings, dims), scale=math.sqrt(1 / dims))
        self.weight, self.scales, self.biases = quantize(table, group_size, bits, mode)
        self.num_embeddings, self.dims = num_embeddings, dims
        self.freeze(keys=list(_QUANTIZED), recurse=False)

    def __call__(self, x):
        flat = x.reshape(-1)
        rows = dequantize(
            self["weight"][flat], self["scales"][flat], self["biases"][flat], self.group_size,
            self.bits, self.mode,
        )  # fmt: skip
        return rows.reshape(*x.shape, -1)

    def as_linear(self, x):
        return quantized_matmul(
            x, self["weight"], self["scales"], self["biases"], True, self.group_size, self.bits,
            self.mode,
        )  # fmt: skip

    @classmethod
    def from_embedding(cls, embedding, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        n, dims = embedding.weight.shape
        q = cls(n, dims, group_size, bits, mode)
        q.weight, q.scales, q.biases = quantize(embedding.weight, group_size, bits, mode)
        return q


def quantize_model(
    model: Module,
    group_size: int = 64,
    bits: int = 4,
    *,
    mode: str = "affine",
    class_predicate: Callable | None = None,
) -> None:
    """Replace the model's quantizable leaf modules (Linear, Embedding) in place.

    ``class_predicate(path, module)`` picks them (default: every module that has
    ``to_quantized``); it may return a dict of ``to_quantized`` arguments for that module.
    """

    def default(path, m):
        return hasattr(m, "to_quantized")

    predicate = class_predicate or default

    def one(path, m):
        choice = predicate(path, m)
        if not choice:
            return m
        if not hasattr(m, "to_quantized"):
            raise ValueError(f"[quantize] cannot quantize {path!r} of type {type(m).__name__}")
        kwargs = choice if isinstance(choice, dict) else {}
        kwargs = {"group_size": group_size, "bits": bits, "mode": mode, **kwargs}
        return m.to_quantized(**kwargs)

    leaves = tree_map_with_path(one, model.leaf_modules(), is_leaf=lambda x: isinstance(x, Module))
    model.update_modules(leaves)
