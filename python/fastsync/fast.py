"""``fastsync.fast``: normalization, rotary embedding and attention (MLX's ``mx.fast``).

Each is a single fused kernel on the CPU and on CUDA (src/primitives/fast.h): statistics,
angles and scores in float32 (float64 for float64 inputs), one rounding to the output;
attention makes one pass per query row with a running softmax, so the scores never reach
memory. Gradients are composed from ops, so they differentiate again.
"""

from ._core import _fast as _core_fast

__all__ = ["rms_norm", "layer_norm", "rope", "scaled_dot_product_attention"]

rms_norm = _core_fast.rms_norm
layer_norm = _core_fast.layer_norm
rope = _core_fast.rope
scaled_dot_product_attention = _core_fast.scaled_dot_product_attention
