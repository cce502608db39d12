"""Inputs a hostile user tries (issue 16's list): each gives the right answer or a clear
Python exception naming the op, never a wrap-around, a crash or garbage."""

import fastsync as mx
import numpy as np
import pytest


def test_reshape_to_a_shape_whose_size_wraps_is_refused():
    # (2^62 + 1) * 4 wraps to 4 in int64: it must not pass for the size of a (4,) array.
    with pytest.raises(OverflowError, match="reshape"):
        mx.zeros((4,)).reshape(2**62 + 1, 4)
    with pytest.raises(OverflowError, match="reshape"):
        mx.zeros((4,)).reshape(2**33, 2**33, 0)
    assert mx.zeros((4,)).reshape(2, 2).shape == (2, 2)


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_half_mean_and_var_past_float16_range(dtype):
    # A float16 sum of 70,000 ones overflows, and so does the count: both go through float32.
    x = mx.ones((70000,), dtype=dtype)
    m, v = mx.mean(x), mx.var(x)
    assert m.dtype == dtype and v.dtype == dtype
    assert m.item() == 1.0 and v.item() == 0.0
    rng = np.random.default_rng(0)
    xn = (rng.standard_normal((3, 40000)) + 5).astype(np.float32)
    xs = mx.array(xn).astype(dtype)
    xr = np.array(xs.astype(mx.float32)).astype(np.float64)
    for op, ref, tol in ((mx.mean, xr.mean(1), 1e-2), (mx.var, xr.var(1), 3e-2),
                         (mx.std, xr.std(1), 3e-2)):  # fmt: skip
        got = np.array(op(xs, axis=1).astype(mx.float32))
        np.testing.assert_allclose(got, ref, rtol=tol)


def test_uint64_index_past_int64_is_out_of_bounds_not_wrapped():
    x = mx.arange(5)
    big = mx.array(np.array([2**64 - 1], dtype=np.uint64))
    with pytest.raises(IndexError, match="out of bounds"):
        mx.eval(x[big])
    with pytest.raises(IndexError, match="out of bounds"):
        mx.eval(mx.take(x, big))
    ok = mx.array(np.array([4, 0], dtype=np.uint64))
    assert x[ok].tolist() == [4, 0] and mx.take(x, ok).tolist() == [4, 0]
    # The process stays usable.
    assert (x + 1).tolist() == [1, 2, 3, 4, 5]


def test_softmax_of_a_row_holding_inf_is_the_same_along_any_axis():
    x = mx.array([[1.0, float("inf"), 0.0], [2.0, 3.0, -float("inf")]])
    by_row = np.array(mx.softmax(x, axis=1))
    by_column = np.array(mx.softmax(x.T, axis=0).T)
    np.testing.assert_array_equal(np.isnan(by_row), np.isnan(by_column))
    keep = ~np.isnan(by_row)
    np.testing.assert_allclose(by_row[keep], by_column[keep], rtol=1e-6)
    # A finite row is a plain softmax either way.
    e = np.exp(np.array([2.0, 3.0]) - 3.0)
    np.testing.assert_allclose(by_row[1, :2], e / e.sum(), rtol=1e-6)


@pytest.mark.parametrize(
    "values",
    [
        np.array(["a"]),
        np.array([object()]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.zeros(2, dtype=[("a", "i4")]),
        np.array([b"x"]),
    ],  # fmt: skip
    ids=["str", "object", "datetime", "structured", "bytes"],
)
def test_numpy_arrays_without_a_dtype_here_raise_a_type_error_naming_it(values):
    with pytest.raises(TypeError, match=r"\[array\] NumPy arrays of dtype"):
        mx.array(values)


def test_big_endian_numpy_arrays_convert_by_value():
    for dt in (">f4", ">i8", ">u2"):
        xn = np.arange(6, dtype=dt).reshape(2, 3)
        assert mx.array(xn).tolist() == xn.tolist()


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (lambda: mx.synchronize("bad"), TypeError,
         "stream must be None, a Stream, a Device or a DeviceType, got str"),
        (lambda: mx.add(1, 2, stream=3), TypeError, "a DeviceType, got int"),
        (lambda: mx.sum(mx.ones((2,)), axis=2**40), ValueError, "axis 1099511627776 is out"),
        (lambda: mx.sum(mx.ones((2,)), axis="a"), TypeError, "axis must be an int or a seq"),
        (lambda: mx.sum(mx.ones((2,)), axis=[0, None]), TypeError, "got NoneType"),
        (lambda: mx.zeros(("a", 2)), TypeError, "shape dimensions must be integers, got str"),
        (lambda: mx.zeros(2.5), TypeError, "shape must be an int or a sequence of ints"),
        (lambda: mx.zeros((2,), dtype="float32"), TypeError,
         "dtype must be a fastsync dtype such as float32 \\(or None\\), not str 'float32'"),
        (lambda: mx.full((2,), 1, dtype=3), TypeError, "dtype must be .*, not int"),
        (lambda: mx.ones((2,), dtype=np.float32), TypeError, "not type"),
    ],
)
def test_an_argument_of_the_wrong_type_or_range_is_named(call, exc, message):
    """Arguments converted by hand (axes, shapes, streams) say what was expected and what
    came, not the generic "an argument has a type this function cannot convert"."""
    with pytest.raises(exc, match=message):
        call()


def test_numpy_integers_still_serve_as_axes_and_dimensions():
    a = mx.ones((2, 3))
    assert mx.sum(a, axis=np.int64(1)).tolist() == [3.0, 3.0]
    assert mx.sum(a, axis=(np.int32(0), 1)).item() == 6.0
    assert mx.zeros((np.int64(2), 3)).shape == (2, 3)


@pytest.mark.parametrize("shape", [(2**31 - 1,) * 3, (2**16,) * 4, (2**31 - 1, 2**31 - 1, 4)])
def test_shapes_whose_byte_size_overflows_are_refused_when_made(shape):
    with pytest.raises(OverflowError, match="more bytes than fit in 64 bits"):
        mx.zeros(shape)
    assert mx.zeros((*shape, 0)).size == 0  # empty all the same


def test_an_allocation_past_the_machine_is_a_memory_error_naming_the_size():
    with pytest.raises(MemoryError, match=r"\[malloc\] could not allocate \d+ bytes"):
        mx.eval(mx.zeros((2**31 - 1, 2**31 - 1), dtype=mx.uint8))
    assert (mx.arange(3) + 1).tolist() == [1, 2, 3]


def test_integer_arange_past_2_53_is_refused_not_rounded():
    with pytest.raises(ValueError, match="2\\*\\*53"):
        mx.arange(-(2**63), 0, 2**62 + 1)
    assert mx.arange(2**40, 2**40 + 3).tolist() == [2**40, 2**40 + 1, 2**40 + 2]
