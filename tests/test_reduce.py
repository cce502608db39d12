"""Reductions, scans and softmax against NumPy over random shapes, axes and dtypes."""

import fastsync as mx
import numpy as np
import pytest
from helpers import check, random_array, to_mx
from hypothesis import given, settings
from hypothesis import strategies as st


@st.composite
def array_and_axes(draw, dtypes=("float32", "float64", "int32", "uint8", "bool_", "float16")):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from(dtypes))
    nd = len(shape)
    axes = draw(st.one_of(st.none(), st.lists(st.integers(-nd, nd - 1), unique_by=lambda v: v % nd,
                                              min_size=1, max_size=nd)))
    keepdims = draw(st.booleans())
    transpose = draw(st.booleans())
    return shape, dtype, axes, keepdims, transpose


def prepare(shape, dtype, transpose, seed=20):
    rng = np.random.default_rng(seed)
    a = random_array(rng, shape, dtype)
    x = to_mx(a, dtype)
    if transpose:
        return x.T, a.T
    return x, a


def ax(axes):
    return None if axes is None else tuple(axes)


@settings(max_examples=60, deadline=None)
@given(array_and_axes())
def test_max_min_prod_all_any(args):
    shape, dtype, axes, keepdims, transpose = args
    x, a = prepare(shape, dtype, transpose)
    for op in ["max", "min", "all", "any"]:
        got = getattr(mx, op)(x, axis=axes, keepdims=keepdims)
        want = getattr(np, op)(a, axis=ax(axes), keepdims=keepdims)
        check(got, want, dtype if dtype != "float16" else "float16")
    if dtype not in ("float16",):
        small = a.astype(np.float64) % 3 if dtype != "bool_" else a
        xs = mx.array(small) if dtype != "bool_" else x
        got = mx.prod(xs, axis=axes, keepdims=keepdims)
        want = np.prod(small, axis=ax(axes), keepdims=keepdims)
        if xs.dtype == mx.float32:
            # float32 products round once per factor: the error grows with the count.
            count = max(1, small.size // max(1, np.asarray(want).size))
            np.testing.assert_allclose(np.array(got), want, rtol=max(1e-6, 1.2e-7 * count))
        else:
            check(got, want, "float64")


@settings(max_examples=60, deadline=None)
@given(array_and_axes(("float32", "float64", "int32", "float16")))
def test_mean_var_std(args):
    shape, dtype, axes, keepdims, transpose = args
    x, a = prepare(shape, dtype, transpose)
    a64 = a.astype(np.float64)
    tol_dtype = "float16" if dtype == "float16" else "float32"
    check(mx.mean(x, axis=axes, keepdims=keepdims), np.mean(a64, axis=ax(axes), keepdims=keepdims),
          tol_dtype)
    check(mx.var(x, axis=axes, keepdims=keepdims), np.var(a64, axis=ax(axes), keepdims=keepdims),
          tol_dtype)
    check(mx.std(x, axis=axes, keepdims=keepdims, ddof=0),
          np.std(a64, axis=ax(axes), keepdims=keepdims), tol_dtype)
    assert mx.mean(x).dtype == (x.dtype if dtype != "int32" else mx.float32)


def test_var_ddof():
    a = np.arange(10, dtype=np.float32)
    check(mx.var(mx.array(a), ddof=1), np.var(a, ddof=1), "float32")
    check(mx.std(mx.array(a).reshape(2, 5), axis=1, ddof=1), np.std(a.reshape(2, 5), axis=1,
                                                                      ddof=1), "float32")


@settings(max_examples=40, deadline=None)
@given(array_and_axes(("float32", "float64")))
def test_logsumexp_and_softmax(args):
    shape, dtype, axes, keepdims, transpose = args
    x, a = prepare(shape, dtype, transpose)
    a64 = a.astype(np.float64) * 10
    x = x * 10
    m = np.max(a64, axis=ax(axes), keepdims=True)
    lse = np.log(np.sum(np.exp(a64 - m), axis=ax(axes), keepdims=True)) + m
    if not keepdims:
        lse = np.squeeze(lse, axis=ax(axes) if axes is not None else None)
    check(mx.logsumexp(x, axis=axes, keepdims=keepdims), lse, "float32")
    e = np.exp(a64 - m)
    check(mx.softmax(x, axis=axes), e / e.sum(axis=ax(axes), keepdims=True), "float32")


def test_logsumexp_of_infinities():
    x = mx.array([[-np.inf, -np.inf], [1.0, -np.inf]])
    assert mx.logsumexp(x, axis=1).tolist() == [-np.inf, 1.0]


def test_softmax_default_axis_and_ints():
    a = np.arange(12).reshape(3, 4)
    got = mx.softmax(mx.array(a), axis=-1)
    assert got.dtype == mx.float32
    e = np.exp(a - a.max(-1, keepdims=True))
    check(got, e / e.sum(-1, keepdims=True), "float32")


@settings(max_examples=50, deadline=None)
@given(array_and_axes(("float32", "int32", "uint8", "bool_", "float64")))
def test_argmax_argmin(args):
    shape, dtype, axes, keepdims, transpose = args
    x, a = prepare(shape, dtype, transpose)
    axis = None if axes is None else axes[0]
    for op in ["argmax", "argmin"]:
        got = getattr(mx, op)(x, axis=axis, keepdims=keepdims)
        assert got.dtype == mx.uint32
        want = getattr(np, op)(a, axis=axis, keepdims=keepdims)
        check(got, want.astype(np.uint32), "uint32")


def test_argmax_nan_and_empty():
    assert mx.argmax(mx.array([1.0, np.nan, 3.0])).item() == 1
    assert mx.argmin(mx.array([1.0, 0.0, np.nan])).item() == 2
    with pytest.raises(ValueError, match="empty"):
        mx.argmax(mx.zeros((0,)))


@settings(max_examples=50, deadline=None)
@given(array_and_axes(("float32", "int32", "uint8", "float64", "bool_")), st.booleans(),
       st.booleans())
def test_scans(args, reverse, inclusive):
    shape, dtype, axes, _, transpose = args
    x, a = prepare(shape, dtype, transpose)
    axis = None if axes is None else axes[0]
    flat = a.reshape(-1) if axis is None else a
    np_axis = 0 if axis is None else axis

    def ref(fn, arr):
        arr = np.flip(arr, np_axis) if reverse else arr
        out = fn(arr, axis=np_axis)
        if not inclusive:
            out = out - arr if fn is np.cumsum else out
        return np.flip(out, np_axis) if reverse else out

    got = mx.cumsum(x, axis=axis, reverse=reverse, inclusive=inclusive)
    want = ref(np.cumsum, flat.astype(np.int64) if dtype in ("int32", "uint8", "bool_") else flat)
    if dtype == "float32":
        # Running sums cancel: the error bound scales with the partial sums' magnitude and
        # the length, not the result (the GPU adds in another order than NumPy).
        scale = np.abs(flat).max(initial=0) * max(flat.shape[np_axis] if flat.ndim else 1, 1)
        np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6 * max(scale, 1))
    else:
        check(got, want.astype(np.array(got).dtype), "float64")
    if inclusive:
        check(mx.cummax(x, axis=axis, reverse=reverse), ref(np.maximum.accumulate, flat), dtype)
        check(mx.cummin(x, axis=axis, reverse=reverse), ref(np.minimum.accumulate, flat), dtype)


def test_cumprod():
    a = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    check(mx.cumprod(mx.array(a), axis=1), np.cumprod(a, axis=1), "int64")


def test_reduction_errors():
    x = mx.ones((2, 3))
    with pytest.raises(ValueError, match=r"\[max\] axis 5"):
        mx.max(x, axis=5)
    with pytest.raises(ValueError, match=r"\[argmax\] axis"):
        mx.argmax(x, axis=-3)
    with pytest.raises(ValueError, match=r"\[cumsum\] axis"):
        mx.cumsum(x, axis=2)
    with pytest.raises(ValueError, match="zero-size"):
        mx.max(mx.zeros((0, 3)))


@pytest.mark.parametrize("width", [8, 16, 40, 1024])
def test_softmax_rows_wide_enough_for_vector_lanes(width):
    # float32 rows as wide as one or many vector registers, with a NaN in the vector part,
    # one in the tail, a +inf, a -inf and a plain row: the row max takes NaNs apart.
    rng = np.random.default_rng(width)
    a = rng.standard_normal((6, width)).astype(np.float32) * 4
    a[1, 3] = np.nan
    a[2, -1] = np.nan
    a[3, width // 2] = np.inf
    a[4, 0] = -np.inf
    got = np.array(mx.softmax(mx.array(a), axis=-1))
    assert np.isnan(got[1]).all() and np.isnan(got[2]).all()
    # +inf max: the CPU and GPU kernels' documented pattern (NaN there, 0 elsewhere).
    assert np.isnan(got[3, width // 2])
    assert (np.delete(got[3], width // 2) == 0).all()
    r = a[[0, 4, 5]].astype(np.float64)
    e = np.exp(r - r.max(-1, keepdims=True))
    np.testing.assert_allclose(got[[0, 4, 5]], e / e.sum(-1, keepdims=True), rtol=2e-6, atol=1e-7)
    assert got[4, 0] == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_fused_softmax_last_axis(dtype):
    rng = np.random.default_rng(40)
    a = random_array(rng, (33, 17), dtype) * 5
    for x, ref in [(to_mx(a, dtype), a), (to_mx(a, dtype).T, a.T)]:
        got = mx.softmax(x, axis=-1)
        assert got.dtype == x.dtype
        r = ref.astype(np.float64)
        e = np.exp(r - r.max(-1, keepdims=True))
        check(got, (e / e.sum(-1, keepdims=True)).astype(np.array(got).dtype), dtype)
    neg = mx.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    out = np.array(mx.softmax(neg, axis=-1))
    assert np.isnan(out[0]).all() or (out[0] == 0).all()
    assert out[1].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("width", [1, 16, 33, 1000])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_argmax_argmin_of_dense_rows_take_the_first_extreme_and_the_first_nan(width, dtype):
    # Rows along the last axis (the vectorized, multi-threaded path for float32): ties go to
    # the first index, a NaN anywhere (vector part or tail) wins at its first position, as in
    # NumPy; other axes take the strided path and must agree.
    rng = np.random.default_rng(width)
    a = rng.integers(-5, 5, (300, width)).astype(dtype)  # many ties
    if dtype != "int32" and width > 1:
        a[1, width // 2] = np.nan
        a[2, -1] = np.nan
        a[3, :2] = np.nan
        a[4, 0], a[4, -1] = -0.0, 0.0
        a[5, width // 3] = np.inf
        a[6, width // 4] = -np.inf
    x = mx.array(a)
    for fn, ref in ((mx.argmax, np.argmax), (mx.argmin, np.argmin)):
        np.testing.assert_array_equal(np.array(fn(x, axis=-1)), ref(a, axis=-1))
        np.testing.assert_array_equal(np.array(fn(x, axis=0)), ref(a, axis=0))
        np.testing.assert_array_equal(np.array(fn(x.T, axis=0)), ref(a.T, axis=0))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
@pytest.mark.parametrize("cols", [1, 7, 300])
def test_column_reductions_of_many_short_rows(dtype, cols):
    # Enough rows that the CPU splits them into blocks, each with its own partial row,
    # combined in order afterwards: sum, max, min and prod over the leading axes, against
    # NumPy (NaNs propagate through max and min).
    rng = np.random.default_rng(cols)
    rows = 600_000 // cols // 4 * 4  # past 2 x 2^17 elements: several blocks of rows
    a = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    if dtype.startswith("float"):
        a[rows // 3, 0] = np.nan
    x = mx.array(a)
    a = np.array(x)  # as stored (float64 input may be kept as float32)
    scale = np.nanmax(np.abs(a.astype(np.float64)).sum(0))  # float sums: error relative to sum |a|
    np.testing.assert_allclose(np.array(mx.sum(x, axis=0)), a.sum(0), rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_array_equal(np.array(mx.max(x, axis=0)), a.max(0))
    np.testing.assert_array_equal(np.array(mx.min(x, axis=0)), a.min(0))
    b = a.reshape(4, rows // 4, cols)
    np.testing.assert_array_equal(np.array(mx.max(mx.array(b), axis=(0, 1))), b.max((0, 1)))
    if dtype != "bool":
        small = (rng.integers(1, 3, (rows, cols)) if dtype == "int32" else
                 1 + rng.standard_normal((rows, cols)) * 1e-4).astype(dtype)
        np.testing.assert_allclose(np.array(mx.prod(mx.array(small[:40]), axis=0)),
                                   small[:40].prod(0), rtol=1e-5)
