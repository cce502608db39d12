"""8-bit floats (E4M3, the "fn" variant of the OCP FP8 format) stored as uint8: ``to_fp8``
and ``from_fp8``, as in MLX. fp8 checkpoints load as their raw bytes (``load`` gives
uint8); ``from_fp8`` turns them into a floating dtype.

E4M3: 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, one NaN
pattern per sign (0x7F, 0xFF), largest finite value 448, smallest subnormal 2**-9.
``to_fp8`` rounds to nearest (ties to even); finite values past 448 and infinities
saturate to +-448, as CUDA's saturating conversion does; NaN stays NaN.

Both are composed from fastsync's ops, so they run on every stream and device: decoding is
one gather from a 256-entry table; encoding is a few elementwise integer and floating ops
on the float32 bits (exact: every step is a power-of-two scaling or an integer operation).
"""

from __future__ import annotations

import numpy as np

from . import _core as mx
from ._dtypes import floating, integer, issubdtype
from ._quantize import _on_stream

__all__ = ["to_fp8", "from_fp8"]


def _decode_table() -> np.ndarray:
    """The float32 value of each of the 256 E4M3 codes."""
    codes = np.arange(256)
    sign = np.where(codes >> 7, -1.0, 1.0)
    exp = (codes >> 3) & 0xF
    mant = codes & 0x7
    magnitude = np.where(exp == 0, mant * 2.0**-9, (1 + mant / 8) * 2.0 ** (exp - 7))
    values = (sign * magnitude).astype(np.float32)
    values[0x7F] = np.nan
    values[0xFF] = np.copysign(np.nan, -1.0)
    return values


_TABLE = _decode_table()


@_on_stream
def from_fp8(x, dtype=mx.bfloat16):
    """The values of E4M3 codes ``x`` (uint8) in ``dtype`` (a floating dtype)."""
    if not isinstance(x, mx.array):
        raise TypeError(f"[from_fp8] expects an array of uint8 codes, got {type(x).__name__}")
    if x.dtype != mx.uint8:
        raise ValueError(f"[from_fp8] expects uint8 codes (E4M3 bytes), got {x.dtype}")
    if not isinstance(dtype, mx.Dtype) or not issubdtype(dtype, floating):
        raise ValueError(f"[from_fp8] dtype must be a floating dtype, got {dtype}")
    return mx.take(mx.array(_TABLE), x).astype(dtype)


@_on_stream
def to_fp8(x):
    """The E4M3 codes (uint8) nearest to ``x`` (a floating or integer array)."""
    if not isinstance(x, mx.array):
        x = mx.array(x)
    if not (issubdtype(x.dtype, floating) or issubdtype(x.dtype, integer)):
        raise ValueError(f"[to_fp8] expects a real floating or integer array, got {x.dtype}")
    f = x.astype(mx.float32)
    sign = mx.right_shift(f.view(mx.uint32), 31).astype(mx.int32)
    nan = mx.isnan(f)
    # Saturates: +-inf and finite overflow give 448. (NaN is coded apart, below.)
    magnitude = mx.where(nan, 0.0, mx.minimum(mx.abs(f), 448.0))
    # The binade's exponent, floored at the smallest normal one: below it the step stays 2**-9.
    biased = mx.right_shift(magnitude.view(mx.uint32), 23).astype(mx.int32)
    e = mx.maximum(biased - 127, -6)
    step = mx.left_shift(e + 124, 23).astype(mx.uint32).view(mx.float32)  # 2**(e - 3)
    q = mx.round(magnitude / step).astype(mx.int32)  # in [0, 16]; 16 carries into the next binade
    # Code (e + 7) * 8 + (q - 8) is right for normals, for a carry (q = 16) and for
    # subnormals (e = -6, q < 8: the code is q).
    code = e * 8 + 48 + q
    code = mx.where(nan, 0x7F, code)
    return mx.bitwise_or(code, mx.left_shift(sign, 7)).astype(mx.uint8)
