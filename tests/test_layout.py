"""Elementwise results keep their operands' memory layout, as NumPy's order 'K' does: the
result of ``transpose(x) + 1`` is laid out like ``transpose(x)`` (strides as NumPy's own
result has), so the op reads and writes memory in order. Every later op must read such
results right: values are checked against NumPy through reshapes, reductions, products,
slices and further elementwise ops on random axis orders.
"""

import itertools

import fastsync as mx
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def on_cpu():
    """The CPU backend's layouts. GPU elementwise kernels still write row-major results
    (values right, layout not NumPy's), so these tests run on a CPU stream everywhere."""
    with mx.stream(mx.cpu):
        yield


def strides_of(a):
    """Strides of the axes longer than 1 (a length-1 axis's stride means nothing)."""
    a = np.asarray(a)
    return tuple(st for st, n in zip(a.strides, a.shape, strict=True) if n > 1)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (2, 1, 3, 4)])
def test_results_take_the_layout_numpy_gives(shape):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(np.float32)
    x = mx.array(a)
    for perm in itertools.permutations(range(len(shape))):
        t, tn = mx.transpose(x, perm), a.transpose(perm)
        cases = [
            (t + 1.0, tn + np.float32(1)),
            (t * t, tn * tn),
            (mx.maximum(t, 0.0), np.maximum(tn, np.float32(0))),
            (mx.where(t > 0, t, 2.0), np.where(tn > 0, tn, np.float32(2))),
            (t < 0.5, tn < 0.5),
        ]
        for got, want in cases:
            np.testing.assert_array_equal(np.asarray(got), want)
            assert strides_of(got) == strides_of(want), (perm, strides_of(got), want.strides)


def test_mixed_layouts_and_broadcasts_are_row_major_and_right():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 6)).astype(np.float32)
    b = rng.standard_normal((6, 4)).astype(np.float32)
    x, y = mx.array(a), mx.array(b)
    for got, want in [
        (mx.transpose(x) + y, a.T + b),
        (mx.transpose(x) + mx.array(b[0]), a.T + b[0]),
        (mx.transpose(x) * mx.transpose(mx.array(b.T)), a.T * b),
    ]:
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_later_ops_read_permuted_results():
    rng = np.random.default_rng(2)
    for trial in range(20):
        nd = int(rng.integers(2, 5))
        shape = tuple(int(s) for s in rng.integers(1, 6, nd))
        perm = tuple(int(p) for p in rng.permutation(nd))
        a = rng.standard_normal(shape).astype(np.float32)
        t = mx.transpose(mx.array(a), perm) * 2.0 + 1.0
        tn = a.transpose(perm) * np.float32(2) + np.float32(1)
        checks = [
            (mx.reshape(t, (-1,)), tn.reshape(-1)),
            (mx.sum(t, axis=-1), tn.sum(axis=-1)),
            (mx.sum(t, axis=0), tn.sum(axis=0)),
            (t[..., ::2], tn[..., ::2]),
            (mx.exp(t) - t, np.exp(tn) - tn),
            (t + mx.array(np.ones(tn.shape, np.float32)), tn + 1),
            (mx.concatenate([t, t], axis=0), np.concatenate([tn, tn], axis=0)),
            (mx.cumsum(t, axis=-1), np.cumsum(tn, axis=-1)),
        ]
        if nd >= 2:
            m = tn.reshape(-1, tn.shape[-1])
            checks.append((mx.reshape(t, m.shape) @ mx.array(m.T), m @ m.T))
        for got, want in checks:
            np.testing.assert_allclose(
                np.asarray(got),
                want,
                rtol=1e-5,
                atol=1e-5,
                err_msg=f"trial {trial}: {shape} {perm}",
            )


def test_a_transposed_intermediate_is_donated():
    """The result of an op on a transposed intermediate nothing else holds is written into
    the intermediate's buffer, kept in its layout: the eval's peak grows by one buffer."""
    base = mx.random.normal((1 << 11, 1 << 11))  # 16 MiB
    mx.eval(base)
    mx.synchronize()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    y = mx.transpose(base + 1) * 2
    mx.eval(y)
    grown = (mx.get_peak_memory() - before) / base.nbytes
    assert grown < 1.5, grown
    np.testing.assert_allclose(
        np.asarray(y)[:3, :3], (np.asarray(base)[:3, :3].T + 1) * 2, rtol=1e-6
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda a, m: a.transpose(2, 0, 1),
        lambda a, m: a[:, ::2, 1:],
        lambda a, m: m.broadcast_to(a[:1], (300, 40, 64)),
        lambda a, m: m.broadcast_to(a[0, 0, 0], (300, 40, 64)),
    ],
)
def test_large_strided_copies_split_over_threads(make):
    # Copies of ~770k elements: the strided copy kernel splits its outermost axis.
    base = np.random.default_rng(0).standard_normal((300, 40, 64)).astype(np.float32)
    want = make(base, np)
    view = make(mx.array(base), mx)
    np.testing.assert_array_equal(np.array(mx.contiguous(view)), want)
    np.testing.assert_array_equal(np.array(view.astype(mx.float64)), want.astype(np.float64))
