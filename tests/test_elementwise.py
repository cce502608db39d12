"""The full elementwise op set against NumPy: every op, dtypes, broadcasting, strided views."""

import fastsync as mx
import numpy as np
import pytest
from helpers import FLOATS, INTS, check, random_array, to_mx
from hypothesis import given, settings
from hypothesis import strategies as st

FLOAT_UNARY = ["exp", "expm1", "log", "log1p", "log2", "sqrt", "sin", "cos", "tanh", "floor",
               "ceil", "round", "sign", "abs", "negative", "square"]


def np_unary(op, a):
    if op == "sigmoid":
        return 1 / (1 + np.exp(-a.astype(np.float64)))
    if op == "rsqrt":
        return 1 / np.sqrt(a.astype(np.float64))
    if op == "erf":
        import math
        return np.vectorize(math.erf)(a.astype(np.float64))
    return getattr(np, op)(a)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", FLOAT_UNARY + ["sigmoid", "rsqrt", "erf"])
def test_unary_float_ops(op, dtype):
    rng = np.random.default_rng(10)
    a = random_array(rng, (6, 5), dtype)
    if op in ("log", "log2", "sqrt", "rsqrt"):
        a = np.abs(a) + np.asarray(0.5, a.dtype)
    if op == "log1p":
        a = np.abs(a)
    x = to_mx(a, dtype)
    got = getattr(mx, op)(x)
    assert got.dtype == getattr(mx, dtype)
    want = np_unary(op, a.astype(np.float64) if dtype == "bfloat16" else a)
    check(got, np.asarray(want).astype(np.array(got).dtype), dtype)
    # The same on a strided view.
    check(getattr(mx, op)(x.T[::2]), np.asarray(np_unary(op, a.T[::2])).astype(
        np.array(got).dtype), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_abs_clears_the_sign_of_zero_as_numpy(dtype):
    x = to_mx(np.array([-0.0, 0.0, -2.5, np.nan, -np.inf], np.float32), dtype)
    got = np.array(mx.abs(x).astype(mx.float32))
    assert not np.signbit(got[[0, 1, 2, 4]]).any()  # (NaN's sign is unspecified)
    np.testing.assert_array_equal(got, [0.0, 0.0, 2.5, np.nan, np.inf])


@pytest.mark.parametrize("dtype", INTS)
def test_unary_integer_ops(dtype):
    rng = np.random.default_rng(11)
    a = random_array(rng, (4, 7), dtype)
    x = to_mx(a, dtype)
    for op in ["abs", "negative", "square", "sign", "floor", "ceil", "round"]:
        got = getattr(mx, op)(x)
        assert got.dtype == x.dtype, op
        check(got, getattr(np, op)(a), dtype)
    check(mx.bitwise_invert(x), np.invert(a), dtype)
    check(~x, np.invert(a), dtype)
    for op in ["exp", "sqrt", "sin", "sigmoid"]:
        assert getattr(mx, op)(x).dtype == mx.float32


def test_round_decimals_and_half_to_even():
    a = np.array([0.5, 1.5, 2.5, -0.5, 1.2345, -2.675], np.float64)
    check(mx.round(mx.array(a)), np.round(a), "float64")
    check(mx.round(mx.array(a), 2), np.round(a, 2), "float64")


def test_logical_ops():
    a = np.array([True, False, True, False])
    b = np.array([True, True, False, False])
    x, y = mx.array(a), mx.array(b)
    check(mx.logical_not(x), np.logical_not(a), "bool_")
    check(mx.logical_and(x, y), np.logical_and(a, b), "bool_")
    check(mx.logical_or(x, y), np.logical_or(a, b), "bool_")
    check(~x, ~a, "bool_")
    check(mx.logical_not(mx.array([0.0, 2.0])), np.array([True, False]), "bool_")
    check(mx.logical_and(mx.array([1, 0]), 1), np.array([True, False]), "bool_")


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint32", "bool_"])
def test_bitwise_ops(dtype):
    rng = np.random.default_rng(12)
    a = random_array(rng, (3, 4), dtype)
    b = random_array(rng, (4,), dtype)
    x, y = to_mx(a, dtype), to_mx(b, dtype)
    check(x & y, a & b, dtype)
    check(x | y, a | b, dtype)
    check(x ^ y, a ^ b, dtype)
    if dtype != "bool_":
        sh = np.abs(b.astype(np.int64)) % 8
        s = to_mx(sh.astype(a.dtype), dtype)
        check(x << s, a << sh.astype(a.dtype), dtype)
        check(x >> s, a >> sh.astype(a.dtype), dtype)


def test_shift_past_width_is_defined():
    x = mx.array([1, -8], dtype=mx.int32)
    assert (x << 40).tolist() == [0, 0]
    assert (x >> 40).tolist() == [0, -1]


def test_bitwise_on_floats_raises():
    with pytest.raises(ValueError, match=r"\[bitwise_and\] only integer and bool"):
        mx.bitwise_and(mx.array([1.0]), mx.array([2.0]))
    with pytest.raises(ValueError, match="left_shift"):
        mx.array([1.0]) << 1


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "uint8",
                                   "bool_"])
@pytest.mark.parametrize("op", ["equal", "not_equal", "less", "less_equal", "greater",
                                "greater_equal"])
def test_comparisons(op, dtype):
    rng = np.random.default_rng(13)
    a = random_array(rng, (5, 6), dtype)
    b = random_array(rng, (6,), dtype)
    b[::2] = a[0, ::2]  # some ties
    got = getattr(mx, op)(to_mx(a, dtype), to_mx(b, dtype))
    assert got.dtype == mx.bool_
    check(got, getattr(np, op)(a, b), "bool_")


def test_comparison_operators_and_nan():
    a = np.array([1.0, np.nan, 3.0], np.float32)
    x = mx.array(a)
    check(x == 1.0, a == 1.0, "bool_")
    check(x != x, a != a, "bool_")
    check(x < 2, a < 2, "bool_")
    check(2 <= x, 2 <= a, "bool_")
    check(x > 1, a > 1, "bool_")
    check(x >= 3, a >= 3, "bool_")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "int8"])
def test_power(dtype):
    rng = np.random.default_rng(14)
    a = random_array(rng, (4, 5), dtype)
    if dtype in INTS:
        a = a % 7
        b = (np.abs(random_array(rng, (5,), dtype)) % 4).astype(a.dtype)
    else:
        a = np.abs(a) + np.asarray(0.1, a.dtype)
        b = random_array(rng, (5,), dtype)
    check(mx.power(to_mx(a, dtype), to_mx(b, dtype)), np.power(a, b), dtype)
    check(to_mx(a, dtype) ** 2, a**2, dtype)
    assert (2 ** mx.array([1, 2, 3])).tolist() == [2, 4, 8]


def test_integer_negative_power_is_zero_as_in_mlx():
    x = mx.array([2, 1, -1, -1], dtype=mx.int32)
    assert mx.power(x, mx.array([-1, -3, -3, -2], dtype=mx.int32)).tolist() == [0, 0, 0, 0]
    assert mx.power(x, 2).tolist() == [4, 1, 1, 1]


@pytest.mark.parametrize("dtype", FLOATS)
def test_arctan2(dtype):
    rng = np.random.default_rng(15)
    a = random_array(rng, (3, 4), dtype)
    b = random_array(rng, (3, 1), dtype)
    check(mx.arctan2(to_mx(a, dtype), to_mx(b, dtype)),
          np.arctan2(a.astype(np.float64), b.astype(np.float64)).astype(np.array(
              to_mx(a, dtype)).dtype), dtype)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple),
       st.sampled_from(["float32", "int32", "float16", "uint8", "bool_"]), st.booleans())
def test_where_property(shape, dtype, transpose):
    rng = np.random.default_rng(16)
    c = rng.random(shape) > 0.5
    a = random_array(rng, shape, dtype)
    b = random_array(rng, shape[-1:] if shape else (), dtype)
    x = to_mx(a, dtype)
    cc = mx.array(c)
    if transpose and len(shape) >= 2:
        x, a = x.T, a.T
        cc, c = cc.T, c.T
        b = random_array(rng, (1,), dtype)
    check(mx.where(cc, x, to_mx(b, dtype)), np.where(c, a, b), dtype)


# Past 2 x 131072 elements the CPU splits elementwise work across its kernel threads by the
# outermost dimension of the walk (src/backend/cpu/parallel.h): every layout must still match.
LARGE_LAYOUTS = {
    "dense": lambda rng, dt: (random_array(rng, (3, 300, 400), dt),) * 2,
    "row_broadcast": lambda rng, dt: (random_array(rng, (700, 400), dt),
                                      random_array(rng, (400,), dt)),
    "column_broadcast": lambda rng, dt: (random_array(rng, (700, 400), dt),
                                         random_array(rng, (700, 1), dt)),
    "transposed": lambda rng, dt: (random_array(rng, (400, 700), dt).T,
                                   random_array(rng, (700, 400), dt)),
    "sliced": lambda rng, dt: (random_array(rng, (5, 300, 401), dt)[::2, :, 1:],
                               random_array(rng, (300, 1), dt)),
}


@pytest.mark.parametrize("layout", sorted(LARGE_LAYOUTS))
@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
def test_large_binary_and_where_match_numpy(layout, dtype):
    rng = np.random.default_rng(17)
    a, b = LARGE_LAYOUTS[layout](rng, dtype)
    x, y = to_mx(a, dtype), to_mx(b, dtype)
    if layout == "transposed":
        x = to_mx(np.ascontiguousarray(a.T), dtype).T  # a transposed view, read in place
    elif layout == "sliced":
        x = to_mx(np.array(a.base if a.base is not None else a), dtype)[::2, :, 1:]
    check(x + y, a + b, dtype)
    check(mx.maximum(x, y), np.maximum(a, b), dtype)
    cond = rng.random(np.broadcast_shapes(a.shape, b.shape)) > 0.5
    check(mx.where(mx.array(cond), x, y), np.where(cond, a, b), dtype)
    row = rng.random(cond.shape[-1:]) > 0.5  # a condition broadcast over rows
    check(mx.where(mx.array(row), x, y), np.where(row, a, b), dtype)
    col = rng.random(cond.shape[:-1] + (1,)) > 0.5  # one per row: whole runs copied
    check(mx.where(mx.array(col), x, 0), np.where(col, a, 0).astype(a.dtype), dtype)


def test_where_promotes_and_takes_scalars():
    c = mx.array([True, False, True])
    got = mx.where(c, mx.array([1, 2, 3], dtype=mx.int8), 2.5)
    assert got.dtype == mx.float32
    assert got.tolist() == [1.0, 2.5, 3.0]
    assert mx.where(mx.array([1, 0]), 1, 2).tolist() == [1, 2]
    with pytest.raises(ValueError, match=r"\[where\]"):
        mx.where(mx.array([True, False]), mx.ones((3,)), 0)


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8", "float16"])
def test_clip(dtype):
    rng = np.random.default_rng(17)
    a = random_array(rng, (5, 5), dtype)
    x = to_mx(a, dtype)
    lo, hi = (0, 20) if dtype in INTS else (-0.5, 0.5)
    check(mx.clip(x, lo, hi), np.clip(a, lo, hi), dtype)
    check(mx.clip(x, None, hi), np.clip(a, None, hi), dtype)
    check(mx.clip(x, lo, None), np.clip(a, lo, None), dtype)
    with pytest.raises(ValueError, match="clip"):
        mx.clip(x, None, None)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_propagate_nan_from_either_side(op):
    a = np.array([1.0, np.nan, 3.0, np.nan], np.float32)
    b = np.array([np.nan, 2.0, 1.0, np.nan], np.float32)
    got = np.array(getattr(mx, op)(mx.array(a), mx.array(b)))
    np.testing.assert_array_equal(got, getattr(np, op)(a, b))
    got = np.array(getattr(mx, op)(mx.array(b), mx.array(a)))
    np.testing.assert_array_equal(got, getattr(np, op)(b, a))


def test_float32_exp_within_one_ulp_subnormals_included():
    """float32 exp (a vectorized polynomial on the CPU) against NumPy's float64 value, over
    a dense sweep from where it underflows to 0 to where it overflows: within one ulp of the
    exact value, subnormal results included (they must not flush to 0), through the unary
    kernel and a compiled chain, on the CPU."""
    rng = np.random.default_rng(5)
    x = np.concatenate([
        np.linspace(-105.0, 90.0, 400_001, dtype=np.float32),
        rng.uniform(-1.0, 1.0, 100_000).astype(np.float32),
        rng.uniform(-104.0, -87.0, 100_000).astype(np.float32),  # subnormal results
        np.array([88.72283, 88.72284, -103.972, -103.973, 0.0, -0.0, 1e-30, np.inf, -np.inf,
                  np.nan], np.float32),
    ])  # fmt: skip
    with np.errstate(over="ignore", under="ignore"):
        exact = np.exp(x.astype(np.float64))
    want = exact.astype(np.float32)
    finite = np.isfinite(want) & (want > 0)
    ulp = np.spacing(want[finite]).astype(np.float64)
    with mx.stream(mx.cpu):  # the CPU's own exp (CUDA's expf is documented to 2 ulp)
        got_all = [mx.exp(mx.array(x)), mx.compile(lambda v: mx.exp(v) * 1.0)(mx.array(x))]
        mx.eval(got_all)
    for got in got_all:
        g = np.array(got)
        assert (np.abs(g[finite] - exact[finite]) <= ulp).all()
        # Where the rounded value is 0 or inf, so is exp; NaN stays NaN.
        np.testing.assert_array_equal(g[~finite], want[~finite])
    assert mx.exp(mx.array(np.float32(-100.0)), stream=mx.cpu).item() > 0  # subnormal, not 0


def test_float32_sigmoid_at_the_ends_of_exp():
    """float32 sigmoid (a vectorized exp on the CPU) against NumPy's float64 value rounded,
    through the unary kernel and a compiled chain, where exp overflows, flushes or is
    subnormal, and at NaN and the infinities."""
    x = np.array([-1e4, -104.0, -90.0, -88.8, -87.4, -20.0, -1e-3, 0.0, 0.5, 20.0, 87.4, 88.8,
                  90.0, 104.0, 1e4, np.nan, np.inf, -np.inf], np.float32)  # fmt: skip
    with np.errstate(over="ignore"):
        want = (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    for got in (mx.sigmoid(mx.array(x)), mx.compile(lambda v: mx.sigmoid(v) * 1.0)(mx.array(x))):
        np.testing.assert_allclose(np.array(got), want, rtol=4e-7, atol=1e-30, equal_nan=True)


@pytest.mark.parametrize("ndim", [7, 8, 9, 11])
def test_binary_broadcast_past_the_inline_plan_rank(ndim):
    # Plans keep up to eight dimensions inline; past that rank (broadcast
    # axes keep the dimensions from merging) they go to the heap.
    rng = np.random.default_rng(ndim)
    shape = tuple(int(d) for d in rng.integers(2, 4, size=ndim))
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(tuple(1 if i % 2 else d for i, d in enumerate(shape[1:])))
    b = b.astype(np.float32)
    check(mx.add(mx.array(a), mx.array(b)), a + b, "float32")
    x = mx.swapaxes(mx.array(a), 0, -1)  # strided
    check(mx.multiply(x, x[..., :1]), np.swapaxes(a, 0, -1) * np.swapaxes(a, 0, -1)[..., :1],
          "float32")
