"""mx.linalg (norms, factorizations, solvers) against NumPy, forward and gradient.

Every call passes stream=mx.cpu: the factorizations run on LAPACK only, and this way the
file runs unchanged in the GPU suite. Gradients are checked as directional derivatives
against central differences in float64.
"""

import fastsync as mx
import numpy as np
import pytest

RNG = np.random.default_rng(3)
CPU = mx.cpu


def arr(x):
    """An mx.array keeping float64 (mx.array alone converts it to float32, as MLX)."""
    x = np.asarray(x)
    return mx.array(x, dtype=mx.float64) if x.dtype == np.float64 else mx.array(x)


def rand(*shape, dtype=np.float32):
    x = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * RNG.standard_normal(shape)
    return x.astype(dtype)


def spd(n, batch=(), dtype=np.float32):
    a = rand(*batch, n, n, dtype=np.float64)
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def close(got, want, tol=1e-4):
    got = np.array(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(
        got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max(initial=0)))
    )


SHAPES = [(4, 4), (3, 5, 5), (2, 3, 3, 3), (1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_inv_det_solve(shape, dtype):
    n = shape[-1]
    a = rand(*shape, dtype=dtype) + 3 * np.eye(n, dtype=dtype)
    tol = 1e-9 if dtype == np.float64 else 2e-4
    close(mx.linalg.inv(arr(a), stream=CPU), np.linalg.inv(a), tol)
    close(mx.linalg.det(arr(a), stream=CPU), np.linalg.det(a), tol)
    b = rand(*shape[:-1], 2, dtype=dtype)
    close(mx.linalg.solve(arr(a), arr(b), stream=CPU), np.linalg.solve(a, b), tol)
    sign, logdet = mx.linalg.slogdet(arr(a), stream=CPU)
    want_sign, want_log = np.linalg.slogdet(a)
    close(sign, want_sign, tol)
    close(logdet, want_log, tol)


def test_solve_vector_and_broadcast_batches():
    a = rand(3, 1, 4, 4) + 3 * np.eye(4, dtype=np.float32)
    b = rand(2, 4, 5)
    close(mx.linalg.solve(arr(a), arr(b), stream=CPU), np.linalg.solve(a, b))
    a2 = rand(4, 4) + 3 * np.eye(4, dtype=np.float32)
    v = rand(4)
    close(mx.linalg.solve(arr(a2), arr(v), stream=CPU), np.linalg.solve(a2, v))


@pytest.mark.parametrize("upper", [False, True])
def test_triangular(upper):
    a = rand(2, 5, 5) + 4 * np.eye(5, dtype=np.float32)
    t = np.triu(a) if upper else np.tril(a)
    # The other triangle is ignored: pass a full matrix.
    close(mx.linalg.tri_inv(arr(a), upper=upper, stream=CPU), np.linalg.inv(t))
    b = rand(2, 5, 3)
    got = mx.linalg.solve_triangular(arr(a), arr(b), upper=upper, stream=CPU)
    close(got, np.linalg.solve(t, b))


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_cholesky_and_inverse(upper, dtype):
    a = spd(5, (3,), np.float64)
    if np.dtype(dtype).kind == "c":
        h = rand(3, 5, 5, dtype=np.complex128)
        a = h @ np.conj(np.swapaxes(h, -1, -2)) + 5 * np.eye(5)
    a = a.astype(dtype)
    factor = mx.linalg.cholesky(arr(a), upper=upper, stream=CPU)
    want = np.linalg.cholesky(a)
    if upper:
        want = np.conj(np.swapaxes(want, -1, -2))
    close(factor, want, 1e-4)
    close(mx.linalg.cholesky_inv(factor, upper=upper, stream=CPU), np.linalg.inv(a), 1e-3)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (6, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_qr_svd_pinv(shape, dtype):
    a = rand(*shape, dtype=dtype)
    tol = 1e-9 if dtype == np.float64 else 1e-4
    q, r = mx.linalg.qr(arr(a), stream=CPU)
    q, r = np.array(q), np.array(r)
    close(q @ r, a, tol)
    k = min(shape[-2:])
    close(
        np.conj(np.swapaxes(q, -1, -2)) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)), tol
    )
    assert np.allclose(np.tril(r, -1), 0)
    u, s, vt = (np.array(x) for x in mx.linalg.svd(arr(a), stream=CPU))
    close(s, np.linalg.svd(a, compute_uv=False), tol)
    assert u.shape[-1] == shape[-2] and vt.shape[-1] == shape[-1]
    close((u[..., :k] * s[..., None, :]) @ vt[..., :k, :], a, tol)
    close(
        mx.linalg.svd(arr(a), compute_uv=False, stream=CPU),
        np.linalg.svd(a, compute_uv=False),
        tol,
    )
    close(mx.linalg.pinv(arr(a), stream=CPU), np.linalg.pinv(a), 10 * tol)


@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_eigh(uplo, dtype):
    h = rand(2, 5, 5, dtype=dtype)
    a = h + np.conj(np.swapaxes(h, -1, -2))
    # Garbage in the triangle not read must not matter.
    read = np.tril(a) if uplo == "L" else np.triu(a)
    noisy = read + (np.triu(h, 1) if uplo == "L" else np.tril(h, -1))
    w, v = mx.linalg.eigh(arr(noisy), UPLO=uplo, stream=CPU)
    tol = 1e-9 if dtype == np.float64 else 1e-4
    close(w, np.linalg.eigvalsh(a), tol)
    v = np.array(v)
    close(a @ v, v * np.array(w)[..., None, :], 10 * tol)
    close(mx.linalg.eigvalsh(arr(noisy), UPLO=uplo, stream=CPU), np.linalg.eigvalsh(a), tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_eig(dtype):
    a = rand(3, 4, 4, dtype=dtype)
    w, v = mx.linalg.eig(arr(a), stream=CPU)
    assert w.dtype == mx.complex64 and v.dtype == mx.complex64
    w, v = np.array(w), np.array(v)
    close(a @ v, v * w[..., None, :], 1e-3)
    close(np.linalg.norm(v, axis=-2), np.ones((3, 4)), 1e-4)
    got = np.sort_complex(np.array(mx.linalg.eigvals(arr(a), stream=CPU)).reshape(-1))
    close(got, np.sort_complex(np.linalg.eigvals(a).reshape(-1)), 1e-3)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 3)])
def test_lu_and_lu_factor(shape):
    a = rand(*shape)
    p, lo, up = (np.array(x) for x in mx.linalg.lu(arr(a), stream=CPU))
    prod = lo @ up
    close(np.take_along_axis(prod, p[..., None], axis=-2), a)
    assert np.allclose(np.triu(lo, 1), 0) and np.allclose(np.tril(up, -1), 0)
    lu, piv = mx.linalg.lu_factor(arr(a), stream=CPU)
    assert piv.dtype == mx.int32
    lu, piv = np.array(lu), np.array(piv)
    for idx in np.ndindex(*shape[:-2]):
        perm = list(range(shape[-2]))
        for i, j in enumerate(piv[idx]):
            perm[i], perm[j] = perm[j], perm[i]
        k = min(shape[-2:])
        low = np.tril(lu[idx], -1)[:, :k] + np.eye(shape[-2], k)
        close(low @ np.triu(lu[idx])[:k], a[idx][perm])


def test_norms_match_numpy():
    x = rand(3, 4, 5)
    for ord_ in [None, 0.5, 0, 1, 2, 3, -1, np.inf, -np.inf]:
        for axis in [0, 1, -1]:
            for keep in [False, True]:
                want = np.linalg.norm(x, ord=ord_, axis=axis, keepdims=keep)
                close(mx.linalg.norm(arr(x), ord_, axis, keep), want)
    for ord_ in [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]:
        for axis in [(0, 1), (1, 2), (2, 0)]:
            for keep in [False, True]:
                want = np.linalg.norm(x, ord=ord_, axis=axis, keepdims=keep)
                close(mx.linalg.norm(arr(x), ord_, axis, keep, stream=CPU), want)
    close(mx.linalg.norm(arr(x)), np.linalg.norm(x))
    m = rand(4, 6)
    for ord_ in ["fro", "nuc", 2, np.inf]:
        close(mx.linalg.norm(arr(m), ord_, stream=CPU), np.linalg.norm(m, ord_))
    c = rand(3, 4, dtype=np.complex64)
    close(mx.linalg.norm(arr(c)), np.linalg.norm(c))


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 3), (2, 3, 0)])
def test_norms_of_empty_arrays_follow_numpy(shape):
    # The largest of no parts is 0 (an empty matrix has norm 0); the least of no parts
    # has no value and raises, as NumPy's does.
    x = np.zeros(shape, np.float32)
    axis = None if len(shape) < 3 else (1, 2)
    ords = [None, 1, -1, 2, -2, np.inf, -np.inf] + (["fro", "nuc"] if len(shape) > 1 else [])
    for ord_ in ords:
        for keep in [False, True]:
            try:
                want = np.linalg.norm(x, ord=ord_, axis=axis, keepdims=keep)
            except ValueError:
                with pytest.raises(ValueError):
                    mx.eval(mx.linalg.norm(arr(x), ord_, axis, keep, stream=CPU))
                continue
            got = mx.linalg.norm(arr(x), ord_, axis, keep, stream=CPU)
            assert got.shape == np.shape(want), (ord_, keep)
            np.testing.assert_array_equal(np.array(got), np.asarray(want, np.float32))


def test_cross():
    a, b = rand(4, 3), rand(4, 3)
    close(mx.linalg.cross(arr(a), arr(b)), np.cross(a, b))
    a, b = rand(3, 5), rand(3, 1)
    close(mx.linalg.cross(arr(a), arr(b), axis=0), np.cross(a, b, axis=0))


def test_half_inputs_compute_in_float32():
    a = (rand(4, 4) + 3 * np.eye(4, dtype=np.float32)).astype(np.float16)
    got = mx.linalg.inv(arr(a), stream=CPU)
    assert got.dtype == mx.float16
    close(got, np.linalg.inv(a.astype(np.float32)), 5e-3)


def test_views_are_read_through_their_strides():
    base = rand(6, 6) + 3 * np.eye(6, dtype=np.float32)
    view = arr(base)[::2, ::2].T
    close(mx.linalg.inv(view, stream=CPU), np.linalg.inv(base[::2, ::2].T))
    b = mx.broadcast_to(arr(base[:3, :3] + 3 * np.eye(3, dtype=np.float32)), (4, 3, 3))
    close(
        mx.linalg.det(b, stream=CPU),
        np.linalg.det(np.broadcast_to(base[:3, :3] + 3 * np.eye(3), (4, 3, 3))),
    )


# --- gradients -----------------------------------------------------------


def directional(f, a, direction, eps=1e-6):
    """(f(a + eps d) - f(a - eps d)) / 2 eps in float64 against <grad f(a), d>."""
    g = np.array(mx.grad(f)(arr(a)))
    plus = float(f(arr(a + eps * direction)).item())
    minus = float(f(arr(a - eps * direction)).item())
    numeric = (plus - minus) / (2 * eps)
    analytic = float((g * direction).sum())
    assert abs(numeric - analytic) <= 1e-5 * max(1.0, abs(numeric)), (numeric, analytic)


def weights(*shape):
    return arr(rand(*shape, dtype=np.float64))


def test_inv_and_solve_gradients():
    a = rand(2, 4, 4, dtype=np.float64) + 3 * np.eye(4)
    r = weights(2, 4, 4)
    b = weights(2, 4, 3)
    r3 = weights(2, 4, 3)
    for _ in range(2):
        d = rand(2, 4, 4, dtype=np.float64)
        directional(lambda x: (mx.linalg.inv(x, stream=CPU) * r).sum(), a, d)
        directional(lambda x: (mx.linalg.solve(x, b, stream=CPU) * r3).sum(), a, d)
        directional(lambda x: (mx.linalg.tri_inv(x, upper=True, stream=CPU) * r).sum(), a, d)
        directional(lambda x: (mx.linalg.solve_triangular(x, b, stream=CPU) * r3).sum(), a, d)
    db = rand(2, 4, 3, dtype=np.float64)
    am = arr(a)
    directional(lambda y: (mx.linalg.solve(am, y, stream=CPU) * r3).sum(), np.array(b), db)


def symmetric(d):
    return d + np.swapaxes(d, -1, -2)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_gradient(upper):
    a = spd(4, (2,), np.float64)
    r = weights(2, 4, 4)
    for _ in range(2):
        d = symmetric(rand(2, 4, 4, dtype=np.float64))
        directional(lambda x: (mx.linalg.cholesky(x, upper=upper, stream=CPU) * r).sum(), a, d)


def test_eigh_gradients():
    a = symmetric(rand(2, 4, 4, dtype=np.float64))
    r, rv = weights(2, 4), weights(2, 4, 4)

    def values(x):
        return (mx.linalg.eigvalsh(x, stream=CPU) * r).sum()

    def both(x):
        w, v = mx.linalg.eigh(x, stream=CPU)
        return (w * r).sum() + (v * v * rv).sum()  # v * v: blind to each vector's sign

    for _ in range(2):
        d = symmetric(rand(2, 4, 4, dtype=np.float64))
        directional(values, a, d)
        directional(both, a, d)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_svd_gradients(shape):
    a = rand(*shape, dtype=np.float64)
    k = min(shape)
    rs = weights(k)
    ru, rv = weights(shape[0], k), weights(k, shape[1])

    def values(x):
        return (mx.linalg.svd(x, compute_uv=False, stream=CPU) * rs).sum()

    def full(x):
        u, s, vt = mx.linalg.svd(x, stream=CPU)
        uk, vk = u[:, :k], vt[:k]
        return (s * rs).sum() + (uk * uk * ru).sum() + (vk * vk * rv).sum()

    for _ in range(2):
        d = rand(*shape, dtype=np.float64)
        directional(values, a, d)
        directional(full, a, d)


def test_qr_gradient():
    a = rand(5, 3, dtype=np.float64)
    rq, rr = weights(5, 3), weights(3, 3)

    def f(x):
        q, r = mx.linalg.qr(x, stream=CPU)
        return (q * rq).sum() + (r * rr).sum()

    for _ in range(2):
        directional(f, a, rand(5, 3, dtype=np.float64))


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda: mx.linalg.inv(mx.zeros((3, 4)), stream=CPU), "square"),
        (lambda: mx.linalg.qr(mx.zeros((3,)), stream=CPU), "at least 2 dimensions"),
        (lambda: mx.linalg.qr(arr([[0, 1], [1, 0]]), stream=CPU), "floating"),
        (lambda: mx.linalg.eigh(mx.eye(3), UPLO="X", stream=CPU), "UPLO"),
        (lambda: mx.linalg.cross(mx.zeros((2,)), mx.zeros((2,))), "3 components"),
        (lambda: mx.linalg.solve(mx.eye(3), mx.zeros((4,)), stream=CPU), "rows must number 3"),
        (lambda: mx.linalg.norm(mx.zeros((2, 2, 2)), 2), "1-D or 2-D"),
        (lambda: mx.linalg.norm(mx.zeros((2, 2)), "fro", axis=0), "two axes"),
        (lambda: mx.linalg.norm(mx.zeros((2, 2)), 3, axis=(0, 1)), "invalid ord"),
    ],
)
def test_errors(call, text):
    with pytest.raises(ValueError, match=text):
        call()


def test_numerical_failures_surface_at_eval_and_leave_others_alone():
    singular = mx.linalg.inv(mx.zeros((2, 3, 3)), stream=CPU)
    good = mx.linalg.inv(mx.eye(3) * 2, stream=CPU)
    with pytest.raises(ValueError, match=r"\[linalg.inv\] the matrix is singular"):
        mx.eval(singular)
    close(good, np.eye(3) / 2)
    not_pd = mx.linalg.cholesky(-mx.eye(3), stream=CPU)
    with pytest.raises(ValueError, match="not positive definite"):
        mx.eval(not_pd)
    # The process stays usable.
    close(mx.linalg.det(mx.eye(2) * 3, stream=CPU), 9.0)


GPU = pytest.mark.skipif(not mx.is_available(mx.gpu), reason="needs a GPU")


@GPU
def test_gpu_ops_without_a_kernel_raise_not_implemented():
    for call in (
        lambda: mx.linalg.eig(mx.eye(3), stream=mx.gpu),
        lambda: mx.linalg.tri_inv(mx.eye(3), stream=mx.gpu),
        lambda: mx.linalg.cholesky_inv(mx.eye(3), stream=mx.gpu),
    ):
        with pytest.raises(NotImplementedError, match="stream=mx.cpu"):
            mx.eval(call())


@GPU
@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_gpu_factorizations_match_numpy(dtype, batch):
    G = mx.gpu
    a = rand(*batch, 5, 5, dtype=dtype) + 3 * np.eye(5, dtype=dtype)
    close(mx.linalg.inv(arr(a), stream=G), np.linalg.inv(a), 1e-4)
    b = rand(*batch, 5, 2, dtype=dtype)
    close(mx.linalg.solve(arr(a), arr(b), stream=G), np.linalg.solve(a, b), 1e-4)
    close(mx.linalg.det(arr(a), stream=G), np.linalg.det(a), 1e-4)
    h = a @ np.conj(np.swapaxes(a, -1, -2))
    for upper in (False, True):
        c = np.array(mx.linalg.cholesky(arr(h), upper=upper, stream=G))
        lower = np.conj(np.swapaxes(c, -1, -2)) if upper else c
        close(lower @ np.conj(np.swapaxes(lower, -1, -2)), h, 1e-3)
    w, v = mx.linalg.eigh(arr(h), stream=G)
    close(w, np.linalg.eigvalsh(h), 1e-3)
    v = np.array(v)
    close(h @ v, v * np.array(w)[..., None, :], 1e-3)
    for shape in [(6, 4), (4, 6), (5, 5)]:
        m = rand(*batch, *shape, dtype=dtype)
        q, r = (np.array(x) for x in mx.linalg.qr(arr(m), stream=G))
        close(q @ r, m, 1e-4)
        assert np.allclose(np.tril(r, -1), 0)
        u, s, vt = (np.array(x) for x in mx.linalg.svd(arr(m), stream=G))
        k = min(shape)
        close(s, np.linalg.svd(m, compute_uv=False), 1e-4)
        close((u[..., :k] * s[..., None, :]) @ vt[..., :k, :], m, 1e-4)
        close(np.conj(np.swapaxes(u, -1, -2)) @ u, np.broadcast_to(np.eye(shape[0]), u.shape), 1e-4)
        p, lo, up = (np.array(x) for x in mx.linalg.lu(arr(m), stream=G))
        close(np.take_along_axis(lo @ up, p[..., None], axis=-2), m, 1e-4)


@GPU
def test_gpu_factorization_failures_surface_at_eval():
    with pytest.raises(ValueError, match=r"\[linalg.inv\] the matrix is singular \(matrix 1"):
        mx.eval(mx.linalg.inv(mx.stack([mx.eye(3), mx.zeros((3, 3))]), stream=mx.gpu))
    with pytest.raises(ValueError, match="not positive definite"):
        mx.eval(mx.linalg.cholesky(-mx.eye(3), stream=mx.gpu))
    close(mx.linalg.inv(mx.eye(2) * 2, stream=mx.gpu), np.eye(2) / 2)


@pytest.mark.parametrize("shape", [(0, 4, 4), (3, 0, 0), (2, 5, 0), (2, 0, 5), (5, 0), (0, 5)])
def test_empty_matrices(shape):
    a = np.zeros(shape, np.float32)
    u, s, vt = mx.linalg.svd(arr(a), stream=CPU)
    nu, ns, nvt = np.linalg.svd(a)
    np.testing.assert_array_equal(np.array(u), nu)
    np.testing.assert_array_equal(np.array(vt), nvt)
    assert s.shape == ns.shape
    assert mx.linalg.pinv(arr(a), stream=CPU).shape == np.linalg.pinv(a).shape
    q, r = mx.linalg.qr(arr(a), stream=CPU)
    assert q.shape == shape[:-1] + (min(shape[-2:]),)
    p, lo, up = mx.linalg.lu(arr(a), stream=CPU)
    mx.eval(p, lo, up)


def test_det_of_integers_promotes():
    close(mx.linalg.det(mx.array([[1, 2], [3, 4]]), stream=CPU), -2.0)
    sign, logdet = mx.linalg.slogdet(mx.array([[2, 0], [0, 3]]), stream=CPU)
    close(sign, 1.0)
    close(logdet, np.log(6.0))


def test_det_and_slogdet_gradients():
    a = rand(2, 4, 4, dtype=np.float64) + 2 * np.eye(4)
    r = weights(2)
    for _ in range(2):
        d = rand(2, 4, 4, dtype=np.float64)
        directional(lambda x: (mx.linalg.det(x, stream=CPU) * r).sum(), a, d)
        directional(lambda x: (mx.linalg.slogdet(x, stream=CPU)[1] * r).sum(), a, d)
    # jvp: d det = det tr(A^-1 dA).
    a1 = a[0]
    d1 = rand(4, 4, dtype=np.float64)
    _, tangent = mx.jvp(lambda x: mx.linalg.det(x, stream=CPU), [arr(a1)], [arr(d1)])
    close(tangent[0], np.linalg.det(a1) * np.trace(np.linalg.solve(a1, d1)), 1e-8)
