"""The first op set against NumPy: dtypes, broadcasting, non-contiguous inputs."""

import fastsync as mx
import numpy as np
import pytest
from helpers import ALL, FLOATS, INTS, bf16_round, check, np_dtype, random_array, to_mx
from hypothesis import given, settings
from hypothesis import strategies as st

shapes = st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple)


@st.composite
def broadcast_pair(draw):
    shape = draw(shapes)
    other = list(shape)
    for i in range(len(other)):
        if draw(st.booleans()):
            other[i] = 1
    cut = draw(st.integers(0, len(other)))
    return shape, tuple(other[cut:])


@pytest.mark.parametrize("dtype", [d for d in ALL if d != "bool_"])
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "maximum", "minimum"])
def test_binary_dtypes(op, dtype):
    rng = np.random.default_rng(0)
    a = random_array(rng, (3, 4), dtype)
    b = random_array(rng, (4,), dtype)
    got = getattr(mx, op)(to_mx(a, dtype), to_mx(b, dtype))
    assert got.dtype == getattr(mx, dtype)
    want = getattr(np, op)(a, b)
    check(got, want, dtype)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint32", "float32"])
def test_floor_divide_remainder_divmod(dtype):
    rng = np.random.default_rng(1)
    a = random_array(rng, (5, 6), dtype)
    b = random_array(rng, (6,), dtype)
    b[b == 0] = 3
    x, y = to_mx(a, dtype), to_mx(b, dtype)
    check(mx.floor_divide(x, y), np.floor_divide(a, b), dtype)
    check(mx.remainder(x, y), np.remainder(a, b), dtype)
    q, r = mx.divmod(x, y)
    mx.eval(q, r)
    check(q, np.floor_divide(a, b), dtype)
    check(r, np.remainder(a, b), dtype)
    q2, r2 = divmod(x, y)
    check(q2, np.floor_divide(a, b), dtype)
    check(r2, np.remainder(a, b), dtype)


def test_integer_division_by_zero_is_defined():
    a = mx.array([5, -5, 0], dtype=mx.int32)
    z = mx.zeros((3,), dtype=mx.int32)
    assert (a // z).tolist() == [0, 0, 0]
    assert (a % z).tolist() == [0, 0, 0]
    big = mx.array([-(2**31)], dtype=mx.int32)
    assert (big // -1).tolist() == [-(2**31)]


@pytest.mark.parametrize("dtype", FLOATS)
def test_divide_floats(dtype):
    rng = np.random.default_rng(2)
    a = random_array(rng, (4, 3), dtype)
    b = random_array(rng, (4, 1), dtype) + 5
    check(mx.divide(to_mx(a, dtype), to_mx(b, dtype)), a / b, dtype)


def test_divide_ints_gives_float32():
    c = mx.array([1, 2, 3]) / mx.array([2, 2, 2])
    assert c.dtype == mx.float32
    assert c.tolist() == [0.5, 1.0, 1.5]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", ["exp", "log", "negative", "abs", "sqrt", "square"])
def test_unary_floats(op, dtype):
    rng = np.random.default_rng(3)
    a = random_array(rng, (7, 5), dtype)
    if op in ("log", "sqrt"):
        a = np.abs(a) + np.asarray(0.5, a.dtype)
    got = getattr(mx, op)(to_mx(a, dtype))
    assert got.dtype == getattr(mx, dtype)
    check(got, getattr(np, op)(a), dtype)


@pytest.mark.parametrize("dtype", INTS)
def test_unary_ints(dtype):
    rng = np.random.default_rng(4)
    a = random_array(rng, (9,), dtype)
    x = to_mx(a, dtype)
    check(mx.negative(x), np.negative(a), dtype)
    check(mx.abs(x), np.abs(a), dtype)
    e = mx.exp(x.astype(mx.int8) if dtype == "int8" else x)
    assert e.dtype == mx.float32


def test_negative_bool_raises():
    with pytest.raises(TypeError, match="negative"):
        mx.negative(mx.array([True, False]))
    with pytest.raises(TypeError, match="subtract"):
        mx.array([True]) - mx.array([False])


@settings(max_examples=60, deadline=None)
@given(broadcast_pair(), st.sampled_from(["float32", "int32", "float16", "uint8"]),
       st.sampled_from(["add", "subtract", "multiply", "maximum"]), st.booleans())
def test_binary_broadcasting_property(shapes_, dtype, op, swap):
    sa, sb = shapes_
    if swap:
        sa, sb = sb, sa
    rng = np.random.default_rng(5)
    a = random_array(rng, sa, dtype)
    b = random_array(rng, sb, dtype)
    check(getattr(mx, op)(to_mx(a, dtype), to_mx(b, dtype)), getattr(np, op)(a, b), dtype)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=4).map(tuple), st.data())
def test_non_contiguous_inputs(shape, data):
    rng = np.random.default_rng(6)
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[::-1]).astype(np.float32)
    x = mx.array(a)
    y = mx.array(b).T  # transposed view
    check(x + y, a + b.T, "float32")
    check(mx.exp(y), np.exp(b.T), "float32")
    step = data.draw(st.integers(1, 3))
    check(x[::step] * 2, a[::step] * 2, "float32")
    check(mx.sum(y, axis=0), b.T.sum(axis=0), "float32")
    check(mx.reshape(y, (-1,)), b.T.reshape(-1), "float32")
    check(y.astype(mx.float64), b.T.astype(np.float64), "float64")
    check(x[..., ::-1] - 1, a[..., ::-1] - 1, "float32")


@settings(max_examples=60, deadline=None)
@given(shapes, st.sampled_from(["float32", "int32", "bool_", "uint8", "float16", "float64"]),
       st.data(), st.booleans())
def test_sum_property(shape, dtype, data, keepdims):
    rng = np.random.default_rng(7)
    a = random_array(rng, shape, dtype)
    nd = len(shape)
    axes = data.draw(st.one_of(st.none(), st.lists(st.integers(-nd, nd - 1), unique_by=lambda
                                                   v: v % nd, max_size=nd) if nd else st.none()))
    got = mx.sum(to_mx(a, dtype), axis=axes, keepdims=keepdims)
    want = np.sum(a, axis=None if axes is None else tuple(axes), keepdims=keepdims)
    if dtype == "float16":
        want = np.sum(a.astype(np.float32), axis=None if axes is None else tuple(axes),
                      keepdims=keepdims).astype(np.float16)
    # MLX's sum types: narrow integers and bools sum in int32 / uint32.
    want = want.astype({"int32": np.int32, "bool_": np.int32, "uint8": np.uint32}.get(dtype,
                                                                                   want.dtype))
    check(got, want, "float32" if dtype != "float16" else dtype)
    assert np.array(got).dtype == want.dtype


def test_sum_errors():
    x = mx.ones((2, 3))
    with pytest.raises(ValueError, match=r"\[sum\] axis 2 is out of bounds"):
        mx.sum(x, axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        mx.sum(x, axis=[0, -2])


def test_broadcast_errors():
    with pytest.raises(ValueError, match=r"\[add\] shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        mx.ones((2, 3)) + mx.ones((4,))
    with pytest.raises(ValueError, match="divmod"):
        mx.divmod(mx.ones((2,)), mx.ones((3,)))


@pytest.mark.parametrize("src", ALL)
@pytest.mark.parametrize("dst", ["bool_", "int8", "int32", "uint16", "int64", "float16",
                                 "bfloat16", "float32", "float64"])
def test_astype(src, dst):
    rng = np.random.default_rng(8)
    a = random_array(rng, (3, 5), src)
    if src in FLOATS and dst.startswith("u"):
        a = np.abs(a)  # a negative float to an unsigned int is undefined (NumPy's varies too)
    got = to_mx(a, src).astype(getattr(mx, dst))
    assert got.dtype == getattr(mx, dst)
    if dst == "bfloat16":
        # NumPy's rounding, not fastsync's own conversion: every source here is exact in
        # float32, so rounding float32 to bfloat16 is the correctly rounded result.
        want = bf16_round(a.astype(np.float32))
    else:
        want = a.astype(np_dtype(dst))
    # Exactly NumPy's result (a float cast rounds once, to nearest), not one within a
    # tolerance: a bfloat16 tolerance would let a truncating conversion pass.
    out = np.array(got)
    assert out.shape == want.shape
    np.testing.assert_array_equal(out, want)


def test_views_of_rows_and_columns():
    a = np.arange(40, dtype=np.float32).reshape(10, 4)
    x = mx.array(a)
    # Row slices are row-contiguous views into a larger buffer.
    for idx in [slice(1, 3), slice(8, None), slice(None, None, 3), 0, -1]:
        check(mx.exp(x[idx] / 40), np.exp(a[idx] / 40), "float32")
        check(-x[idx], -a[idx], "float32")
        check(x[idx].reshape(-1), a[idx].reshape(-1), "float32")
        check(mx.sum(x[idx]), a[idx].sum(), "float32")
    check(mx.sqrt(x.T[1:3]), np.sqrt(a.T[1:3]), "float32")
    # The last row of a large buffer: a flat loop sized by the parent would
    # run megabytes past the end.
    base = mx.get_active_memory()
    big = mx.arange(1 << 22).astype(mx.float32).reshape(1 << 20, 4)
    tail = -big[-1:]
    assert tail.tolist() == [[-(2.0**22 - 4 + k) for k in range(4)]]
    mx.eval(tail)
    assert mx.get_active_memory() - base < 2 * big.nbytes
    check(x[:, 1:3].astype(mx.int32), a[:, 1:3].astype(np.int32), "int32")


def test_reshape():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = mx.array(a)
    check(mx.reshape(x, (4, 6)), a.reshape(4, 6), "float32")
    check(x.reshape(-1, 2), a.reshape(-1, 2), "float32")
    check(x.reshape(6, 4), a.reshape(6, 4), "float32")
    check(mx.transpose(x, (2, 0, 1)).reshape(4, 6), a.transpose(2, 0, 1).reshape(4, 6), "float32")
    with pytest.raises(ValueError, match=r"\[reshape\] cannot reshape array of size 24"):
        x.reshape(5, 5)
    with pytest.raises(ValueError, match="only infer one"):
        x.reshape(-1, -1)


def test_creation():
    check(mx.zeros((2, 3)), np.zeros((2, 3), np.float32), "float32")
    check(mx.ones((4,), dtype=mx.int32), np.ones(4, np.int32), "int32")
    check(mx.full((2, 2), 7), np.full((2, 2), 7, np.int32), "int32")
    check(mx.full((2, 3), mx.array([1.0, 2.0, 3.0])), np.tile([1.0, 2.0, 3.0], (2, 1)).astype(
        np.float32), "float32")
    check(mx.full((3,), 2.5, dtype=mx.float16), np.full(3, 2.5, np.float16), "float16")
    check(mx.arange(5), np.arange(5, dtype=np.int32), "int32")
    check(mx.arange(1, 10, 3), np.arange(1, 10, 3, dtype=np.int32), "int32")
    check(mx.arange(0.0, 1.0, 0.25), np.arange(0, 1, 0.25, dtype=np.float32), "float32")
    check(mx.arange(5, 0, -2), np.arange(5, 0, -2, dtype=np.int32), "int32")
    assert mx.arange(3, dtype=mx.float64).dtype == mx.float64
    check(mx.zeros_like(mx.ones((2,), dtype=mx.uint8)), np.zeros(2, np.uint8), "uint8")
    with pytest.raises(ValueError, match="step"):
        mx.arange(0, 5, 0)
    with pytest.raises(ValueError, match="negative dimension"):
        mx.zeros((2, -1))


def test_array_construction_and_conversion():
    assert mx.array(3).dtype == mx.int32
    assert mx.array(3.0).dtype == mx.float32
    assert mx.array(True).dtype == mx.bool_
    assert mx.array([1, 2]).dtype == mx.int32
    assert mx.array([1.5, 2]).dtype == mx.float32
    assert mx.array([[True, False]]).shape == (1, 2)
    assert mx.array(np.arange(3, dtype=np.int64)).dtype == mx.int64
    assert mx.array(np.ones(2, np.float64)).dtype == mx.float32  # as MLX: float64 data -> float32
    assert mx.array(np.ones(2, np.float64), mx.float64).dtype == mx.float64
    assert mx.array([1, 2], dtype=mx.float16).dtype == mx.float16
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = mx.array(a[:, ::2])  # NumPy views are copied in
    check(x, a[:, ::2], "float32")
    assert x.ndim == 2 and x.size == 6 and x.itemsize == 4 and x.nbytes == 24
    assert len(x) == 3
    assert mx.array(7).item() == 7
    assert isinstance(mx.array(7).item(), int)
    assert isinstance(mx.array(True).item(), bool)
    assert mx.array([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert mx.array(2.5).tolist() == 2.5
    with pytest.raises(ValueError, match="one element"):
        mx.array([1, 2]).item()
    with pytest.raises(ValueError, match="cannot convert"):
        mx.array(object())
    with pytest.raises(ValueError):
        mx.array(["a", "b"])


def test_numpy_out_is_zero_copy():
    x = mx.arange(6).astype(mx.float32) + 1
    a = np.asarray(x)
    b = np.asarray(x)
    if mx.default_device() == mx.cpu:  # GPU arrays are copied to the host when read
        assert a.ctypes.data == b.ctypes.data
    assert a.tolist() == [1, 2, 3, 4, 5, 6]
    h = np.array(mx.array([1.0]).astype(mx.bfloat16))
    assert h.dtype == np.float32


def test_python_operators_and_weak_scalars():
    x = mx.array([1, 2, 3], dtype=mx.int8)
    assert (x + 1).dtype == mx.int8
    assert (1 + x).dtype == mx.int8
    assert (x * 2.5).dtype == mx.float32
    h = mx.array([1.0], dtype=mx.float16)
    assert (h + 1.0).dtype == mx.float16
    assert (2 - x).tolist() == [1, 0, -1]
    assert (x - 2).tolist() == [-1, 0, 1]
    assert (7 // x).tolist() == [7, 3, 2]
    assert (7 % x).tolist() == [0, 1, 1]
    assert (-x).tolist() == [-1, -2, -3]
    assert abs(mx.array([-2.0])).tolist() == [2.0]
    assert (1 / mx.array([4.0])).tolist() == [0.25]
    y = x + 0
    y += 1
    assert y.tolist() == [2, 3, 4] and x.tolist() == [1, 2, 3]
    b = mx.array([True, False])
    assert (b + 1).dtype == mx.int32
    assert float(mx.array(2.0)) == 2.0 and int(mx.array(3)) == 3 and bool(mx.array(1))
    # Array with array follows MLX's promotion: a float beats any integer without widening.
    assert (mx.array([1], dtype=mx.uint8) + mx.array([1], dtype=mx.int8)).dtype == mx.int16
    assert (mx.array([1], dtype=mx.int32) + mx.array([1.0])).dtype == mx.float32
    assert (mx.array([1], dtype=mx.int64) + mx.array([1.0], mx.float16)).dtype == mx.float16
    assert (mx.array([1], dtype=mx.uint64) + mx.array([1], mx.int8)).dtype == mx.float32


def test_indexing_views():
    a = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    x = mx.array(a)
    for idx in [(1,), (slice(1, None), slice(None, None, 2)), (Ellipsis, 2), (None, 0, Ellipsis),
                (-1, slice(None, None, -1), None), (slice(5, 1, -2),), (0, 1, 2)]:
        check(x[idx], a[idx], "float32")
    with pytest.raises(IndexError, match="out of bounds"):
        x[3]
    with pytest.raises(ValueError, match="too many indices"):
        x[0, 0, 0, 0]


def test_gpu_device_raises_clearly():
    if mx.is_available(mx.gpu):
        pytest.skip("a GPU is available")
    with pytest.raises(ValueError, match="no GPU"):
        mx.new_stream(mx.gpu)
    prev = mx.default_device()
    try:
        with pytest.raises(ValueError, match="no GPU"):
            mx.set_default_device(mx.gpu)
    finally:
        mx.set_default_device(prev)  # should the call not raise, later tests stay where they were
    assert mx.default_device() == prev
    with pytest.raises(ValueError, match="no GPU"):
        mx.add(mx.array(1), 1, stream=mx.gpu)
