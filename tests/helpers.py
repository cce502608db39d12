"""Helpers shared by the op tests: dtype lists, NumPy inputs per dtype, comparison.

Imported as ``from helpers import ...``: pytest puts tests/ (which has no __init__.py) on
sys.path in its default "prepend" import mode.
"""

import fastsync as mx
import numpy as np
import pytest

# Tests that plant failures through mx._testing, which only a build with
# FASTSYNC_BUILD_TESTS=ON has (the README's test command builds it).
needs_test_hooks = pytest.mark.skipif(
    not hasattr(mx, "_testing"), reason="built without FASTSYNC_BUILD_TESTS: no mx._testing hooks"
)

FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
ALL = ["bool_", *INTS, *FLOATS]


def np_dtype(name):
    """The NumPy dtype holding values of fastsync dtype `name` (float32 for bfloat16)."""
    return np.float32 if name == "bfloat16" else np.dtype(name.rstrip("_"))


def bf16_round(x):
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32.

    A reference computed by NumPy, so tests of fastsync's bfloat16 conversion do not
    compare it with itself. Inputs here are finite.
    """
    u = np.array(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def to_mx(x, dtype):
    # The dtype goes to mx.array: without one, float64 data would become float32 (as MLX).
    return mx.array(x, getattr(mx, dtype))


def tol(dtype):
    return {"float16": 2e-3, "bfloat16": 1.6e-2}.get(dtype, 1e-6)


def check(got, want, dtype):
    """`got` (a fastsync array) has `want`'s shape and values, within `dtype`'s tolerance."""
    got = np.array(got)
    want = np.asarray(want)
    assert got.shape == want.shape
    if np.issubdtype(want.dtype, np.floating):
        np.testing.assert_allclose(got, want.astype(got.dtype), rtol=tol(dtype), atol=tol(dtype))
    else:
        np.testing.assert_array_equal(got, want)


def random_array(rng, shape, dtype):
    """A NumPy array of `shape` with values exactly representable in fastsync's `dtype`."""
    if dtype == "bool_":
        return rng.random(shape) > 0.5
    if dtype in INTS:
        lo = 0 if dtype.startswith("u") else -50
        return rng.integers(lo, 50, size=shape).astype(dtype)
    x = rng.standard_normal(shape).astype(np.float32)
    if dtype == "bfloat16":
        return bf16_round(x)
    return x.astype(np_dtype(dtype))
