"""The float functions and elementwise compositions beside the primitives (trigonometric and
hyperbolic inverses, log10, erfinv, isnan/isinf/..., nan_to_num, logaddexp, isclose, allclose,
array_equal) against NumPy: dtypes, broadcasting, strided views, special values, bad input."""

import math

import fastsync as mx
import numpy as np
import pytest
from helpers import FLOATS, INTS, check, random_array, to_mx

# op -> (NumPy reference, input domain transform)
NEW_UNARY = {
    "tan": (np.tan, lambda a: a),
    "arcsin": (np.arcsin, lambda a: np.clip(a, -0.9, 0.9)),
    "arccos": (np.arccos, lambda a: np.clip(a, -0.9, 0.9)),
    "arctan": (np.arctan, lambda a: a),
    "sinh": (np.sinh, lambda a: a),
    "cosh": (np.cosh, lambda a: a),
    "arcsinh": (np.arcsinh, lambda a: a),
    "arccosh": (np.arccosh, lambda a: np.abs(a) + 1.5),
    "arctanh": (np.arctanh, lambda a: np.clip(a, -0.9, 0.9)),
    "log10": (np.log10, lambda a: np.abs(a) + 0.5),
    "degrees": (np.degrees, lambda a: a),
    "radians": (np.radians, lambda a: a),
    "reciprocal": (np.reciprocal, lambda a: np.abs(a) + 0.5),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", sorted(NEW_UNARY))
def test_new_unary_against_numpy(op, dtype):
    ref, domain = NEW_UNARY[op]
    rng = np.random.default_rng(1)
    a = random_array(rng, (7, 4), dtype)
    a = domain(a.astype(np.float32)).astype(a.dtype)
    x = to_mx(a, dtype)
    got = getattr(mx, op)(x)
    assert got.dtype == getattr(mx, dtype)
    check(got, ref(a.astype(np.float64)).astype(np.array(got).dtype), dtype)
    # A strided view gives the same values as its NumPy counterpart.
    check(getattr(mx, op)(x.T[::2]), ref(a.T[::2].astype(np.float64)).astype(np.array(got).dtype),
          dtype)


@pytest.mark.parametrize("op", ["tan", "arcsin", "log10", "erfinv", "sinh"])
def test_new_unary_of_integers_compute_in_float32(op):
    got = getattr(mx, op)(mx.array([0, 1, 0]))
    assert got.dtype == mx.float32


def test_erfinv_inverts_erf_to_type_precision():
    y = np.linspace(-0.999, 0.999, 2001)
    got64 = np.array(mx.erfinv(mx.array(y, mx.float64)))
    np.testing.assert_allclose(np.vectorize(math.erf)(got64), y, rtol=0, atol=1e-14)
    got32 = np.array(mx.erfinv(mx.array(y.astype(np.float32))))
    np.testing.assert_allclose(np.vectorize(math.erf)(got32.astype(np.float64)), y,
                               rtol=0, atol=3e-6)
    edges = mx.erfinv(mx.array([1.0, -1.0, 1.5, 0.0])).tolist()
    assert edges[0] == math.inf and edges[1] == -math.inf and math.isnan(edges[2])
    assert edges[3] == 0.0


SPECIAL = np.array([0.0, -1.5, np.nan, np.inf, -np.inf, 3.0], np.float32)


@pytest.mark.parametrize("op", ["isnan", "isinf", "isposinf", "isneginf", "isfinite"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "bool_"])
def test_classification(op, dtype):
    a = SPECIAL if dtype.startswith("float") else np.array([0, 1, 5, 0, 2, 9])
    npa = a.astype(dtype.rstrip("_"))
    got = getattr(mx, op)(mx.array(npa))
    assert got.dtype == mx.bool_
    np.testing.assert_array_equal(np.array(got), getattr(np, op)(npa))


def test_nan_to_num_defaults_and_arguments():
    x = mx.array(SPECIAL)
    np.testing.assert_array_equal(np.array(mx.nan_to_num(x)), np.nan_to_num(SPECIAL))
    got = mx.nan_to_num(x, nan=7.0, posinf=100.0, neginf=-100.0)
    np.testing.assert_array_equal(np.array(got),
                                  np.nan_to_num(SPECIAL, nan=7.0, posinf=100.0, neginf=-100.0))
    h = mx.nan_to_num(mx.array(SPECIAL.astype(np.float16)))
    assert h.dtype == mx.float16 and np.array(h)[3] == np.finfo(np.float16).max
    ints = mx.array([1, 2])
    assert mx.nan_to_num(ints).tolist() == [1, 2]


def test_logaddexp_matches_numpy_with_infinities_and_broadcasting():
    rng = np.random.default_rng(2)
    a = (rng.standard_normal((3, 1, 4)) * 50).astype(np.float32)
    b = (rng.standard_normal((5, 1)) * 50).astype(np.float32)
    check(mx.logaddexp(mx.array(a), mx.array(b)), np.logaddexp(a, b), "float32")
    s = np.array([-np.inf, np.inf, -np.inf, 1000.0, np.nan], np.float32)
    t = np.array([-np.inf, np.inf, 2.0, 1000.0, 1.0], np.float32)
    np.testing.assert_array_equal(np.array(mx.logaddexp(mx.array(s), mx.array(t))),
                                  np.logaddexp(s, t))
    assert mx.logaddexp(mx.array([1, 2]), 3).dtype == mx.float32


def test_logical_xor():
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    assert mx.logical_xor(mx.array(a), mx.array(b)).tolist() == np.logical_xor(a, b).tolist()
    assert mx.logical_xor(mx.array([0, 2]), mx.array([1, 3])).tolist() == [True, False]


@pytest.mark.parametrize("equal_nan", [False, True])
def test_isclose_and_allclose_follow_numpy(equal_nan):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 6)).astype(np.float32)
    b = a + rng.standard_normal((4, 6)).astype(np.float32) * 1e-5
    b[0, 0] = np.nan
    a[0, 0] = np.nan
    a[1, 1], b[1, 1] = np.inf, np.inf
    a[2, 2], b[2, 2] = np.inf, -np.inf
    for rtol, atol in [(1e-5, 1e-8), (1e-3, 0.0), (0.0, 1e-4)]:
        got = mx.isclose(mx.array(a), mx.array(b), rtol=rtol, atol=atol, equal_nan=equal_nan)
        want = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
        np.testing.assert_array_equal(np.array(got), want)
        all_got = mx.allclose(mx.array(a), mx.array(b), rtol=rtol, atol=atol, equal_nan=equal_nan)
        assert all_got.shape == () and all_got.item() == bool(want.all())
    # Broadcasting, integers, and the 0-d result.
    assert mx.allclose(mx.array([[1, 2, 3]]), mx.array([1.0, 2.0, 3.0 + 1e-9])).item()
    assert not mx.allclose(mx.array([1.0, 2.0]), 2.0).item()


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool_", "bfloat16"])
def test_array_equal(dtype):
    rng = np.random.default_rng(4)
    a = random_array(rng, (3, 4), dtype)
    x = to_mx(a, dtype)
    assert mx.array_equal(x, x).item()
    assert mx.array_equal(x, to_mx(a, dtype).T.T).item()
    assert not mx.array_equal(x, x[:2]).item()  # shapes differ: False, not an error
    assert not mx.array_equal(x, mx.reshape(x, (4, 3))).item()
    if dtype != "bool_":
        y = np.array(a, copy=True)
        y[1, 2] = y[1, 2] + 1
        assert not mx.array_equal(x, to_mx(y, dtype)).item()
    # Values compare across dtypes.
    assert mx.array_equal(mx.array([1, 2]), mx.array([1.0, 2.0])).item()


def test_array_equal_with_nan():
    x = mx.array([1.0, float("nan")])
    assert not mx.array_equal(x, x).item()
    assert mx.array_equal(x, x, equal_nan=True).item()


@pytest.mark.parametrize("dtype", INTS[:2])
def test_bad_input_gives_clear_errors(dtype):
    with pytest.raises(ValueError, match="isclose|broadcast"):
        mx.isclose(mx.zeros((2, 3)), mx.zeros((4,))).tolist()
    with pytest.raises(ValueError, match="cannot convert"):
        mx.tan("not an array")
    # The process is usable afterwards.
    assert mx.tan(mx.array(0.0)).item() == 0.0


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "uint64"])
@pytest.mark.parametrize("decimals", [-1, -2, -3])
def test_round_integers_to_negative_decimals_half_to_even(dtype, decimals):
    vals = np.array([0, 5, 15, 25, 35, 45, 50, 122, 127], dtype=dtype)
    got = mx.round(mx.array(vals), decimals=decimals)
    assert got.dtype == getattr(mx, dtype)
    assert np.array(got).tolist() == np.round(vals, decimals).tolist()
    signed = np.array([-15, -25, -7, -126], dtype=np.int16)
    assert mx.round(mx.array(signed), -1).tolist() == np.round(signed, -1).tolist()


def test_vecdot_contracted_axes_must_match():
    assert mx.vecdot(mx.array([1, 2]), mx.array([3, 4])).item() == 11
    for a, b, kw in [
        (mx.array(1), mx.array([1]), {}),
        (mx.array([1, 2]), mx.array([1, 2]), {"axis": 1}),
        (mx.array([1, 2]), mx.array([1]), {}),
    ]:
        with pytest.raises(ValueError, match="vecdot"):
            mx.vecdot(a, b, **kw)
