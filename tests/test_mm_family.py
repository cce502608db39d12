"""gather_mm, segmented_mm, block_masked_mm (and addmm's edge cases) against NumPy: batch
shapes, broadcasting, vectors, transposed views, half and double precision, both of
gather_mm's compositions, errors."""

import fastsync as mx
import numpy as np
import pytest

TOL = {"float16": 5e-3, "bfloat16": 3e-2, "float32": 1e-5, "float64": 1e-12}


def make(rng, shape, dtype="float32"):
    """A fastsync array of `dtype` and the float64 NumPy values it holds exactly."""
    vals = rng.standard_normal(shape)
    x = mx.array(vals) if dtype == "float64" else mx.array(vals.astype(np.float32))
    x = x.astype(getattr(mx, dtype))
    return x, np.array(x.astype(mx.float64))


def check(got, want, dtype="float32"):
    assert got.dtype == getattr(mx, dtype)
    got = np.array(got.astype(mx.float64))
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * scale)


# --- gather_mm -------------------------------------------------------------------------------


def np_gather_mm(a, b, lhs=None, rhs=None):
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    a = a[None] if a_vec else a
    b = b[:, None] if b_vec else b
    a3 = a.reshape(-1, *a.shape[-2:])
    b3 = b.reshape(-1, *b.shape[-2:])
    lhs = np.arange(len(a3)).reshape(a.shape[:-2]) if lhs is None else np.asarray(lhs)
    rhs = np.arange(len(b3)).reshape(b.shape[:-2]) if rhs is None else np.asarray(rhs)
    out = a3[lhs] @ b3[rhs]
    if a_vec:
        out = out[..., 0, :]
    if b_vec:
        out = out[..., 0]
    return out


GATHER_CASES = [
    # batch of a, lhs_indices, batch of b, rhs_indices
    ((1,), [0], (3,), [2, 1]),
    ((1,), None, (3,), [2, 1]),
    ((2,), None, (3,), [2, 1]),
    ((3,), [0, 2], (1,), [0]),
    ((5,), [0, 2], (3,), [2, 1]),
    ((5,), [4, 4, 1, 0], (3,), [0, 0, 0, 2]),
    ((4, 2), [[7, 6], [5, 4], [1, 2]], (4, 1), [[2], [0], [1]]),
    ((2, 3), [[5], [0]], (), None),
    ((), None, (6,), [[5, 1], [0, 3]]),
]


@pytest.mark.parametrize("case", range(len(GATHER_CASES)))
@pytest.mark.parametrize("mkn", [(8, 8, 8), (5, 1, 7), (1, 6, 3)])
def test_gather_mm_matches_numpy(case, mkn):
    batch_a, lhs, batch_b, rhs = GATHER_CASES[case]
    m, n, k = mkn
    rng = np.random.default_rng(case)
    a, an = make(rng, (*batch_a, m, k))
    b, bn = make(rng, (*batch_b, k, n))
    li = None if lhs is None else mx.array(lhs, dtype=mx.uint32)
    ri = None if rhs is None else mx.array(rhs)
    check(mx.gather_mm(a, b, li, ri), np_gather_mm(an, bn, lhs, rhs))
    check(mx.gather_mm(a, b, lhs_indices=li, rhs_indices=ri, sorted_indices=True),
          np_gather_mm(an, bn, lhs, rhs))


def test_gather_mm_mixture_of_experts():
    # x (T, 1, 1, D) against E experts (E, D, F), k experts per token: few matrices reused
    # by many indices, the shape the all-pairs composition serves.
    rng = np.random.default_rng(1)
    t, d, f, e, k = 96, 32, 24, 6, 2
    x, xn = make(rng, (t, 1, 1, d))
    w, wn = make(rng, (e, f, d))
    idx = rng.integers(0, e, (t, k))
    wt, wtn = mx.swapaxes(w, -1, -2), np.swapaxes(wn, -1, -2)
    out = mx.gather_mm(x, wt, None, mx.array(idx))
    assert out.shape == (t, k, 1, f)
    check(out, xn @ wtn[idx])
    # Sorted indices give the same products.
    order = np.argsort(idx.reshape(-1), kind="stable")
    xs = x.reshape(t, 1, d)[mx.array(order // k)]
    got = mx.gather_mm(xs, wt, rhs_indices=mx.array(idx.reshape(-1)[order]),
                       sorted_indices=True)
    check(got, (xn.reshape(t, 1, d)[order // k]) @ wtn[idx.reshape(-1)[order]])
    # Both indices given, every pair reused.
    li = rng.integers(0, t, (200,))
    ri = rng.integers(0, e, (200,))
    check(mx.gather_mm(x.reshape(t, 1, d), wt, mx.array(li), mx.array(ri)),
          xn.reshape(t, 1, d)[li] @ wtn[ri])


def test_gather_mm_views_vectors_and_scalar_index():
    rng = np.random.default_rng(2)
    a, an = make(rng, (5, 32, 32))
    b, bn = make(rng, (3, 32, 32))
    # Broadcast and transposed batch views: flat indices count over the view's batch.
    av = mx.broadcast_to(a.reshape(5, 1, 32, 32), (5, 4, 32, 32))
    bv = mx.swapaxes(mx.broadcast_to(b.reshape(1, 3, 32, 32), (2, 3, 32, 32)), 1, 0)
    anv = np.broadcast_to(an.reshape(5, 1, 32, 32), (5, 4, 32, 32))
    bnv = np.broadcast_to(bn.reshape(1, 3, 32, 32), (2, 3, 32, 32)).swapaxes(1, 0)
    check(mx.gather_mm(av, bv, mx.array([0, 13, 12]), mx.array([0, 3, 5])),
          np_gather_mm(anv, bnv, [0, 13, 12], [0, 3, 5]))
    # A row vector per batch and transposed b.
    a1, a1n = make(rng, (5, 1, 32))
    b1, b1n = make(rng, (3, 16, 32))
    check(mx.gather_mm(a1, mx.swapaxes(b1, -1, -2), mx.array([3, 1]), mx.array([0, 2])),
          a1n[[3, 1]] @ np.swapaxes(b1n, -1, -2)[[0, 2]])
    # 1-D operands drop their axis, as in matmul.
    v, vn = make(rng, (32,))
    check(mx.gather_mm(v, b, None, mx.array([2, 0])), np_gather_mm(vn, bn, None, [2, 0]))
    check(mx.gather_mm(a, v, mx.array([1]), None), np_gather_mm(an, vn, [1], None))
    # A scalar index and no batch on a.
    w, wn = make(rng, (8, 7, 32))
    got = mx.gather_mm(a[0], mx.swapaxes(w, -1, -2), None, mx.array(3, dtype=mx.uint32))
    check(got, an[0] @ wn[3].T)
    # No indices at all: matmul.
    check(mx.gather_mm(a, a), an @ an)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_gather_mm_dtypes(dtype):
    rng = np.random.default_rng(3)
    a, an = make(rng, (4, 6, 16), dtype)
    b, bn = make(rng, (3, 16, 5), dtype)
    check(mx.gather_mm(a, b, mx.array([3, 0, 1]), mx.array([2, 2, 0])),
          an[[3, 0, 1]] @ bn[[2, 2, 0]], dtype)
    # Mixed operands promote as matmul does.
    c = mx.gather_mm(a, b.astype(mx.float32), mx.array([1]), mx.array([0]))
    assert c.dtype == (mx.float64 if dtype == "float64" else mx.float32)


def test_gather_mm_errors():
    a, b = mx.ones((2, 4, 4)), mx.ones((3, 4, 4))
    # Evaluated first: an array computed in an eval that fails after it carries that
    # eval's error (the runtime's rule), and the operands are reused below.
    mx.eval(a, b)
    with pytest.raises(ValueError, match=r"\[gather_mm\] only floating point"):
        mx.gather_mm(a.astype(mx.int32), b.astype(mx.int32), mx.array([0]), None)
    with pytest.raises(ValueError, match=r"\[gather_mm\] rhs_indices must be integers"):
        mx.gather_mm(a, b, None, mx.array([0.0]))
    with pytest.raises(ValueError, match=r"\[gather_mm\] the last dimension"):
        mx.gather_mm(a, mx.ones((3, 5, 4)), None, mx.array([0]))
    with pytest.raises(ValueError, match=r"\[gather_mm\] lhs_indices and rhs_indices"):
        mx.gather_mm(a, b, mx.array([0, 1]), mx.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[gather_mm\] operands"):
        mx.gather_mm(mx.array(1.0), b, None, mx.array([0]))
    with pytest.raises(Exception, match="out of"):
        mx.eval(mx.gather_mm(a, b, None, mx.array([7])))
    # Still usable afterwards.
    check(mx.gather_mm(a, b, None, mx.array([1, 2])), np.full((2, 4, 4), 4.0))


# --- segmented_mm ----------------------------------------------------------------------------


def np_segmented_mm(a, b, segments):
    segments = np.asarray(segments)
    out = [a[:, s:e] @ b[s:e, :] for s, e in segments.reshape(-1, 2)]
    return np.stack(out).reshape(*segments.shape[:-1], a.shape[0], b.shape[1])


SEGMENTS = [
    [[0, 0], [0, 20]],
    [[0, 10], [10, 20]],
    [[0, 3], [3, 7], [7, 7], [7, 20], [15, 5]],
    [[2, 9]],
]


@pytest.mark.parametrize("mn", [(6, 9), (9, 6), (1, 1)])
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt"])
@pytest.mark.parametrize("seg", range(len(SEGMENTS)))
def test_segmented_mm_matches_numpy(mn, layout, seg):
    m, n = mn
    rng = np.random.default_rng(seg)
    a, an = make(rng, (20, m) if layout[0] == "t" else (m, 20))
    b, bn = make(rng, (n, 20) if layout[1] == "t" else (20, n))
    if layout[0] == "t":
        a, an = a.T, an.T
    if layout[1] == "t":
        b, bn = b.T, bn.T
    s = SEGMENTS[seg]
    for dt in (mx.uint32, mx.int32, mx.int64):
        check(mx.segmented_mm(a, b, mx.array(s, dtype=dt)), np_segmented_mm(an, bn, s))


def test_segmented_mm_batched_segments_and_dtypes():
    rng = np.random.default_rng(4)
    cuts = np.sort(rng.integers(0, 100, 15))
    bounds = np.concatenate([[0], cuts, [100]])
    segs = np.stack([bounds[:-1], bounds[1:]], axis=-1).reshape(2, 2, 4, 2)
    a, an = make(rng, (10, 100))
    out = mx.segmented_mm(a, a.T, mx.array(segs))
    assert out.shape == (2, 2, 4, 10, 10)
    check(out, np_segmented_mm(an, an.T, segs))
    # The segments of a partition add up to the whole product.
    check(out.sum(axis=(0, 1, 2)), an @ an.T)
    for dtype in ("float16", "bfloat16", "float64"):
        x, xn = make(rng, (5, 30), dtype)
        y, yn = make(rng, (30, 4), dtype)
        check(mx.segmented_mm(x, y, mx.array([[0, 12], [12, 30]])),
              np_segmented_mm(xn, yn, [[0, 12], [12, 30]]), dtype)


def test_segmented_mm_errors():
    a = mx.ones((2, 10, 10))
    s = mx.array([[0, 5], [5, 10]]).astype(mx.uint32)
    with pytest.raises(ValueError, match=r"\[segmented_mm\] a and b must be matrices"):
        mx.segmented_mm(a, a, s)
    m = mx.ones((4, 10))
    with pytest.raises(ValueError, match=r"\[segmented_mm\] segments must have shape"):
        mx.segmented_mm(m, m.T, mx.array([0, 5, 10]))
    with pytest.raises(ValueError, match=r"\[segmented_mm\] segments must be integers"):
        mx.segmented_mm(m, m.T, mx.array([[0.0, 5.0]]))
    with pytest.raises(ValueError, match=r"\[segmented_mm\] the last dimension"):
        mx.segmented_mm(m, m, s)
    with pytest.raises(ValueError, match=r"\[segmented_mm\] only floating point"):
        mx.segmented_mm(m.astype(mx.int32), m.T.astype(mx.int32), s)
    check(mx.segmented_mm(m, m.T, s), np.full((2, 4, 4), 5.0))


# --- block_masked_mm -------------------------------------------------------------------------


def expand(mask, bs, rows, cols):
    """A block mask (..., ty, tx) spread over its blocks and cropped to rows x cols."""
    mask = np.repeat(np.repeat(mask, bs, axis=-2), bs, axis=-1)
    return mask[..., :rows, :cols]


def np_block_masked_mm(a, b, bs, mask_out=None, mask_lhs=None, mask_rhs=None):
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]

    def apply(x, mask, rows, cols):
        if mask is None:
            return x
        e = expand(mask, bs, rows, cols)
        return np.where(e, x, 0.0) if e.dtype == np.bool_ else x * e

    out = apply(a, mask_lhs, m, k) @ apply(b, mask_rhs, k, n)
    return apply(out, mask_out, m, n)


def make_masks(rng, shape, kind):
    vals = rng.standard_normal(shape)
    if kind == "bool":
        return vals < 0.3
    return np.where(vals < 0.3, 0.0, vals).astype(np.float32)


BLOCK_SHAPES = [
    # M, N, K, block size, batch of a, batch of b
    (16, 16, 16, 32, (), ()),
    (64, 64, 16, 32, (), ()),
    (128, 96, 128, 32, (), ()),
    (130, 70, 100, 64, (), ()),
    (1, 128, 128, 32, (), ()),
    (256, 1, 128, 64, (), ()),
    (64, 64, 64, 32, (1, 2), (2, 2)),
    (40, 24, 56, 16, (3, 1), (2,)),
]


@pytest.mark.parametrize("shape", range(len(BLOCK_SHAPES)))
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_block_masked_mm_matches_numpy(shape, kind):
    m, n, k, bs, batch_a, batch_b = BLOCK_SHAPES[shape]
    rng = np.random.default_rng(shape)
    batch = np.broadcast_shapes(batch_a, batch_b)
    a, an = make(rng, (*batch_a, m, k))
    b, bn = make(rng, (*batch_b, k, n))
    tm, tn, tk = (-(-m // bs), -(-n // bs), -(-k // bs))
    lhs = make_masks(rng, (*batch_a, tm, tk), kind)
    rhs = make_masks(rng, (*batch_b, tk, tn), kind)
    out = make_masks(rng, (*batch, tm, tn), kind)
    for masks in [(out, lhs, rhs), (out, None, None), (None, lhs, rhs), (None, lhs, None)]:
        mx_masks = [None if x is None else mx.array(x) for x in masks]
        got = mx.block_masked_mm(a, b, bs, *mx_masks)
        check(got, np_block_masked_mm(an, bn, bs, *masks))


def test_block_masked_mm_transposed_views_and_vectors():
    rng = np.random.default_rng(5)
    a, an = make(rng, (128, 256))
    b, bn = make(rng, (128, 1))
    mask_a = make_masks(rng, (4, 8), "float")
    mask_b = np.ones((4, 1), dtype=np.bool_)
    mask_c = make_masks(rng, (8, 1), "float")
    got = mx.block_masked_mm(a.T, b, 32, mx.array(mask_c), mx.array(mask_a.T), mx.array(mask_b))
    check(got, np_block_masked_mm(an.T, bn, 32, mask_c, mask_a.T, mask_b))
    # 1-D operands drop their axis, as in matmul.
    v, vn = make(rng, (128,))
    got = mx.block_masked_mm(v, a, 32, None, mx.array([[True, False, True, True]]), None)
    want = np_block_masked_mm(vn[None], an, 32, None, np.array([[True, False, True, True]]))[0]
    check(got, want)
    # No masks: matmul.
    check(mx.block_masked_mm(a.T, b), an.T @ bn)
    # A mask that broadcasts over the batch.
    x, xn = make(rng, (3, 64, 64))
    mk = np.array([[True, False], [False, True]])
    check(mx.block_masked_mm(x, x, 32, mx.array(mk)), np_block_masked_mm(xn, xn, 32, mk))


def test_block_masked_mm_bool_masks_select():
    # A block masked out with a bool mask contributes exact zeros, even where it holds inf.
    a = np.ones((64, 64), dtype=np.float32)
    a[:32, :32] = np.inf
    mask = np.array([[False, True], [True, True]])
    got = np.array(mx.block_masked_mm(mx.array(a), mx.ones((64, 64)), 32, None, mx.array(mask)))
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got[:32], 32.0)
    np.testing.assert_array_equal(got[32:], 64.0)
    out = np.array(mx.block_masked_mm(mx.array(a), mx.ones((64, 64)), 32, mx.array(mask)))
    np.testing.assert_array_equal(out[:32, :32], 0.0)
    assert np.isinf(out[:32, 32:]).all()


def test_block_masked_mm_dtypes():
    rng = np.random.default_rng(6)
    for dtype in ("float16", "bfloat16", "float64"):
        a, an = make(rng, (48, 40), dtype)
        b, bn = make(rng, (40, 24), dtype)
        mo = make_masks(rng, (3, 2), "bool")
        ml = make_masks(rng, (3, 3), "float")
        got = mx.block_masked_mm(a, b, 16, mx.array(mo), mx.array(ml))
        check(got, np_block_masked_mm(an, bn, 16, mo, ml), dtype)


def test_block_masked_mm_errors():
    a = mx.ones((64, 64))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\] mask_out with shape \(3, 2\)"):
        mx.block_masked_mm(a, a, 32, mx.ones((3, 2), dtype=mx.bool_))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\] mask_lhs must be bool or float"):
        mx.block_masked_mm(a, a, 32, None, mx.ones((2, 2), dtype=mx.int32))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\] block_size must be positive"):
        mx.block_masked_mm(a, a, 0, mx.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\] the last dimension"):
        mx.block_masked_mm(a, mx.ones((32, 64)), 32, mx.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\] the batch shapes"):
        mx.block_masked_mm(mx.ones((2, 64, 64)), mx.ones((3, 64, 64)), 32, mx.ones((2, 2)))
    check(mx.block_masked_mm(a, a, 32, mx.ones((2, 2))), np.full((64, 64), 64.0))


# --- addmm's edge cases (MLX's forms) ---------------------------------------------------------


def test_addmm_edge_cases():
    out = mx.addmm(mx.array(1.0), mx.array([], dtype=mx.float32), mx.array([], dtype=mx.float32))
    assert out.shape == () and out.item() == 1.0
    c = mx.array(np.arange(4, dtype=np.float32).reshape(2, 2))
    for alpha, beta in [(0.0, 1.0), (0.0, 0.5), (0.0, 0.0), (1.0, 2.0)]:
        got = mx.addmm(c, mx.ones((2, 0)), mx.ones((0, 2)), alpha=alpha, beta=beta)
        np.testing.assert_array_equal(np.array(got), beta * np.array(c))
    got = mx.addmm(mx.ones((2, 5, 5)), mx.ones((2, 5, 0)), mx.ones((2, 0, 5)), 0.0, 3.0)
    np.testing.assert_array_equal(np.array(got), 3.0)
    # A transposed c, and one broadcast over rows.
    a = mx.ones((10, 5)).T
    got = mx.addmm(a, mx.ones((5, 5)), a, beta=2.0, alpha=0.5)
    np.testing.assert_array_equal(np.array(got), 2.0 + 0.5 * 5)
    got = mx.addmm(mx.ones((1, 5)), mx.ones((5, 5)), mx.ones((5, 5)), beta=2.0, alpha=0.5)
    np.testing.assert_array_equal(np.array(got), 2.0 + 0.5 * 5)
    # beta == 0 reads nothing of c, NaN included (as BLAS).
    got = mx.addmm(mx.full((2, 2), np.nan), mx.ones((2, 3)), mx.ones((3, 2)), beta=0.0)
    np.testing.assert_array_equal(np.array(got), 3.0)
    with pytest.raises(ValueError, match=r"\[addmm\]"):
        mx.addmm(mx.zeros((2, 2, 2)), mx.zeros((2, 2)), mx.zeros((2, 2)))
