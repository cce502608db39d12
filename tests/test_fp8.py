"""to_fp8 / from_fp8 (E4M3 codes in uint8) against a NumPy reference that finds the nearest
code by search, and PyTorch's float8_e4m3fn where installed."""

import importlib.util

import fastsync as mx
import numpy as np
import pytest

RNG = np.random.default_rng(8)


def reference_values():
    """The value of each code, from the format's definition, one code at a time."""
    out = []
    for c in range(256):
        sign = -1.0 if c & 0x80 else 1.0
        e, m = (c >> 3) & 0xF, c & 0x7
        if e == 0xF and m == 0x7:
            out.append(np.nan)
        elif e == 0:
            out.append(sign * m / 8 * 2.0**-6)
        else:
            out.append(sign * (1 + m / 8) * 2.0 ** (e - 7))
    return np.array(out)


VALUES = reference_values()


def reference_encode(x):
    """Nearest finite code by search over the 127 non-negative ones (ties to the even
    code), saturating at 448; NaN gives 0x7F with x's sign."""
    x = np.asarray(x, np.float64)
    mags = VALUES[:0x7F]  # codes 0..126, increasing
    a = np.minimum(np.abs(np.nan_to_num(x, nan=0.0, posinf=448.0, neginf=-448.0)), 448.0)
    hi = np.clip(np.searchsorted(mags, a), 0, 126)
    lo = np.clip(hi - 1, 0, 126)
    d_lo, d_hi = a - mags[lo], mags[hi] - a
    code = np.where(d_lo < d_hi, lo, hi)
    code = np.where(d_lo == d_hi, np.where(lo % 2 == 0, lo, hi), code)
    code = np.where(np.isnan(x), 0x7F, code)
    return (code | np.where(np.signbit(x), 0x80, 0)).astype(np.uint8)


def test_every_code_decodes_to_its_value_and_encodes_back():
    codes = mx.arange(256, dtype=mx.uint8)
    got = np.array(mx.from_fp8(codes, mx.float32))
    np.testing.assert_array_equal(got, VALUES.astype(np.float32))
    assert np.signbit(got[0x80]) and not np.signbit(got[0])  # -0 and +0 keep their sign
    np.testing.assert_array_equal(
        np.array(mx.to_fp8(mx.from_fp8(codes, mx.float32))), np.arange(256)
    )
    assert VALUES[0x7E] == 448 and VALUES[0x01] == 2.0**-9 and VALUES[0x38] == 1.0


@pytest.mark.parametrize("scale", [1e-3, 0.05, 1.0, 30.0, 400.0])
def test_rounding_matches_the_nearest_code(scale):
    x = (RNG.standard_normal(20000) * scale).astype(np.float32)
    np.testing.assert_array_equal(np.array(mx.to_fp8(mx.array(x))), reference_encode(x))


def test_ties_round_to_even_and_the_range_saturates():
    # Midpoints between neighbouring codes (exact in float32): each goes to the even code.
    mids = ((VALUES[1:0x7F] + VALUES[: 0x7F - 1]) / 2).astype(np.float32)
    got = np.array(mx.to_fp8(mx.array(mids)))
    np.testing.assert_array_equal(got, reference_encode(mids))
    assert np.all(got % 2 == 0)
    special = np.array(
        [np.inf, -np.inf, 449, 464, 465, 1e30, -1e30, np.nan, -np.nan, 2.0**-10, 0.0, -0.0],
        np.float32,
    )
    want = [0x7E, 0xFE, 0x7E, 0x7E, 0x7E, 0x7E, 0xFE, 0x7F, 0xFF, 0x00, 0x00, 0x80]
    np.testing.assert_array_equal(np.array(mx.to_fp8(mx.array(special))), want)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64", "int32", "uint8"])
def test_inputs_of_other_dtypes_and_strided_views(dtype):
    x = RNG.uniform(-300, 300, (40, 30)).astype(np.float32)
    a = (
        mx.array(x).astype(getattr(mx, dtype))
        if dtype != "uint8"
        else mx.array(np.abs(x).astype(np.uint8))
    )
    view = a[::3, 1::2].T
    want = reference_encode(np.array(view.astype(mx.float64)))
    np.testing.assert_array_equal(np.array(mx.to_fp8(view)), want)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_from_fp8_in_each_floating_dtype(dtype):
    codes = mx.array(RNG.integers(0, 256, (17, 9)).astype(np.uint8))
    got = mx.from_fp8(codes[:, ::2], getattr(mx, dtype))
    assert got.dtype == getattr(mx, dtype)
    want = VALUES[np.array(codes)[:, ::2]]
    np.testing.assert_array_equal(np.array(got.astype(mx.float64)), want)  # all exact in each
    assert mx.from_fp8(codes).dtype == mx.bfloat16  # MLX's default


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_agrees_with_torch_float8_e4m3fn():
    import torch

    x = np.concatenate([RNG.standard_normal(50000) * 10, RNG.uniform(-448, 448, 50000)]).astype(
        np.float32
    )
    want = torch.from_numpy(x).to(torch.float8_e4m3fn).view(torch.uint8).numpy()
    np.testing.assert_array_equal(np.array(mx.to_fp8(mx.array(x))), want)
    dec = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn).float().numpy()
    np.testing.assert_array_equal(
        np.array(mx.from_fp8(mx.arange(256, dtype=mx.uint8), mx.float32)), dec
    )


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\[from_fp8\] expects uint8"):
        mx.from_fp8(mx.ones((3,)))
    with pytest.raises(ValueError, match=r"\[from_fp8\] dtype must be a floating"):
        mx.from_fp8(mx.ones((3,), mx.uint8), mx.int32)
    with pytest.raises(TypeError, match=r"\[from_fp8\]"):
        mx.from_fp8([1, 2])
    with pytest.raises(ValueError, match=r"\[to_fp8\] expects a real"):
        mx.to_fp8(mx.ones((3,), mx.complex64))


def test_stream_argument_places_the_ops():
    s = mx.new_stream(mx.cpu)
    y = mx.to_fp8(mx.array([1.0, 2.0]), stream=s)
    assert y.tolist() == [0x38, 0x40]
    assert mx.from_fp8(y, mx.float32, stream=s).tolist() == [1.0, 2.0]
