"""``fastsync.fast``: normalization, rotary embedding and attention (MLX's ``mx.fast``).

``rms_norm``, ``layer_norm`` and ``rope`` are single fused kernels on the CPU and on CUDA
(src/primitives/fast.h): statistics and angles in float32 (float64 for float64 inputs), one
rounding to the output. ``scaled_dot_product_attention`` has a fused kernel on both too (a
running softmax per query row: the scores never reach memory; on CUDA the keys are split
across blocks when there are few query rows), used for up to 8 query rows (a decoding
step), when the scores would take more than 1 GiB, or when FASTSYNC_ATTENTION=fused. On a
GPU stream, longer float16/bfloat16 queries of head dimension 64 or 128, causal or without
a mask array and without sinks, take flash attention (tiles of scores on tensor cores,
forward and backward; FASTSYNC_ATTENTION=flash asks for it and says why when it does not
apply). Otherwise the call builds the composed graph (BLAS products and a float32
softmax), which is faster than the fused kernel for long queries (bench/attention.py).
Gradients differentiate again on every path.
"""

from ._core import _fast as _core_fast

__all__ = ["rms_norm", "layer_norm", "rope", "scaled_dot_product_attention"]

rms_norm = _core_fast.rms_norm
layer_norm = _core_fast.layer_norm
rope = _core_fast.rope
scaled_dot_product_attention = _core_fast.scaled_dot_product_attention
