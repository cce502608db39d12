"""Rearranging and combining ops (flatten, unstack, atleast_*, broadcast_arrays, roll,
diagonal/diag/trace, meshgrid, diff, as_strided, slice/slice_update, put_along_axis, the tensor
products), the sort-based ops (partition, searchsorted, median) and the window functions,
against NumPy; bad input raises a clear error."""

import fastsync as mx
import numpy as np
import pytest


def arr(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype)


def test_flatten_unflatten_unstack():
    a = arr((2, 3, 4))
    x = mx.array(a)
    assert mx.flatten(x).shape == (24,)
    np.testing.assert_array_equal(np.array(mx.flatten(x, 1)), a.reshape(2, 12))
    np.testing.assert_array_equal(np.array(mx.flatten(x, 0, 1)), a.reshape(6, 4))
    np.testing.assert_array_equal(np.array(x.T.flatten()), a.T.reshape(-1))
    assert mx.flatten(mx.array(1.0)).shape == (1,)
    np.testing.assert_array_equal(np.array(mx.unflatten(x, 2, (2, 2))), a.reshape(2, 3, 2, 2))
    for axis in range(3):
        parts = mx.unstack(x, axis=axis)
        assert len(parts) == a.shape[axis]
        for p, q in zip(parts, np.moveaxis(a, axis, 0), strict=True):
            np.testing.assert_array_equal(np.array(p), q)
    with pytest.raises(ValueError):
        mx.flatten(x, 2, 1)


def test_atleast_and_broadcast_helpers():
    for f in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for a in (np.float32(3.0), np.arange(3.0), np.ones((2, 3)), np.ones((1, 2, 3, 4))):
            assert getattr(mx, f)(mx.array(a)).shape == getattr(np, f)(a).shape
    many = mx.atleast_2d(mx.array(1), mx.array([1, 2]))
    assert [m.shape for m in many] == [(1, 1), (1, 2)]
    xs = mx.broadcast_arrays(mx.zeros((3, 1)), mx.zeros((4,)), mx.zeros(()))
    assert [x.shape for x in xs] == [(3, 4)] * 3
    assert mx.broadcast_shapes((5, 1, 4), (1, 3, 4), (4,)) == (5, 3, 4)
    with pytest.raises(ValueError):
        mx.broadcast_shapes((2,), (3,))
    with pytest.raises(ValueError):
        mx.broadcast_arrays(mx.zeros((2,)), mx.zeros((3,)))


@pytest.mark.parametrize("shift,axis", [(2, None), (-7, None), (1, 0), (3, 1), ((1, -2), (0, 1)),
                                        (5, (0, 1))])
def test_roll(shift, axis):
    a = np.arange(12).reshape(3, 4)
    got = mx.roll(mx.array(a), shift, axis)
    np.testing.assert_array_equal(np.array(got), np.roll(a, shift, axis))


def test_diagonal_diag_trace():
    a = arr((3, 4, 5))
    x = mx.array(a)
    for off in (-2, 0, 1, 4, 9):
        for ax1, ax2 in ((0, 1), (1, 2), (2, 0), (-1, 0)):
            np.testing.assert_array_equal(np.array(mx.diagonal(x, off, ax1, ax2)),
                                          np.diagonal(a, off, ax1, ax2))
    # On a strided view.
    np.testing.assert_array_equal(np.array(mx.diagonal(x.T[::2], 1)),
                                  np.diagonal(a.T[::2], 1))
    m = arr((4, 6))
    for k in (-3, 0, 2):
        np.testing.assert_array_equal(np.array(mx.diag(mx.array(m), k)), np.diag(m, k))
    v = np.arange(1, 4, dtype=np.float32)
    for k in (-2, 0, 1):
        np.testing.assert_array_equal(np.array(mx.diag(mx.array(v), k)), np.diag(v, k))
    np.testing.assert_allclose(mx.trace(x, 1, 1, 2).tolist(), np.trace(a, 1, 1, 2), rtol=1e-5)
    assert mx.trace(mx.array(np.ones((3, 3), np.int32)), dtype=mx.float16).dtype == mx.float16
    with pytest.raises(ValueError):
        mx.diagonal(mx.zeros((3,)))
    with pytest.raises(ValueError):
        mx.diagonal(x, 0, 1, 1)


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
    a, b, c = np.arange(3), np.arange(4) * 2, np.arange(2) - 5
    got = mx.meshgrid(mx.array(a), mx.array(b), mx.array(c), sparse=sparse, indexing=indexing)
    want = np.meshgrid(a, b, c, sparse=sparse, indexing=indexing)
    assert isinstance(got, tuple)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.array(g), w)
    with pytest.raises(ValueError):
        mx.meshgrid(mx.array(a), indexing="yx")


def test_diff():
    a = np.array([[1, 5, 2, 8], [0, 0, 3, 1]])
    for n in (0, 1, 2, 3, 5):
        for axis in (-1, 0):
            np.testing.assert_array_equal(np.array(mx.diff(mx.array(a), n, axis)),
                                          np.diff(a, n, axis))
    b = np.array([True, False, False, True])
    np.testing.assert_array_equal(np.array(mx.diff(mx.array(b))), np.diff(b))
    with pytest.raises(ValueError):
        mx.diff(mx.array(a), -1)


def test_as_strided():
    a = np.arange(20, dtype=np.float32)
    x = mx.array(a)
    got = mx.as_strided(x, (4, 3), (5, 1), 2)
    want = np.lib.stride_tricks.as_strided(a[2:], (4, 3), (20, 4))
    np.testing.assert_array_equal(np.array(got), want)
    np.testing.assert_array_equal(np.array(mx.as_strided(x, (20,), (-1,), 19)), a[::-1])
    # Over the logical (row-major) order of a transposed input.
    t = mx.array(a.reshape(4, 5)).T
    np.testing.assert_array_equal(np.array(mx.as_strided(t, (20,), (1,))),
                                  a.reshape(4, 5).T.reshape(-1))
    with pytest.raises(ValueError, match="outside"):
        mx.as_strided(x, (5,), (5,), 0)


def test_dynamic_slice_and_slice_update():
    a = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    x = mx.array(a)
    got = mx.slice(x, mx.array([1, 2, 3]), (0, 1, 2), (2, 2, 3))
    np.testing.assert_array_equal(np.array(got), a[1:3, 2:4, 3:6])
    # Starts are clamped so the slice fits.
    got = mx.slice(x, mx.array([3, 9]), (0, 2), (2, 2))
    np.testing.assert_array_equal(np.array(got), a[2:4, :, 4:6])
    upd = -np.ones((2, 2, 3), dtype=a.dtype)
    got = mx.slice_update(x, mx.array(upd), mx.array([1, 2, 3]), (0, 1, 2))
    want = a.copy()
    want[1:3, 2:4, 3:6] = upd
    np.testing.assert_array_equal(np.array(got), want)
    with pytest.raises(ValueError):
        mx.slice(x, mx.array([1, 2]), (0, 1, 2), (1, 1, 1))


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_put_along_axis(axis):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    if axis is None:
        idx = rng.permutation(20)[:6]
        vals = rng.standard_normal(6).astype(np.float32)
    else:
        shape = list(a.shape)
        shape[axis] = 2
        idx = np.argsort(rng.random(a.shape), axis=axis)
        idx = np.take(idx, [0, 1], axis=axis)
        vals = rng.standard_normal(shape).astype(np.float32)
    want = a.copy()
    np.put_along_axis(want, idx, vals, axis)
    got = mx.put_along_axis(mx.array(a), mx.array(idx), mx.array(vals), axis)
    np.testing.assert_array_equal(np.array(got), want)


def test_tensor_products():
    a, b = arr((3, 4, 5), seed=1), arr((4, 5, 2), seed=2)
    np.testing.assert_allclose(np.array(mx.tensordot(mx.array(a), mx.array(b))),
                               np.tensordot(a, b), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        np.array(mx.tensordot(mx.array(a), mx.array(b), ([1], [0]))),
        np.tensordot(a, b, ([1], [0])), rtol=1e-4, atol=1e-4)
    i, j = np.arange(6).reshape(2, 3), np.arange(12).reshape(4, 3)
    np.testing.assert_array_equal(np.array(mx.inner(mx.array(i), mx.array(j))), np.inner(i, j))
    np.testing.assert_array_equal(np.array(mx.outer(mx.array(i), mx.array([1, 2]))),
                                  np.outer(i, [1, 2]))
    np.testing.assert_array_equal(np.array(mx.kron(mx.array(i), mx.array(j[:2]))),
                                  np.kron(i, j[:2]))
    np.testing.assert_array_equal(np.array(mx.kron(mx.array([1, 2]), mx.array(i))),
                                  np.kron([1, 2], i))
    np.testing.assert_array_equal(np.array(mx.vecdot(mx.array(i), mx.array(i), axis=0)),
                                  np.sum(i * i, axis=0))
    with pytest.raises(ValueError):
        mx.tensordot(mx.array(a), mx.array(b), ([0], [0]))
    with pytest.raises(ValueError):
        mx.inner(mx.array(i), mx.array(np.ones((2, 2))))


def test_partition_and_argpartition():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((5, 9)).astype(np.float32)
    for kth in (0, 3, 8, -1):
        p = np.array(mx.partition(mx.array(a), kth, axis=-1))
        k = kth % 9
        np.testing.assert_array_equal(p[:, k], np.sort(a, axis=-1)[:, k])
        assert (p[:, :k] <= p[:, k:k + 1]).all() and (p[:, k + 1:] >= p[:, k:k + 1]).all()
        idx = np.array(mx.argpartition(mx.array(a), kth, axis=-1))
        np.testing.assert_array_equal(np.take_along_axis(a, idx, -1)[:, k], p[:, k])
    with pytest.raises(ValueError):
        mx.partition(mx.array(a), 9)


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(side):
    a = np.array([1, 2, 2, 3, 5, 8], np.float32)
    v = np.array([[0, 2, 2.5], [8, 9, 1]], np.float32)
    got = mx.searchsorted(mx.array(a), mx.array(v), side=side)
    assert got.dtype == mx.uint32
    np.testing.assert_array_equal(np.array(got), np.searchsorted(a, v, side=side))
    assert mx.searchsorted(mx.array(a), 2, side=side).item() == np.searchsorted(a, 2, side=side)
    with pytest.raises(ValueError):
        mx.searchsorted(mx.array(a), mx.array(v), side="middle")


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_median(axis, keepdims):
    a = arr((4, 5, 3), seed=7)
    got = mx.median(mx.array(a), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(np.array(got), np.median(a, axis=axis, keepdims=keepdims),
                               rtol=1e-6)
    b = a.copy()
    b[0, 0, 0] = np.nan
    assert np.isnan(np.array(mx.median(mx.array(b))))
    assert mx.median(mx.array([1, 4, 2, 3])).item() == 2.5
    with pytest.raises(ValueError):
        mx.median(mx.array(a), axis=(0, 0))


def test_count_nonzero_and_logcumsumexp():
    c = np.array([[0, 1, 0], [2, 3, 0]])
    assert mx.count_nonzero(mx.array(c)).item() == 3
    assert mx.count_nonzero(mx.array(c), axis=0).tolist() == [1, 2, 0]
    assert mx.count_nonzero(mx.array(c)).dtype == mx.int32
    a = arr((3, 6), seed=8) * 30
    for axis in (0, 1):
        np.testing.assert_allclose(np.array(mx.logcumsumexp(mx.array(a), axis=axis)),
                                   np.logaddexp.accumulate(a, axis=axis), rtol=1e-5, atol=1e-5)
    rev = np.array(mx.logcumsumexp(mx.array(a), axis=1, reverse=True))
    np.testing.assert_allclose(rev, np.logaddexp.accumulate(a[:, ::-1], axis=1)[:, ::-1],
                               rtol=1e-5, atol=1e-5)


def _running_logaddexp(x, axis, reverse, inclusive):
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    if reverse:
        x = x[..., ::-1]
    r = np.logaddexp.accumulate(x, axis=-1)
    if not inclusive:
        r = np.concatenate([np.full(r.shape[:-1] + (1,), -np.inf), r[..., :-1]], -1)
    if reverse:
        r = r[..., ::-1]
    return np.moveaxis(r, -1, axis)


@pytest.mark.parametrize("n", [1, 2, 32, 33, 100, 1100])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("inclusive", [True, False])
def test_logcumsumexp_keeps_early_terms_beside_much_larger_later_ones(n, reverse, inclusive):
    # Values spread over hundreds: a shift by the axis's maximum underflowed every
    # position far below it to -inf. Each output must be the running log-sum-exp itself.
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((3, n)) * 300).astype(np.float32)
    x[0] = np.sort(x[0])  # rising: every prefix sits far below the whole row's maximum
    for axis in (1, 0):
        a = x if axis == 1 else np.ascontiguousarray(x.T)
        got = np.array(mx.logcumsumexp(mx.array(a), axis=axis, reverse=reverse,
                                       inclusive=inclusive))
        want = _running_logaddexp(a, axis, reverse, inclusive)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    assert mx.logcumsumexp(mx.array([-200.0, 0.0])).tolist()[0] == -200.0
    half = mx.logcumsumexp(mx.array([-10.13, 9.92], dtype=mx.float16))
    assert abs(half.tolist()[0] + 10.13) < 0.01


def test_logcumsumexp_infinities_empty_axes_and_gradient():
    got = mx.logcumsumexp(mx.array([-np.inf, 0.0, np.inf, 1.0] + [0.0] * 40)).tolist()
    assert got[:4] == [-np.inf, 0.0, np.inf, np.inf]
    assert mx.logcumsumexp(mx.zeros((0, 3)), axis=0).shape == (0, 3)
    x = np.linspace(-3, 3, 70)
    g = mx.grad(lambda v: mx.logcumsumexp(v).sum())(mx.array(x.astype(np.float32)))
    run = np.logaddexp.accumulate(x)
    want = [np.exp(x[j] - run[j:]).sum() for j in range(len(x))]
    np.testing.assert_allclose(np.array(g), want, rtol=1e-5)


@pytest.mark.parametrize("name", ["hanning", "hamming", "blackman", "bartlett"])
@pytest.mark.parametrize("m", [0, 1, 2, 7, 16])
def test_windows(name, m):
    got = getattr(mx, name)(m)
    np.testing.assert_allclose(np.array(got), getattr(np, name)(m), atol=1e-6)
    with pytest.raises(ValueError):
        getattr(mx, name)(-1)


def test_pad_edge_and_linspace_endpoint():
    a = np.arange(6).reshape(2, 3)
    for pw in (1, (1, 2), ((0, 1), (2, 0))):
        np.testing.assert_array_equal(np.array(mx.pad(mx.array(a), pw, mode="edge")),
                                      np.pad(a, pw, mode="edge"))
    for mode in ("reflect", "symmetric"):
        for pw in (1, (2, 3), ((0, 1), (4, 0))):
            np.testing.assert_array_equal(np.array(mx.pad(mx.array(a), pw, mode=mode)),
                                          np.pad(a, pw, mode=mode))
    np.testing.assert_array_equal(np.array(mx.pad(mx.array([7]), 2, mode="reflect")),
                                  np.pad([7], 2, mode="reflect"))
    with pytest.raises(ValueError):
        mx.pad(mx.array(a), 1, mode="wrap")
    np.testing.assert_allclose(np.array(mx.linspace(0, 1, 4, endpoint=False)),
                               np.linspace(0, 1, 4, endpoint=False), rtol=1e-6)


def test_depends_returns_the_inputs_after_the_dependencies():
    a = mx.array([1.0, 2.0, 3.0])
    b, c = mx.exp(a), mx.log(a)
    (out,) = mx.depends([b], [c])
    np.testing.assert_allclose(np.array(out), np.exp([1.0, 2.0, 3.0]), rtol=1e-6)
    single = mx.depends(b, c)
    assert isinstance(single, mx.array) and single.shape == (3,)
    # The dependency is computed too, on another stream.
    s = mx.new_stream(mx.cpu)
    d = mx.add(a, 1, stream=s)
    (out,) = mx.depends([a * 2], [d])
    assert out.tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(ValueError):
        mx.depends([], [c])
