"""complex64 against NumPy's complex64: the dtype, promotion, Python complex scalars,
conversions in and out, data movement, elementwise math, reductions, matmul, and the ops
that refuse complex values (each a ValueError naming the op, after which the process goes
on working)."""

import math

import fastsync as mx
import numpy as np
import pytest
from helpers import ALL

RTOL = 2e-5
ATOL = 2e-5


def crandom(rng, shape):
    """complex64 values with both parts standard normal."""
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def check(got, want, rtol=RTOL, atol=ATOL):
    got_np = np.array(got)
    want = np.asarray(want)
    assert got_np.shape == want.shape
    if np.iscomplexobj(want):
        assert got.dtype == mx.complex64
        assert got_np.dtype == np.complex64
    np.testing.assert_allclose(got_np, want, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- the dtype


def test_dtype_properties():
    assert mx.complex64.size == 8
    assert mx.complex64.name == "complex64"
    assert repr(mx.complex64) == "fastsync.complex64"
    assert mx.complex64 == mx.complex64 and mx.complex64 != mx.float32
    assert mx.issubdtype(mx.complex64, mx.complexfloating)
    assert mx.issubdtype(mx.complex64, mx.inexact)
    assert mx.issubdtype(mx.complex64, mx.number)
    assert not mx.issubdtype(mx.complex64, mx.floating)
    assert mx.isdtype(mx.complex64, "complex floating")
    assert mx.isdtype(mx.complex64, "numeric")
    assert not mx.isdtype(mx.complex64, "real floating")
    fi = mx.finfo(mx.complex64)
    assert fi.dtype == mx.float32 and fi.bits == 32
    assert fi.eps == np.finfo(np.complex64).eps
    with pytest.raises(ValueError):
        mx.iinfo(mx.complex64)


@pytest.mark.parametrize("dtype", [*ALL, "complex64"])
def test_promotion_gives_complex64(dtype):
    a = mx.zeros((2,), getattr(mx, dtype))
    z = mx.zeros((2,), mx.complex64)
    assert (a + z).dtype == mx.complex64
    assert (z * a).dtype == mx.complex64
    assert mx.result_type(getattr(mx, dtype), mx.complex64) == mx.complex64
    assert mx.can_cast(getattr(mx, dtype), mx.complex64)


def test_python_complex_scalars():
    x = mx.array(1 + 2j)
    assert x.dtype == mx.complex64 and x.shape == ()
    assert x.item() == 1 + 2j and isinstance(x.item(), complex)
    assert complex(x) == 1 + 2j
    # Weak scalars: a complex scalar makes any array complex64; real scalars keep complex64.
    for dt in (mx.float32, mx.float16, mx.int32, mx.bool_, mx.float64):
        assert (mx.ones((3,), dt) + 1j).dtype == mx.complex64
        assert (2j * mx.ones((3,), dt)).dtype == mx.complex64
    z = mx.array([1 + 1j, 2 - 1j])
    assert (z + 2.5).dtype == mx.complex64
    assert (z * 3).dtype == mx.complex64
    assert (z / 2).dtype == mx.complex64
    assert (2 ** mx.array([1.0, 2.0]) * 1j).dtype == mx.complex64
    check(z * 1j + 0.5, np.array([1 + 1j, 2 - 1j], np.complex64) * 1j + 0.5)
    assert mx.result_type(mx.float32, 1j) == mx.complex64
    assert mx.array(1 + 2j, mx.float32).item() == 1.0
    assert mx.array(3, mx.complex64).item() == 3 + 0j
    assert mx.array(2.5, mx.complex64).item() == 2.5 + 0j
    assert complex(mx.array(1.5)) == 1.5 + 0j
    assert complex(mx.array(2)) == 2 + 0j
    with pytest.raises(ValueError):
        complex(mx.zeros((2,), mx.complex64))


# --------------------------------------------------------------------------- conversions


def test_numpy_round_trip():
    rng = np.random.default_rng(0)
    a = crandom(rng, (3, 4, 5))
    x = mx.array(a)
    assert x.dtype == mx.complex64
    np.testing.assert_array_equal(np.array(x), a)
    assert np.asarray(x).dtype == np.complex64
    # complex128 comes in as complex64; strided NumPy views too.
    b = a.astype(np.complex128)
    np.testing.assert_array_equal(np.array(mx.array(b)), a)
    np.testing.assert_array_equal(np.array(mx.array(a.T[::2])), a.T[::2])
    # NumPy scalars.
    assert mx.array(np.complex64(1 - 2j)).item() == 1 - 2j


def test_lists_tolist_item():
    vals = [0.5 + 0j, 1.5 + 1j, 2.5 + 0j, 3.5 - 1j]
    x = mx.array(vals)
    assert x.dtype == mx.complex64
    assert x.tolist() == vals
    assert mx.array([1 + 0j, 2j, True, 0], mx.complex64).tolist() == [1 + 0j, 2j, 1 + 0j, 0j]
    assert mx.array([[1j, 2], [3, 4 + 0j]]).tolist() == [[1j, 2 + 0j], [3 + 0j, 4 + 0j]]
    assert all(isinstance(v, complex) for v in x.tolist())
    assert x[1].item() == 1.5 + 1j


def test_dlpack_and_buffer():
    rng = np.random.default_rng(1)
    a = crandom(rng, (4, 3))
    x = mx.array(a)
    np.testing.assert_array_equal(np.from_dlpack(x), a)
    assert np.from_dlpack(x).dtype == np.complex64
    y = mx.from_dlpack(a)
    assert y.dtype == mx.complex64
    np.testing.assert_array_equal(np.array(y), a)
    y = mx.from_dlpack(a.astype(np.complex128))
    assert y.dtype == mx.complex64
    np.testing.assert_array_equal(np.array(y), a)
    mv = memoryview(x)
    assert mv.format == memoryview(a).format
    assert mv.strides == (24, 8) and mv.shape == (4, 3)
    np.testing.assert_array_equal(np.array(mv, copy=False), a)
    mv = memoryview(x.T)
    assert mv.strides == memoryview(a.T).strides


def test_repr():
    assert str(mx.array([1 + 1j], mx.complex64)) == "array([1+1j], dtype=complex64)"
    assert str(mx.array([1 - 1j], mx.complex64)) == "array([1-1j], dtype=complex64)"
    assert str(mx.array(0.5 - 2.25j)) == "array(0.5-2.25j, dtype=complex64)"
    assert str(mx.array([complex(math.nan, math.inf)])) == "array([nan+infj], dtype=complex64)"


@pytest.mark.parametrize("dtype", [d for d in ALL if d != "bool_"])
def test_astype(dtype):
    rng = np.random.default_rng(2)
    a = (crandom(rng, (5, 6)) * 20).astype(np.complex64)
    if dtype.startswith("u"):
        a = np.abs(a.real) + 1j * a.imag
    a = a.astype(np.complex64)
    x = mx.array(a)
    got = x.astype(getattr(mx, dtype))
    want_real = a.real.astype(np.float32)
    if dtype in ("float16", "bfloat16", "float32", "float64"):
        tol = {"float16": 1e-2, "bfloat16": 1e-1}.get(dtype, 1e-6)
        np.testing.assert_allclose(np.array(got.astype(mx.float32)), want_real, rtol=tol)
    else:
        np.testing.assert_array_equal(np.array(got), want_real.astype(dtype))
    # real -> complex: imaginary part 0 (float16/bfloat16 values are exact in float32).
    back = got.astype(mx.complex64)
    assert back.dtype == mx.complex64
    np.testing.assert_array_equal(np.array(back).imag, 0)
    np.testing.assert_array_equal(np.array(back).real, np.array(got.astype(mx.float32)))


def test_astype_bool_and_strided():
    a = np.array([0, 1j, 2, 0j, -0.0 + 0j, 1 + 1j], np.complex64)
    assert mx.array(a).astype(mx.bool_).tolist() == [False, True, True, False, False, True]
    assert mx.array([True, False]).astype(mx.complex64).tolist() == [1 + 0j, 0j]
    rng = np.random.default_rng(3)
    f = rng.standard_normal((6, 8)).astype(np.float32)
    check(mx.array(f).T[::2, 1::3].astype(mx.complex64), f.T[::2, 1::3].astype(np.complex64))
    c = crandom(rng, (6, 8))
    check(mx.array(c)[::-1, ::3].astype(mx.float32), c[::-1, ::3].real)


# --------------------------------------------------------------------------- data movement


def test_creation():
    assert mx.zeros((2, 3), mx.complex64).tolist() == [[0j] * 3] * 2
    assert mx.ones((2,), mx.complex64).tolist() == [1 + 0j, 1 + 0j]
    check(mx.full((2, 2), 1 - 2j), np.full((2, 2), 1 - 2j, np.complex64))
    check(mx.full((3,), mx.array(2.0), mx.complex64), np.full((3,), 2, np.complex64))
    check(mx.eye(3, dtype=mx.complex64), np.eye(3, dtype=np.complex64))
    assert mx.zeros_like(mx.array([1j])).dtype == mx.complex64
    check(mx.diag(mx.zeros((0,), mx.complex64)), np.zeros((0, 0), np.complex64))


def test_shape_and_indexing_ops():
    rng = np.random.default_rng(4)
    a = crandom(rng, (4, 5, 6))
    x = mx.array(a)
    check(x.reshape(20, 6), a.reshape(20, 6))
    check(x.transpose(2, 0, 1), a.transpose(2, 0, 1))
    check(x[1:, ::2, ::-3], a[1:, ::2, ::-3])
    check(mx.concatenate([x, x[:, ::-1]], axis=1), np.concatenate([a, a[:, ::-1]], axis=1))
    check(mx.stack([x[0], x[1]]), np.stack([a[0], a[1]]))
    idx = np.array([3, 0, 0, 2])
    check(mx.take(x, mx.array(idx), axis=1), np.take(a, idx, axis=1))
    check(x[mx.array(idx)], a[idx])
    ti = rng.integers(0, 6, (4, 5, 2))
    check(mx.take_along_axis(x, mx.array(ti), axis=2), np.take_along_axis(a, ti, axis=2))
    check(mx.broadcast_to(x[:, :1], (4, 5, 6)), np.broadcast_to(a[:, :1], (4, 5, 6)))
    check(mx.flip(x, 0), np.flip(a, 0))
    check(mx.pad(x, [(1, 0), (0, 0), (0, 2)]), np.pad(a, [(1, 0), (0, 0), (0, 2)]))
    check(mx.where(mx.array(a.real > 0), x, 1j), np.where(a.real > 0, a, 1j))
    check(x.T, a.T)
    check(mx.repeat(x[0], 2, axis=0), np.repeat(a[0], 2, axis=0))
    check(mx.tile(x[0], (2, 1)), np.tile(a[0], (2, 1)))
    check(mx.split(x, 2, axis=2)[1], np.split(a, 2, axis=2)[1])
    check(mx.roll(x, 2, 1), np.roll(a, 2, 1))
    check(mx.tril(x[0]), np.tril(a[0]))


def test_scatter_and_item_assignment():
    rng = np.random.default_rng(5)
    a = crandom(rng, (6, 3))
    u = crandom(rng, (4, 3))
    idx = np.array([1, 4, 1, 5])
    x = mx.array(a)
    want = a.copy()
    np.add.at(want, idx, u)
    check(x.at[mx.array(idx)].add(mx.array(u)), want)
    want = a.copy()
    np.multiply.at(want, idx, u)
    check(x.at[mx.array(idx)].multiply(mx.array(u)), want, rtol=1e-5)
    check(x.at[mx.array(idx)].subtract(1j), a - np.bincount(idx, minlength=6)[:, None] * 1j)
    want = a.copy()
    np.divide.at(want, idx, np.complex64(2 - 1j))
    check(x.at[mx.array(idx)].divide(2 - 1j), want)
    y = mx.array(a)
    y[2] = 7 - 7j
    y[mx.array([0, 5]), 1] = mx.array([1j, -1j])
    want = a.copy()
    want[2] = 7 - 7j
    want[[0, 5], 1] = [1j, -1j]
    check(y, want)
    # Many updates into one place.
    base = mx.zeros((4,), mx.complex64)
    out = base.at[mx.full((4096,), 3, mx.int32)].add(1 + 3j)
    assert out.tolist() == [0j, 0j, 0j, 4096 * (1 + 3j)]


# --------------------------------------------------------------------------- elementwise

BINARY = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": np.divide,
}


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_broadcast_and_strided(op):
    rng = np.random.default_rng(6)
    for sa, sb in [((4, 5), (4, 5)), ((3, 1, 5), (4, 1)), ((6,), ()), ((), (2, 3))]:
        a, b = crandom(rng, sa), crandom(rng, sb)
        check(getattr(mx, op)(mx.array(a), mx.array(b)), BINARY[op](a, b))
    a = crandom(rng, (8, 10))
    b = crandom(rng, (10, 8))
    check(getattr(mx, op)(mx.array(a)[::2, 1::2], mx.array(b).T[::2, ::2]),
          BINARY[op](a[::2, 1::2], b.T[::2, ::2]))
    # complex with a real array.
    r = rng.standard_normal((8, 10)).astype(np.float32)
    check(getattr(mx, op)(mx.array(a), mx.array(r)), BINARY[op](a, r))
    check(getattr(mx, op)(mx.array(r), mx.array(a)), BINARY[op](r, a))


def test_division_edge_cases():
    a = np.array([1 + 1j, 1e30 + 1e30j, 1 + 0j, 0j], np.complex64)
    b = np.array([1e-30 + 1e-30j, 1e30 - 1e30j, 0j, 0j], np.complex64)
    with np.errstate(all="ignore"):
        want = a / b
    got = np.array(mx.array(a) / mx.array(b))
    np.testing.assert_allclose(got[:2], want[:2], rtol=1e-6)
    assert np.isinf(got[2].real) and np.isnan(got[3].real)


def test_power():
    rng = np.random.default_rng(7)
    a = crandom(rng, (5, 4))
    b = crandom(rng, (5, 4)) * 0.5
    with np.errstate(all="ignore"):
        check(mx.power(mx.array(a), mx.array(b)), np.power(a, b), rtol=1e-4, atol=1e-5)
    check(mx.array(a) ** 2, a**2, rtol=1e-6)
    check(mx.array(a) ** 3, a**3, rtol=1e-5)
    check(mx.array(a) ** -1, a**-1, rtol=1e-5)
    check(mx.array(a) ** 0.5, a**0.5, rtol=1e-5)
    check(2.0 ** mx.array(a), 2.0**a, rtol=1e-5)
    assert mx.power(mx.array(0j), 2).item() == 0j
    assert mx.isnan(mx.power(mx.array(0j), float("nan"))).item()
    assert (mx.array([0j]) ** 0).tolist() == [1 + 0j]


UNARY = ["negative", "square", "exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh",
         "tanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "log2", "log10",
         "log1p", "conjugate", "conj", "reciprocal", "sign"]


def np_op(op, a):
    if op == "reciprocal":
        return 1 / a
    if op == "sign":
        m = np.abs(a)
        return np.where(m == 0, 0, a / np.where(m == 0, 1, m)).astype(np.complex64)
    return getattr(np, op)(a)


@pytest.mark.parametrize("op", UNARY)
def test_unary(op):
    rng = np.random.default_rng(8)
    a = crandom(rng, (7, 9)) * 1.5
    x = mx.array(a)
    want = np_op(op, a)
    check(getattr(mx, op)(x), want, rtol=1e-5, atol=1e-5)
    check(getattr(mx, op)(x.T[::2]), np_op(op, a.T[::2]), rtol=1e-5, atol=1e-5)
    # On the branch cuts and a few special points.
    special = np.array([8 + 0j, 8 - 0j, -8 + 0j, -8 - 0j, 3 + 4j, -5 + 12j, 9j, -9j, 0.5 + 0j,
                        -0.5 + 0j, 0.2j, 1e-3 + 1e-3j], np.complex64)
    with np.errstate(all="ignore"):
        want = np_op(op, special)
    got = np.array(getattr(mx, op)(mx.array(special)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_unary_special_values():
    inf, nan = math.inf, math.nan
    z = np.array([0j, complex(inf, 0), complex(-inf, 0), complex(0, inf), complex(nan, 0),
                  complex(1, nan)], np.complex64)
    x = mx.array(z)
    with np.errstate(all="ignore"):
        for op in ("exp", "sqrt", "log", "square"):
            got, want = np.array(getattr(mx, op)(x)), getattr(np, op)(z)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=op)
            fin = np.isfinite(want)
            np.testing.assert_allclose(got[fin], want[fin], err_msg=op)
        assert np.array(mx.exp(mx.array([complex(inf, 0)]))).tolist() == [complex(inf, 0)]
        assert np.array(mx.sqrt(mx.array([complex(-4, 0)]))).tolist() == [2j]
        assert np.array(mx.sqrt(mx.array([complex(-4, -0.0)]))).tolist() == [-2j]


def test_abs_real_imag():
    rng = np.random.default_rng(9)
    a = crandom(rng, (6, 7))
    x = mx.array(a)
    for got, want in [(mx.abs(x), np.abs(a)), (mx.real(x), a.real), (mx.imag(x), a.imag),
                      (x.real, a.real), (x.imag, a.imag), (abs(x), np.abs(a)),
                      (mx.abs(x[::2, ::-3]), np.abs(a[::2, ::-3])),
                      (x.T.imag, a.T.imag)]:
        assert got.dtype == mx.float32
        np.testing.assert_allclose(np.array(got), want, rtol=1e-6)
    check(x.conj(), a.conj())
    check(x.conjugate(), a.conj())
    # abs does not overflow for large parts.
    assert mx.abs(mx.array([3e30 + 4e30j])).item() == pytest.approx(5e30, rel=1e-6)
    # Real arrays: real is the array, imag zeros, conj the array.
    r = mx.array([1.0, -2.0])
    assert mx.real(r).tolist() == [1.0, -2.0] and r.imag.tolist() == [0.0, 0.0]
    assert mx.conj(r).dtype == mx.float32
    assert mx.imag(mx.array([1, 2])).dtype == mx.int32


def test_round():
    y = mx.round(mx.array([22.2 + 3.6j, 18.5 + 98.2j, -2.5 - 0.5j]))
    assert y.tolist() == [22 + 4j, 18 + 98j, -2 - 0j]
    check(mx.round(mx.array([1.234 + 5.678j]), 1), np.array([1.2 + 5.7j], np.complex64))


def test_comparisons_and_nan_tests():
    inf, nan = math.inf, math.nan
    a = np.array([1 + 1j, 1 + 2j, complex(nan, 0), complex(0, nan), 2j], np.complex64)
    b = np.array([1 + 1j, 1 - 2j, complex(nan, 0), complex(0, 1), 2j], np.complex64)
    x, y = mx.array(a), mx.array(b)
    assert mx.equal(x, y).tolist() == (a == b).tolist()
    assert (x != y).tolist() == (a != b).tolist()
    assert (x == 2j).tolist() == (a == 2j).tolist()
    z = np.array([complex(0, inf), complex(inf, 0), complex(inf, inf), complex(0, -inf),
                  complex(-inf, 0), complex(3, 4), 0j, complex(nan, 1), complex(1, nan)],
                 np.complex64)
    w = mx.array(z)
    assert mx.isnan(w).tolist() == np.isnan(z).tolist()
    assert mx.isinf(w).tolist() == np.isinf(z).tolist()
    assert mx.isfinite(w).tolist() == np.isfinite(z).tolist()
    assert mx.isneginf(mx.array([0.0, -inf]).astype(mx.complex64)).tolist() == [False, True]
    assert mx.isposinf(mx.array([0.0, -inf]).astype(mx.complex64)).tolist() == [False, False]


def test_isclose_allclose_array_equal():
    rng = np.random.default_rng(10)
    a = crandom(rng, (5, 4))
    b = a + np.complex64(1e-7 + 1e-7j)
    c = a + np.complex64(1e-3j)
    x, y, z = mx.array(a), mx.array(b), mx.array(c)
    assert mx.allclose(x, y).item()
    assert not mx.allclose(x, z).item()
    np.testing.assert_array_equal(np.array(mx.isclose(x, z, atol=1e-2)),
                                  np.isclose(a, c, atol=1e-2))
    np.testing.assert_array_equal(np.array(mx.isclose(x, z)), np.isclose(a, c))
    assert mx.array_equal(x, mx.array(a)).item()
    assert not mx.array_equal(x, y).item()
    n = mx.array([0.0, math.nan]).astype(mx.complex64)
    assert not mx.array_equal(n, n).item()
    assert mx.array_equal(n, n, equal_nan=True).item()
    assert mx.isclose(n, n, equal_nan=True).tolist() == [True, True]
    # complex against real: promotion.
    assert mx.allclose(mx.array([1 + 0j, 2 + 0j]), mx.array([1.0, 2.0])).item()
    assert mx.array_equal(mx.array([1 + 0j]), mx.array([1])).item()


# --------------------------------------------------------------------------- reductions


@pytest.mark.parametrize("op", ["sum", "prod", "mean"])
def test_reductions(op):
    rng = np.random.default_rng(11)
    a = crandom(rng, (4, 5, 6))
    if op == "prod":
        a = (a / np.abs(a) * 1.01).astype(np.complex64)  # magnitudes near 1
    x = mx.array(a)
    for axes in (None, 0, 1, 2, (0, 1), (0, 2), (1, 2), (0, 1, 2)):
        got = getattr(mx, op)(x, axis=axes)
        want = getattr(np, op)(a.astype(np.complex128), axis=axes)
        check(got, want.astype(np.complex64), rtol=1e-4, atol=1e-4)
    check(getattr(mx, op)(x.transpose(2, 0, 1)[:, ::2], axis=(0, 2), keepdims=True),
          getattr(np, op)(a.transpose(2, 0, 1)[:, ::2], axis=(0, 2), keepdims=True),
          rtol=1e-4, atol=1e-4)
    big = crandom(rng, (70000,))
    check(mx.sum(mx.array(big)), big.astype(np.complex128).sum().astype(np.complex64),
          rtol=1e-4, atol=1e-2)
    empty = mx.zeros((0, 3), mx.complex64)
    assert mx.sum(empty, axis=0).tolist() == [0j] * 3
    assert mx.prod(empty, axis=0).tolist() == [1 + 0j] * 3


def test_scans_and_var():
    rng = np.random.default_rng(12)
    a = crandom(rng, (6, 7, 8)) * 0.5
    x = mx.array(a)
    for op in ("cumsum", "cumprod"):
        for axis in (None, 0, 1, 2):
            check(getattr(mx, op)(x, axis=axis), getattr(np, op)(a, axis=axis),
                  rtol=1e-4, atol=1e-5)
    check(mx.cumsum(x, axis=1, reverse=True), np.flip(np.cumsum(np.flip(a, 1), 1), 1),
          rtol=1e-4, atol=1e-5)
    v = mx.var(x, axis=1)
    assert v.dtype == mx.float32
    np.testing.assert_allclose(np.array(v), np.var(a, axis=1), rtol=1e-4)
    np.testing.assert_allclose(np.array(mx.std(x)), np.std(a), rtol=1e-4)
    assert mx.all(mx.array([1j, 1])).item() and not mx.any(mx.zeros((3,), mx.complex64)).item()
    assert mx.count_nonzero(mx.array([0j, 1j, 1, 0])).item() == 2


# --------------------------------------------------------------------------- matmul


def test_matmul():
    rng = np.random.default_rng(13)
    cases = [((16, 50), (50, 32)), ((3, 4, 5), (5, 6)), ((2, 1, 4, 5), (3, 5, 2)),
             ((7,), (7, 3)), ((4, 7), (7,)), ((1, 1), (1, 1)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]
    for sa, sb in cases:
        a, b = crandom(rng, sa), crandom(rng, sb)
        check(mx.matmul(mx.array(a), mx.array(b)), np.matmul(a, b), rtol=1e-4, atol=1e-4)
    # Transposed and strided operands.
    a, b = crandom(rng, (20, 12)), crandom(rng, (9, 20))
    check(mx.array(a).T @ mx.array(b).T, a.T @ b.T, rtol=1e-4, atol=1e-4)
    check(mx.array(a)[::2, 1::2] @ mx.array(b).T[:12:2], a[::2, 1::2] @ b.T[:12:2],
          rtol=1e-4, atol=1e-4)
    # complex with real (promotes).
    r = rng.standard_normal((12, 5)).astype(np.float32)
    check(mx.array(a) @ mx.array(r), a @ r, rtol=1e-4, atol=1e-4)
    check(mx.array(r.T) @ mx.array(a.T), r.T @ a.T, rtol=1e-4, atol=1e-4)
    # addmm, and tensordot / inner through matmul.
    c = crandom(rng, (20, 5))
    check(mx.addmm(mx.array(c), mx.array(a), mx.array(r), 2.0, 0.5),
          2.0 * (a @ r) + 0.5 * c, rtol=1e-4, atol=1e-4)
    check(mx.addmm(mx.array(c[:, :1]), mx.array(a), mx.array(r)), a @ r + c[:, :1],
          rtol=1e-4, atol=1e-4)
    check(mx.tensordot(mx.array(a), mx.array(b), axes=([0], [1])),
          np.tensordot(a, b, axes=([0], [1])), rtol=1e-4, atol=1e-4)
    check(mx.inner(mx.array(a), mx.array(a)), np.inner(a, a), rtol=1e-4, atol=1e-4)
    # vecdot conjugates its first operand (NumPy's vecdot / vdot).
    d = crandom(rng, (20, 12))
    check(mx.vecdot(mx.array(a), mx.array(d)), np.vecdot(a, d), rtol=1e-4, atol=1e-4)
    check(mx.vecdot(mx.array(a), mx.array(d), axis=0), np.vecdot(a, d, axis=0), rtol=1e-4,
          atol=1e-4)
    check(mx.vecdot(mx.array([1 + 2j, 3 + 4j]), mx.array([5 + 6j, 7 + 8j])),
          np.complex64(np.vdot([1 + 2j, 3 + 4j], [5 + 6j, 7 + 8j])))
    check(mx.addmm(mx.zeros((2, 3), mx.complex64) + 1j, mx.zeros((2, 0), mx.complex64),
                   mx.zeros((0, 3), mx.complex64), beta=2.0), np.full((2, 3), 2j, np.complex64))


# --------------------------------------------------------------------------- refusals

def _z():
    return mx.array([1 + 2j, 3 - 1j], mx.complex64)


REFUSED = {
    "less": lambda z: mx.less(z, z),
    "less_equal": lambda z: z <= z,
    "greater": lambda z: z > 1,
    "greater_equal": lambda z: mx.greater_equal(z, z),
    "maximum": lambda z: mx.maximum(z, z),
    "minimum": lambda z: mx.minimum(z, 1.0),
    "clip": lambda z: mx.clip(z, 0, 1),
    "floor": mx.floor,
    "ceil": mx.ceil,
    "trunc": mx.trunc,
    "remainder": lambda z: z % z,
    "floor_divide": lambda z: z // 2,
    "divmod": lambda z: divmod(z, z),
    "arctan2": lambda z: mx.arctan2(z, z),
    "expm1": mx.expm1,
    "sigmoid": mx.sigmoid,
    "erf": mx.erf,
    "erfinv": mx.erfinv,
    "sort": mx.sort,
    "argsort": mx.argsort,
    "partition": lambda z: mx.partition(z, 1),
    "argpartition": lambda z: mx.argpartition(z, 1),
    "topk": lambda z: mx.topk(z, 1),
    "argmax": mx.argmax,
    "argmin": lambda z: z.argmin(),
    "max": mx.max,
    "min": lambda z: z.min(),
    "cummax": mx.cummax,
    "cummin": mx.cummin,
    "softmax": mx.softmax,
    "logsumexp": mx.logsumexp,
    "logcumsumexp": mx.logcumsumexp,
    "logaddexp": lambda z: mx.logaddexp(z, z),
    "median": mx.median,
    "nan_to_num": mx.nan_to_num,
    "bitwise_and": lambda z: z & z,
    "bitwise_invert": lambda z: ~z,
    "left_shift": lambda z: z << 1,
    "at.maximum": lambda z: z.at[0].maximum(1j),
    "at.minimum": lambda z: z.at[mx.array([0])].minimum(1j),
    "arange": lambda z: mx.arange(0, 3, dtype=mx.complex64),
    "uniform": lambda z: mx.random.uniform(shape=(2,), dtype=mx.complex64),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_ops_raise_value_error(name):
    with pytest.raises(ValueError) as e:
        mx.eval(REFUSED[name](_z()))
    msg = str(e.value)
    assert msg.startswith("[") and (name.split(".")[-1] in msg or "complex" in msg), msg
    # The process goes on working, with complex values too.
    z = _z()
    assert (z * z).tolist() == [(1 + 2j) ** 2, (3 - 1j) ** 2]
    assert mx.sum(mx.abs(z)).item() == pytest.approx(abs(1 + 2j) + abs(3 - 1j), rel=1e-6)
