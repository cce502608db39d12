"""The layers of ``fastsync.nn``; each family in its own module, as in ``mlx.nn.layers``."""

from . import distributed  # noqa: F401
from .activations import *  # noqa: F403
from .base import Module
from .containers import Sequential
from .convolution import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from .dropout import Dropout, Dropout2d, Dropout3d
from .embedding import Embedding
from .linear import Bilinear, Identity, Linear
from .normalization import BatchNorm, GroupNorm, InstanceNorm, LayerNorm, RMSNorm
from .pooling import AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d
from .positional_encoding import ALiBi, RoPE, SinusoidalPositionalEncoding
from .quantized import QuantizedEmbedding, QuantizedLinear
from .transformer import (
    MultiHeadAttention,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from .upsample import Upsample

__all__ = [  # noqa: F405
    *activations.__all__,  # noqa: F405
    "Module", "Sequential", "Dropout", "Dropout2d", "Dropout3d", "Embedding", "Bilinear",
    "Identity", "Linear", "BatchNorm", "GroupNorm", "InstanceNorm", "LayerNorm", "RMSNorm",
    "ALiBi", "RoPE", "SinusoidalPositionalEncoding", "MultiHeadAttention", "Transformer",
    "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer", "QuantizedLinear", "QuantizedEmbedding", "Conv1d", "Conv2d",
    "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "MaxPool1d",
    "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "Upsample",
]  # fmt: skip
