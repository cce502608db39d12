"""Embedding: a table of vectors looked up by integer index."""

from __future__ import annotations

import math

from ... import _core as mx
from .base import Module


class Embedding(Module):
    """``num_embeddings`` vectors of size ``dims``, drawn from ``N(0, 1 / dims)``."""

    def __init__(self, num_embeddings: int, dims: int):
        super().__init__()
        self.weight = mx.random.normal((num_embeddings, dims), scale=math.sqrt(1.0 / dims))

    def _extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x):
        return self.weight[x]

    def as_linear(self, x):
        """Use the table as a linear layer's weight (tied input and output embeddings)."""
        return x @ self.weight.T

    def to_quantized(self, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        """A QuantizedEmbedding holding this table."""
        from .quantized import QuantizedEmbedding

        return QuantizedEmbedding.from_embedding(self, group_size, bits, mode)
