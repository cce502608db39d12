"""Attention and transformer blocks: MultiHeadAttention, Transformer{Encoder,Decoder}[Layer],
Transformer. Inputs are ``(batch, length, dims)``."""

from __future__ import annotations

import math
from collections.abc import Callable

from ... import _core as mx
from ... import _dtypes, fast
from ..utils import checkpoint as _checkpoint
from .activations import relu
from .base import Module
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm


class MultiHeadAttention(Module):
    """Attention of queries over keys and values, split into ``num_heads`` heads.

    ``mask`` (optional) is added to the scores (an additive mask such as
    ``create_additive_causal_mask``), or selects with a boolean array.
    """

    def __init__(
        self,
        dims: int,
        num_heads: int,
        query_input_dims: int | None = None,
        key_input_dims: int | None = None,
        value_input_dims: int | None = None,
        value_dims: int | None = None,
        value_output_dims: int | None = None,
        bias: bool = False,
    ):
        super().__init__()
        if dims % num_heads:
            raise ValueError(
                f"[MultiHeadAttention] dims ({dims}) must be a multiple of num_heads ({num_heads})"
            )
        query_input_dims = query_input_dims or dims
        key_input_dims = key_input_dims or dims
        value_input_dims = value_input_dims or key_input_dims
        value_dims = value_dims or dims
        value_output_dims = value_output_dims or dims
        self.num_heads = num_heads
        self.query_proj = Linear(query_input_dims, dims, bias=bias)
        self.key_proj = Linear(key_input_dims, dims, bias=bias)
        self.value_proj = Linear(value_input_dims, value_dims, bias=bias)
        self.out_proj = Linear(value_dims, value_output_dims, bias=bias)

    def __call__(self, queries, keys, values, mask=None):
        q, k, v = self.query_proj(queries), self.key_proj(keys), self.value_proj(values)
        h = self.num_heads
        b, lq, d = q.shape
        lk = k.shape[1]

        def heads(x, length):
            return x.reshape(b, length, h, -1).transpose(0, 2, 1, 3)

        q, k, v = heads(q, lq), heads(k, lk), heads(v, lk)
        scale = math.sqrt(1.0 / q.shape[-1])
        if mask is not None and not isinstance(mask, str) and mask.dtype != mx.bool_:
            mask = mask.astype(q.dtype)
        o = fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)
        return self.out_proj(o.transpose(0, 2, 1, 3).reshape(b, lq, -1))

    @staticmethod
    def create_additive_causal_mask(N: int, dtype=mx.float32):  # noqa: N803 (MLX's name)
        """``(N, N)``: 0 where a position may attend, the dtype's lowest value after it."""
        idx = mx.arange(N)
        future = idx.reshape(-1, 1) < idx.reshape(1, -1)
        return future.astype(dtype) * _dtypes.finfo(dtype).min


class TransformerEncoderLayer(Module):
    def __init__(
        self,
        dims: int,
        num_heads: int,
        mlp_dims: int | None = None,
        dropout: float = 0.0,
        activation: Callable = relu,
        norm_first: bool = True,
    ):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.attention = MultiHeadAttention(dims, num_heads)
        self.ln1, self.ln2 = LayerNorm(dims), LayerNorm(dims)
        self.linear1, self.linear2 = Linear(dims, mlp_dims), Linear(mlp_dims, dims)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def _mlp(self, x):
        return self.linear2(self.dropout2(self.activation(self.linear1(x))))

    def __call__(self, x, mask):
        if self.norm_first:
            y = self.ln1(x)
            x = x + self.dropout1(self.attention(y, y, y, mask))
            return x + self._mlp(self.ln2(x))
        x = self.ln1(x + self.dropout1(self.attention(x, x, x, mask)))
        return self.ln2(x + self._mlp(x))


class TransformerDecoderLayer(Module):
    def __init__(
        self,
        dims: int,
        num_heads: int,
        mlp_dims: int | None = None,
        dropout: float = 0.0,
        activation: Callable = relu,
        norm_first: bool = True,
    ):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.self_attention = MultiHeadAttention(dims, num_heads)
        self.cross_attention = MultiHeadAttention(dims, num_heads)
        self.ln1, self.ln2, self.ln3 = LayerNorm(dims), LayerNorm(dims), LayerNorm(dims)
        self.linear1, self.linear2 = Linear(dims, mlp_dims), Linear(mlp_dims, dims)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def _mlp(self, x):
        return self.linear2(self.dropout3(self.activation(self.linear1(x))))

    def __call__(self, x, memory, x_mask, memory_mask):
        if self.norm_first:
            y = self.ln1(x)
            x = x + self.dropout1(self.self_attention(y, y, y, x_mask))
            y = self.ln2(x)
            x = x + self.dropout2(self.cross_attention(y, memory, memory, memory_mask))
            return x + self._mlp(self.ln3(x))
        x = self.ln1(x + self.dropout1(self.self_attention(x, x, x, x_mask)))
        x = self.ln2(x + self.dropout2(self.cross_attention(x, memory, memory, memory_mask)))
        return self.ln3(x + self._mlp(x))


def _maybe_checkpoint(layer, enabled: bool):
    return _checkpoint(layer) if enabled else layer


class _LayerStack(Module):
    """``num_layers`` layers of one kind, then a LayerNorm; optionally checkpointed."""

    def __init__(self, make_layer: Callable, num_layers: int, dims: int, checkpoint: bool):
        super().__init__()
        self.layers = [make_layer() for _ in range(num_layers)]
        self.ln = LayerNorm(dims)
        self.checkpoint = checkpoint

    def __call__(self, x, *args):
        for layer in self.layers:
            x = _maybe_checkpoint(layer, self.checkpoint)(x, *args)
        return self.ln(x)


class TransformerEncoder(_LayerStack):
    def __init__(
        self,
        num_layers: int,
        dims: int,
        num_heads: int,
        mlp_dims: int | None = None,
        dropout: float = 0.0,
        activation=relu,
        norm_first: bool = True,
        checkpoint: bool = False,
    ):
        def make():
            return TransformerEncoderLayer(
                dims, num_heads, mlp_dims, dropout, activation, norm_first
            )

        super().__init__(make, num_layers, dims, checkpoint)

    def __call__(self, x, mask):
        return super().__call__(x, mask)


class TransformerDecoder(_LayerStack):
    def __init__(
        self,
        num_layers: int,
        dims: int,
        num_heads: int,
        mlp_dims: int | None = None,
        dropout: float = 0.0,
        activation=relu,
        norm_first: bool = True,
        checkpoint: bool = False,
    ):
        def make():
            return TransformerDecoderLayer(
                dims, num_heads, mlp_dims, dropout, activation, norm_first
            )

        super().__init__(make, num_layers, dims, checkpoint)

    def __call__(self, x, memory, x_mask, memory_mask):
        return super().__call__(x, memory, x_mask, memory_mask)


class Transformer(Module):
    """An encoder-decoder transformer (``custom_encoder`` / ``custom_decoder`` replace
    either half)."""

    def __init__(
        self,
        dims: int = 512,
        num_heads: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        mlp_dims: int | None = None,
        dropout: float = 0.0,
        activation: Callable = relu,
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        norm_first: bool = True,
        checkpoint: bool = False,
    ):
        super().__init__()
        self.encoder = custom_encoder or TransformerEncoder(
            num_encoder_layers, dims, num_heads, mlp_dims, dropout, activation, norm_first,
            checkpoint,
        )  # fmt: skip
        self.decoder = custom_decoder or TransformerDecoder(
            num_decoder_layers, dims, num_heads, mlp_dims, dropout, activation, norm_first,
            checkpoint,
        )  # fmt: skip

    def __call__(self, src, tgt, src_mask, tgt_mask, memory_mask):
        memory = self.encoder(src, src_mask)
        return self.decoder(tgt, memory, tgt_mask, memory_mask)
