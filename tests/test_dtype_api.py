"""Dtype utilities (finfo, iinfo, categories, issubdtype, isdtype, result_type, can_cast) and
the constants, checked against NumPy and against the dtypes that ops actually return."""

import math

import fastsync as mx
import numpy as np
import pytest
from helpers import FLOATS, INTS

HAS_C64 = hasattr(mx, "complex64")
CATEGORIES = ["complexfloating", "floating", "inexact", "signedinteger", "unsignedinteger",
              "integer", "number", "generic"]
DTYPES = ["bool_", *INTS, "float16", "float32", "float64"] + (["complex64"] if HAS_C64 else [])


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_numpy(name):
    f, n = mx.finfo(getattr(mx, name)), np.finfo(getattr(np, name))
    assert f.dtype == getattr(mx, name)
    for attr in ("min", "max", "eps", "bits", "tiny", "smallest_normal", "smallest_subnormal"):
        got, want = getattr(f, attr), getattr(n, attr)
        assert got == want and type(got) is type(int(want) if attr == "bits" else 0.0), attr


def test_finfo_bfloat16():
    f = mx.finfo(mx.bfloat16)
    assert f.bits == 16 and f.dtype == mx.bfloat16
    assert f.eps == 2.0**-7
    assert f.smallest_normal == f.tiny == 2.0**-126
    assert f.smallest_subnormal == 2.0**-133
    assert f.max == -f.min == float.fromhex("0x1.fep127")
    # Each limit is a bfloat16 value, and the next one up overflows.
    x = mx.array([f.max, f.eps, f.tiny], mx.float32).astype(mx.bfloat16)
    assert np.array(x.astype(mx.float32)).tolist() == [f.max, f.eps, f.tiny]
    assert math.isinf(np.array(mx.array(f.max, mx.bfloat16) * 2).item())
    assert repr(f) == "finfo(min=-3.38953e+38, max=3.38953e+38, dtype=bfloat16)"


@pytest.mark.skipif(not HAS_C64, reason="no complex64 in this build")
def test_finfo_complex_reports_real_part():
    f = mx.finfo(mx.complex64)
    assert f.dtype == mx.float32 and f.bits == 32 and f.eps == np.finfo(np.float32).eps


@pytest.mark.parametrize("name", ["bool_", *INTS])
def test_finfo_rejects_non_floats(name):
    with pytest.raises(ValueError, match="finfo"):
        mx.finfo(getattr(mx, name))


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_numpy(name):
    i, n = mx.iinfo(getattr(mx, name)), np.iinfo(getattr(np, name))
    assert (i.min, i.max, i.bits, i.dtype) == (n.min, n.max, n.bits, getattr(mx, name))
    assert repr(i) == f"iinfo(min={n.min}, max={n.max}, dtype={name})"


@pytest.mark.parametrize("name", ["bool_", *FLOATS])
def test_iinfo_rejects_non_ints(name):
    with pytest.raises(ValueError, match="iinfo"):
        mx.iinfo(getattr(mx, name))


@pytest.mark.parametrize("bad", ["float32", np.float32, 3, None, mx.floating])
def test_info_rejects_non_dtypes(bad):
    for fn in (mx.finfo, mx.iinfo):
        with pytest.raises(TypeError):
            fn(bad)


def test_categories():
    assert isinstance(mx.floating, mx.DtypeCategory)
    assert {c.name for c in mx.DtypeCategory} == set(CATEGORIES)
    for c in CATEGORIES:
        assert getattr(mx, c) is getattr(mx.DtypeCategory, c)


def test_issubdtype_agrees_with_numpy():
    names = CATEGORIES + DTYPES
    for a in names:
        for b in names:
            got = mx.issubdtype(getattr(mx, a), getattr(mx, b))
            assert got == np.issubdtype(getattr(np, a), getattr(np, b)), (a, b)


def test_issubdtype_examples_and_bfloat16():
    assert mx.issubdtype(mx.float32, mx.floating)
    assert mx.issubdtype(mx.floating, mx.inexact)
    assert not mx.issubdtype(mx.int8, mx.floating)
    assert mx.issubdtype(mx.float32, mx.float32)
    assert mx.issubdtype(mx.bfloat16, mx.floating) and mx.issubdtype(mx.bfloat16, mx.number)
    assert not mx.issubdtype(mx.bfloat16, mx.float16)
    assert not mx.issubdtype(mx.bool_, mx.number) and mx.issubdtype(mx.bool_, mx.generic)
    with pytest.raises(TypeError):
        mx.issubdtype(mx.float32, "floating")


def test_isdtype():
    kinds = {
        "bool": ["bool_"],
        "signed integer": ["int8", "int16", "int32", "int64"],
        "unsigned integer": ["uint8", "uint16", "uint32", "uint64"],
        "real floating": FLOATS,
        "complex floating": ["complex64"] if HAS_C64 else [],
    }
    kinds["integral"] = kinds["signed integer"] + kinds["unsigned integer"]
    kinds["numeric"] = kinds["integral"] + kinds["real floating"] + kinds["complex floating"]
    for name in DTYPES + ["bfloat16"]:
        dt = getattr(mx, name)
        for kind, members in kinds.items():
            assert mx.isdtype(dt, kind) == (name in members), (name, kind)
        assert mx.isdtype(dt, dt) and mx.isdtype(dt, ("bool", dt))
    assert not mx.isdtype(mx.int32, mx.int16)
    assert mx.isdtype(mx.float16, ("integral", "real floating"))
    assert not mx.isdtype(mx.int32, ("bool", "real floating"))
    with pytest.raises(ValueError):
        mx.isdtype(mx.int32, "not a kind")
    with pytest.raises(TypeError):
        mx.isdtype(mx.int32, 3)
    with pytest.raises(TypeError):
        mx.isdtype("int32", "integral")


def _dtype_of_add(a, b):
    return (mx.zeros((2,), a) + mx.zeros((2,), b)).dtype


def test_result_type_matches_ops():
    names = ["bool_", *INTS, *FLOATS]
    for a in names:
        for b in names:
            da, db = getattr(mx, a), getattr(mx, b)
            want = _dtype_of_add(da, db)
            assert mx.result_type(da, db) == want, (a, b)
            assert mx.result_type(mx.zeros((3,), da), db) == want
            assert mx.can_cast(da, db) == (want == db), (a, b)


def test_result_type_examples():
    assert mx.result_type(mx.int8, mx.int16) == mx.int16
    assert mx.result_type(mx.float32, mx.float64) == mx.float64
    assert mx.result_type(mx.array([1], mx.int8), mx.int16, mx.int32) == mx.int32
    assert mx.result_type(mx.array(1.0), mx.array(1, mx.int8)) == mx.float32
    assert mx.result_type(np.zeros(2, np.int16), mx.int8) == mx.int16
    with pytest.raises(ValueError):
        mx.result_type()
    with pytest.raises(TypeError):
        mx.result_type(mx.int8, "int8")


def test_result_type_weak_scalars():
    i8, f16 = mx.array([1], mx.int8), mx.array([1], mx.float16)
    assert mx.result_type(i8, 1) == mx.int8
    assert mx.result_type(i8, 1.0) == mx.float32
    assert mx.result_type(f16, 1.0) == mx.float16
    assert mx.result_type(mx.bool_, True) == mx.bool_
    assert mx.result_type(1) == mx.int32 and mx.result_type(1.0) == mx.float32
    assert mx.result_type(True) == mx.bool_
    with pytest.raises(ValueError, match="out of range"):  # as the op itself would
        mx.result_type(mx.uint8, 300)
    if HAS_C64:
        assert mx.result_type(mx.float32, 1j) == mx.complex64


def test_can_cast():
    assert mx.can_cast(mx.int8, mx.int16) and not mx.can_cast(mx.int16, mx.int8)
    assert mx.can_cast(mx.float32, mx.float64) and not mx.can_cast(mx.float64, mx.float32)
    assert mx.can_cast(mx.uint8, mx.int16) and not mx.can_cast(mx.uint16, mx.int16)
    assert mx.can_cast(mx.array([1, 2], mx.int8), mx.int32)
    assert not mx.can_cast(mx.bfloat16, mx.float16) and not mx.can_cast(mx.float16, mx.bfloat16)
    with pytest.raises(TypeError):
        mx.can_cast(mx.int8, "int16")


def test_result_type_does_not_evaluate():
    # Promotion is read off lazy graphs: no memory is touched.
    mx.synchronize()
    before = mx.get_active_memory()
    for _ in range(100):
        mx.result_type(mx.int8, mx.float16, 2.0)
    assert mx.get_active_memory() == before


def test_constants():
    assert mx.pi == math.pi and mx.e == math.e and mx.euler_gamma == 0.5772156649015329
    assert mx.inf == math.inf and math.isnan(mx.nan) and mx.newaxis is None
    for c in (mx.pi, mx.e, mx.inf, mx.nan, mx.euler_gamma):
        assert type(c) is float


def test_names_exported():
    for name in ("finfo", "iinfo", "issubdtype", "isdtype", "result_type", "can_cast",
                 "DtypeCategory", "floating", "pi", "newaxis", "load", "save", "savez",
                 "savez_compressed", "save_safetensors", "save_gguf"):
        assert name in mx.__all__, name


def _bfloat16_nearest_even(d):
    """float64 -> bfloat16 in one rounding (to nearest, ties to even), as a float."""
    if d == 0 or not math.isfinite(d):
        return d
    e = max(math.frexp(abs(d))[1], -125)  # below 2^-126 the grid stays 2^-133 apart
    q = abs(d) * 2.0 ** (8 - e)  # eight significant bits
    r = math.floor(q)
    if q - r > 0.5 or (q - r == 0.5 and r % 2 == 1):
        r += 1
    return math.copysign(r * 2.0 ** (e - 8), d)


def test_float64_to_bfloat16_rounds_once():
    # Through float32 first, values just past a bfloat16 tie rounded twice and landed on
    # the tie's even side (1 + 2^-8 + 2^-30 became 1.0).
    rng = np.random.default_rng(11)
    xs = [1 + 2**-8 + 2**-30, -(1 + 2**-8 + 2**-30), 1e-40, 3e38]
    for b in rng.standard_normal(300) * 10.0 ** rng.integers(-30, 30, 300):
        step = 2.0 ** (math.frexp(b)[1] - 8)
        mid = math.floor(b / step) * step + step / 2
        xs += [mid, mid + step * 2**-20, mid - step * 2**-20, b]
    got = mx.array(np.array(xs), dtype=mx.float64).astype(mx.bfloat16).astype(mx.float32)
    want = [_bfloat16_nearest_even(x) for x in xs]
    assert np.array(got).astype(np.float64).tolist() == want
