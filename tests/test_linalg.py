"""matmul, addmm and @ against NumPy: 1-D operands, batch broadcasting, transposed and
strided views, half and double precision, errors."""

import threading

import fastsync as mx
import numpy as np
import pytest
from helpers import FLOATS
from hypothesis import given, settings
from hypothesis import strategies as st

# Half types compute in float32 and round once: a result may sit one unit in
# the last place away from the correctly rounded one.
TOL = {"float16": 4e-3, "bfloat16": 1.6e-2, "float32": 2e-5, "float64": 1e-12}


def make(rng, shape, dtype):
    """A fastsync array of `dtype` and the exact float64 NumPy values it holds."""
    vals = np.asarray(rng.standard_normal(shape))
    if dtype == "float64":
        x = mx.array(vals, mx.float64)
    else:
        x = mx.array(vals.astype(np.float32)).astype(getattr(mx, dtype))
    return x, np.array(x.astype(mx.float64))


def check(got, want, dtype):
    assert got.dtype == getattr(mx, dtype)
    got = np.array(got.astype(mx.float64))
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


def layout(x, kind):
    """The same values as `x` (>= 2-D), laid out as the named kind of view."""
    dt = x.dtype
    base = np.array(x.astype(mx.float64 if dt == mx.float64 else mx.float32))
    nd = base.ndim
    if kind == "contiguous":
        return x
    if kind == "transposed":  # column-major matrices: BLAS reads them transposed
        axes = list(range(nd - 2)) + [nd - 1, nd - 2]
        return mx.transpose(mx.array(np.ascontiguousarray(base.transpose(axes)), dt), axes)
    if kind == "row_strided":  # every other row: BLAS reads them with a larger ld
        big = np.zeros(base.shape[:-2] + (2 * base.shape[-2], base.shape[-1]), base.dtype)
        big[..., ::2, :] = base
        return mx.array(big, dt)[..., ::2, :]
    if kind == "col_strided":  # neither row- nor column-contiguous: staged copy
        big = np.zeros(base.shape[:-1] + (2 * base.shape[-1],), base.dtype)
        big[..., ::2] = base
        return mx.array(big, dt)[..., ::2]
    if kind == "reversed":  # negative strides: staged copy
        return mx.array(np.ascontiguousarray(base[..., ::-1, :]), dt)[..., ::-1, :]
    raise AssertionError(kind)


LAYOUTS = ["contiguous", "transposed", "row_strided", "col_strided", "reversed"]


@st.composite
def product_shapes(draw):
    m, k, n = draw(st.integers(0, 5)), draw(st.integers(0, 6)), draw(st.integers(0, 5))
    batch = draw(st.lists(st.integers(0, 3), max_size=3))

    def own_batch():
        cut = draw(st.integers(0, len(batch)))
        return tuple(1 if draw(st.booleans()) else d for d in batch[cut:])

    a = (k,) if draw(st.integers(0, 4)) == 0 else own_batch() + (m, k)
    b = (k,) if draw(st.integers(0, 4)) == 0 else own_batch() + (k, n)
    return a, b


@settings(max_examples=150, deadline=None)
@given(
    product_shapes(),
    st.sampled_from(FLOATS),
    st.sampled_from(LAYOUTS),
    st.sampled_from(LAYOUTS),
    st.integers(0, 2**31),
)
def test_matmul_property(shapes, dtype, la, lb, seed):
    rng = np.random.default_rng(seed)
    (x, a), (y, b) = make(rng, shapes[0], dtype), make(rng, shapes[1], dtype)
    if x.ndim >= 2:
        x = layout(x, la)
    if y.ndim >= 2:
        y = layout(y, lb)
    want = np.matmul(a, b)
    check(mx.matmul(x, y), want, dtype)
    check(x @ y, want, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    "sa,sb",
    [
        ((4,), (4,)),
        ((4,), (4, 3)),
        ((5, 4), (4,)),
        ((4,), (2, 4, 3)),
        ((2, 5, 4), (4,)),
        ((2, 1, 5, 4), (3, 4, 2)),
        ((5, 4), (3, 4, 2)),
        ((3, 5, 4), (4, 2)),
        ((1, 1), (1, 1)),
        ((0, 4), (4, 3)),
        ((3, 0), (0, 2)),
        ((2, 3, 0), (0,)),
        ((64, 48), (48, 80)),
    ],
)
def test_matmul_shapes(sa, sb, dtype):
    rng = np.random.default_rng(1)
    (x, a), (y, b) = make(rng, sa, dtype), make(rng, sb, dtype)
    got = mx.matmul(x, y)
    want = np.matmul(a, b)
    assert got.shape == want.shape
    check(got, want, dtype)


def test_matmul_large_float32_and_float64():
    rng = np.random.default_rng(2)
    for dt in [np.float32, np.float64]:
        a = rng.standard_normal((300, 200)).astype(dt)
        b = rng.standard_normal((200, 150)).astype(dt)
        mdt = mx.float64 if dt == np.float64 else mx.float32
        got = np.array(mx.array(a, mdt) @ mx.array(b, mdt))
        assert got.dtype == dt
        np.testing.assert_allclose(
            got,
            a @ b,
            rtol=1e-4 if dt == np.float32 else 1e-12,
            atol=1e-3 if dt == np.float32 else 1e-10,
        )
        # Transposed views both sides.
        got = np.array(mx.array(a, mdt).T @ mx.array(a, mdt))
        np.testing.assert_allclose(got, a.T @ a, rtol=1e-4, atol=1e-3)


def test_batch_folded_into_rows():
    """x @ W with x's batch stacked on its rows is one tall gemm; rows may be spaced."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 6, 5, 7)).astype(np.float32)
    w = rng.standard_normal((7, 3)).astype(np.float32)
    x, y = mx.array(a), mx.array(w)
    for idx in [
        (Ellipsis,),
        (slice(None), slice(None), slice(None, None, 2)),
        (slice(None, None, 2),),
        (slice(None), slice(1, 4)),
    ]:
        got = np.array(x[idx] @ y)
        np.testing.assert_allclose(got, a[idx] @ w, rtol=1e-5, atol=1e-5)
    # A broadcast batch in b is shared too.
    yb = mx.broadcast_to(y, (6, 7, 3))
    np.testing.assert_allclose(np.array(x @ yb), a @ w, rtol=1e-5, atol=1e-5)
    # A broadcast batch in a (stride 0) cannot be stacked.
    xb = mx.broadcast_to(x[0, 0], (3, 5, 7))
    np.testing.assert_allclose(
        np.array(xb @ y), np.broadcast_to(a[0, 0], (3, 5, 7)) @ w, rtol=1e-5, atol=1e-5
    )


def test_broadcast_inside_matrix_is_staged():
    rng = np.random.default_rng(4)
    row = rng.standard_normal((5,)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    x = mx.broadcast_to(mx.array(row), (4, 5))  # every row the same: row stride 0
    np.testing.assert_allclose(
        np.array(x @ mx.array(b)), np.broadcast_to(row, (4, 5)) @ b, rtol=1e-5, atol=1e-5
    )
    col = mx.broadcast_to(mx.array(b[:, :1]), (5, 3))  # column stride 0
    np.testing.assert_allclose(
        np.array(mx.array(b.T) @ col), b.T @ np.broadcast_to(b[:, :1], (5, 3)), rtol=1e-5, atol=1e-5
    )


def test_transposed_operands_are_not_copied():
    n = 512
    rng = np.random.default_rng(5)
    # Made by an op, so they live on the default device (a GPU copy of a host array would
    # count as extra memory); one product first, so that a GPU's BLAS workspace does too.
    a = mx.array(rng.standard_normal((n, n)).astype(np.float32)) * 1
    b = mx.array(rng.standard_normal((n, n)).astype(np.float32)) * 1
    mx.eval(a, b, a @ b)

    def extra_peak(f):
        mx.synchronize()
        base = mx.get_active_memory()
        mx.reset_peak_memory()
        out = f()
        mx.eval(out)
        mx.synchronize()
        return mx.get_peak_memory() - base

    # A copy of an operand would add n * n * 4 bytes; the GPU's libraries may add a small
    # buffer of their own (64 KiB for the transposed product on an H100), well below that.
    out_bytes = n * n * 4
    bound = out_bytes + out_bytes // 4
    assert extra_peak(lambda: a.T @ b.T) <= bound
    assert extra_peak(lambda: a[::2] @ b[: n // 2].T) <= bound
    # A view BLAS cannot read is copied (this is what the check above would see).
    assert extra_peak(lambda: a[:, ::2] @ b[::2]) > bound


def test_batch_of_one_element_matrices_with_permuted_batch_axes():
    # The batch loop must visit batches in the order the output is written, also when a
    # permuted operand gives its last batch axes unit strides (1x1 matrices), which the
    # strided-loop planner would otherwise walk in tiles.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 64, 1, 1)).astype(np.float32)
    y = rng.standard_normal((64, 64, 1, 1)).astype(np.float32)
    a = mx.array(x).transpose(1, 0, 2, 3)
    got = np.array(a @ mx.array(y))
    np.testing.assert_allclose(got, x.transpose(1, 0, 2, 3) @ y, rtol=1e-6, atol=1e-6)


def test_mixed_dtypes_promote():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert (mx.array(a) @ mx.array(a.T, dtype=mx.float64)).dtype == mx.float64
    assert (mx.array(a, dtype=mx.float16) @ mx.array(a.T, dtype=mx.bfloat16)).dtype == mx.float32
    got = mx.array(a.astype(np.int8)) @ mx.array(a.T)
    assert got.dtype == mx.float32
    np.testing.assert_allclose(np.array(got), a @ a.T)
    got = mx.array(a, dtype=mx.float16) @ mx.array(a.T, dtype=mx.float16)
    assert got.dtype == mx.float16
    np.testing.assert_array_equal(np.array(got), (a @ a.T).astype(np.float16))


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 9),
    k=st.sampled_from([1, 7, 8, 64, 1000, 4096]),
    n=st.sampled_from([1, 9, 300]),
    dtype=st.sampled_from(["float32", "float16", "bfloat16"]),
    offset=st.booleans(),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_few_rows_times_transposed_weight(rows, k, n, dtype, offset, bias, seed):
    """x @ W.T and addmm(b, x, W.T) with a handful of rows (a decoding step's shape, which
    the GPU computes with its matrix-vector kernel up to 8 rows): long and odd K, W starting
    at an unaligned offset of a larger buffer (the kernel's scalar loads), a leading batch
    axis of one, alpha and beta."""
    rng = np.random.default_rng(seed)
    x, xn = make(rng, (1, rows, k), dtype)
    big, bign = make(rng, (n * k + 1,), dtype)
    start = 1 if offset else 0
    w = big[start : start + n * k].reshape(n, k)
    wn = bign[start : start + n * k].reshape(n, k)
    if bias:
        c, cn = make(rng, (n,), dtype)
        got = mx.addmm(c, x, w.T, alpha=0.5, beta=2.0)
        want = 0.5 * (xn @ wn.T) + 2.0 * cn
    else:
        got, want = x @ w.T, xn @ wn.T
    assert got.dtype == getattr(mx, dtype) and got.shape == (1, rows, n)
    # Float32 sums of K products, rounded once: the error grows with the terms' magnitudes.
    mag = np.abs(xn) @ np.abs(wn).T + (2 * np.abs(cn) if bias else 0)
    err = np.abs(np.array(got.astype(mx.float64)) - want)
    tol = {"float32": 1e-6, "float16": 2e-3, "bfloat16": 1e-2}[dtype]
    assert (err <= tol * (mag + 1)).all()


def test_half_precision_rounds_once():
    # Sums of float16 values are exact in float32 and rounded once; a float16
    # accumulator would round after every term and lose the small ones.
    y = mx.ones((3, 1), dtype=mx.float16)
    x = mx.array([[2048.0, 1.0, 1.0]], dtype=mx.float16)
    assert (x @ y).tolist() == [[2050.0]]
    x = mx.array([[1.0, 2.0**-11, 2.0**-11]], dtype=mx.float16)
    assert (x @ y).tolist() == [[1.0 + 2.0**-10]]
    x = mx.array([[256.0, 1.0, 1.0]], dtype=mx.bfloat16)
    assert (x @ y.astype(mx.bfloat16)).tolist() == [[258.0]]


def test_operator_with_other_operands():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = mx.array(a)
    np.testing.assert_allclose(np.array(x @ a.T), a @ a.T)  # __matmul__ with NumPy
    np.testing.assert_allclose(np.array(a.T.tolist() @ x), a.T @ a)  # __rmatmul__ with a list
    # @= updates the array object in place, as MLX's in-place operators do: x sees it too.
    y = x
    y @= mx.array(a.T @ a)
    np.testing.assert_allclose(np.array(y), a @ a.T @ a)  # small integers: exact
    assert x is y


def test_streams_and_concurrency():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((200, 300)).astype(np.float32)
    b = rng.standard_normal((300, 100)).astype(np.float32)
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    x, y = mx.array(a), mx.array(b)
    outs = [
        mx.matmul(x, y, stream=s1),
        mx.matmul(x, y, stream=s2),
        mx.addmm(mx.ones((100,)), x, y, stream=s1),
        mx.matmul(x[:64], y, stream=s2),
    ]
    mx.async_eval(*outs)
    want = a @ b
    for got, w in zip(outs, [want, want, want + 1, want[:64]], strict=True):
        np.testing.assert_allclose(np.array(got), w, rtol=1e-4, atol=1e-4)

    # Several Python threads, each evaluating products on its own stream.
    errors = []

    def work(i):
        try:
            s = mx.new_stream(mx.cpu)
            z = mx.array(a[:, :100] * (i + 1))
            for _ in range(20):
                z = mx.matmul(z, mx.array(b[:100, :100]) / 10, stream=s)
            mx.eval(z)
            w = a[:, :100] * (i + 1)
            for _ in range(20):
                w = w @ (b[:100, :100] / 10)
            np.testing.assert_allclose(np.array(z), w, rtol=1e-3, atol=1e-3)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_threaded_products_of_different_layouts_on_many_streams():
    # Row-major (NN) and column-major (TN) products large enough for OpenBLAS's
    # pool, from four streams at once (OpenBLAS issue 5836: without one lock
    # over all variants, such calls could corrupt each other).
    rng = np.random.default_rng(9)
    m = 1 << 16
    nn, w = rng.standard_normal((m, 4)), rng.standard_normal((4, 2))
    tn = rng.standard_normal((4, m)).T
    f64 = mx.float64
    x, y = mx.array(nn, f64), mx.array(w, f64)
    xt = mx.transpose(mx.array(np.ascontiguousarray(tn.T), f64))
    streams = [mx.new_stream(mx.cpu) for _ in range(4)]
    outs = [mx.matmul(x if i % 2 else xt, y, stream=streams[i % 4]) for i in range(24)]
    mx.async_eval(*outs)
    for i, o in enumerate(outs):
        np.testing.assert_allclose(np.array(o), (nn if i % 2 else tn) @ w, rtol=1e-12, atol=1e-12)


def test_dependent_small_matmul_loop():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((64, 64)).astype(np.float32) / 8
    x = mx.array(a)
    z, w = x, a
    for _ in range(50):
        z = z @ x
        w = w @ a
    mx.async_eval(z)
    np.testing.assert_allclose(np.array(z), w, rtol=1e-3, atol=1e-6)


@settings(max_examples=80, deadline=None)
@given(
    product_shapes(),
    st.sampled_from(FLOATS),
    st.sampled_from([-1.5, 0.0, 1.0, 2.0]),
    st.sampled_from([-0.5, 0.0, 1.0, 3.0]),
    st.integers(0, 2**31),
    st.data(),
)
def test_addmm_property(shapes, dtype, alpha, beta, seed, data):
    rng = np.random.default_rng(seed)
    (x, a), (y, b) = make(rng, shapes[0], dtype), make(rng, shapes[1], dtype)
    prod = np.matmul(a, b)
    cut = data.draw(st.integers(0, prod.ndim))
    cshape = tuple(1 if data.draw(st.booleans()) else d for d in prod.shape[cut:])
    z, c = make(rng, cshape, dtype)
    got = mx.addmm(z, x, y, alpha=alpha, beta=beta)
    want = beta * c + alpha * prod
    assert got.shape == prod.shape
    scale = 1 + abs(alpha) + abs(beta)
    np.testing.assert_allclose(
        np.array(got.astype(mx.float64)), want, rtol=TOL[dtype] * scale, atol=TOL[dtype] * scale
    )
    assert got.dtype == getattr(mx, dtype)


def test_addmm_basics():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    c = rng.standard_normal((4, 3)).astype(np.float32)
    x, y, z = mx.array(a), mx.array(b), mx.array(c)
    np.testing.assert_allclose(np.array(mx.addmm(z, x, y)), c + a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.array(mx.addmm(z, x, y, 0.5, 2.0)), 2 * c + 0.5 * a @ b, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        np.array(mx.addmm(z, x.T.T, y, beta=0.0)), a @ b, rtol=1e-5, atol=1e-5
    )
    # The user's c is never written into; a temporary c may be (donation).
    mx.eval(mx.addmm(z, x, y))
    np.testing.assert_array_equal(np.array(z), c)
    got = mx.addmm(z * 1, x, y, beta=2.0)
    np.testing.assert_allclose(np.array(got), 2 * c + a @ b, rtol=1e-5, atol=1e-5)
    # A Python scalar addend takes the product's dtype.
    got = mx.addmm(1.0, mx.array(a, dtype=mx.float16), mx.array(b, dtype=mx.float16))
    assert got.dtype == mx.float16
    # 1-D operands and an empty inner dimension.
    np.testing.assert_allclose(
        np.array(mx.addmm(mx.array(c[0]), x[0], y)), c[0] + a[0] @ b, rtol=1e-5, atol=1e-5
    )
    got = mx.addmm(z, mx.zeros((4, 0)), mx.zeros((0, 3)), beta=3.0)
    np.testing.assert_allclose(np.array(got), 3 * c, rtol=1e-6)


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"\[matmul\] inner dimensions differ \(3 != 4\): a has "
        r"shape \(2, 3\) and b has shape \(4, 5\)",
    ):
        mx.ones((2, 3)) @ mx.ones((4, 5))
    with pytest.raises(ValueError, match=r"\[matmul\] .*\(3,\) and b has shape \(4,\)"):
        mx.matmul(mx.ones((3,)), mx.ones((4,)))
    with pytest.raises(
        ValueError,
        match=r"\[matmul\] batch dimensions cannot be broadcast.*"
        r"\(2, 3, 4\) and b has shape \(3, 4, 5\)",
    ):
        mx.matmul(mx.ones((2, 3, 4)), mx.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"\[matmul\] operands must have at least one dim"):
        mx.matmul(mx.array(2.0), mx.ones((2,)))
    with pytest.raises(ValueError, match=r"\[matmul\]"):
        mx.ones((2,)) @ 2.0
    for dt in ["int32", "int8", "uint16", "bool_"]:
        x = mx.ones((2, 2), dtype=getattr(mx, dt))
        name = dt.rstrip("_")
        with pytest.raises(ValueError, match=rf"\[matmul\] only floating point .* {name}"):
            x @ x
    with pytest.raises(ValueError, match=r"\[addmm\] only floating point dtypes .*int32"):
        mx.addmm(
            mx.ones((2, 2), dtype=mx.int32),
            mx.ones((2, 2), dtype=mx.int32),
            mx.ones((2, 2), dtype=mx.int32),
        )
    with pytest.raises(ValueError, match=r"\[addmm\] inner dimensions differ"):
        mx.addmm(mx.ones((2, 2)), mx.ones((2, 3)), mx.ones((2, 2)))
    with pytest.raises(
        ValueError,
        match=r"\[addmm\] c with shape \(3, 2\) cannot be broadcast "
        r"to the shape of a @ b \(2, 2\)",
    ):
        mx.addmm(mx.ones((3, 2)), mx.ones((2, 3)), mx.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\[addmm\] c with shape \(1, 2, 2\)"):
        mx.addmm(mx.ones((1, 2, 2)), mx.ones((2, 3)), mx.ones((3, 2)))


@settings(max_examples=20, deadline=None)
@given(
    batch=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    m=st.integers(1, 9),
    k=st.integers(1, 9),
    n=st.integers(1, 9),
    transposed=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_shared_weight_gradient_is_one_product(batch, m, k, n, transposed, seed):
    """The gradient of a weight shared across batch entries (x @ W, x (..., m, k)) is one
    product over the flattened rows, no per-entry products summed afterwards; it matches
    NumPy for dense and transposed inputs, through matmul and addmm."""
    rng = np.random.default_rng(seed)
    xn = rng.standard_normal((*batch, k, m) if transposed else (*batch, m, k)).astype(np.float32)
    x = mx.array(xn).swapaxes(-1, -2) if transposed else mx.array(xn)
    xv = np.swapaxes(xn, -1, -2) if transposed else xn
    w = mx.array(rng.standard_normal((k, n)).astype(np.float32))
    bias = mx.array(rng.standard_normal(n).astype(np.float32))
    c = rng.standard_normal((*batch, m, n)).astype(np.float32)
    want = np.einsum("bmk,bmn->kn", xv.reshape(-1, m, k), c.reshape(-1, m, n))
    for f in (lambda w: x @ w, lambda w: mx.addmm(bias, x, w)):
        g = mx.grad(lambda w, f=f: mx.sum(f(w) * mx.array(c)))(w)
        assert "Sum" not in mx._core._graph_ops([g])
        np.testing.assert_allclose(np.array(g), want, rtol=1e-4, atol=1e-4)
