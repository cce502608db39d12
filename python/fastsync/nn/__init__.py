"""``fastsync.nn``: modules, layers, losses and initializers with ``mlx.nn``'s API.

``import fastsync.nn as nn`` stands for ``import mlx.nn as nn``: a model is a
:class:`Module` (a dict of its parameters and sub-modules), trained with
:func:`value_and_grad` and an optimizer from ``fastsync.optimizers``.
"""

from . import init, losses
from .layers import *  # noqa: F403
from .layers import __all__ as _layers_all
from .layers.quantized import quantize_model as quantize
from .utils import average_gradients, checkpoint, value_and_grad

__all__ = [
    *_layers_all,
    "init",
    "losses",
    "value_and_grad",
    "checkpoint",
    "average_gradients",
    "quantize",
]
