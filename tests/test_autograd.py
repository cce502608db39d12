"""Autodiff: every differentiable primitive against central finite differences.

On the CPU the checks run in float64 (tight tolerances); with the GPU as default device
(``FASTSYNC_DEFAULT_DEVICE=gpu``, where float64 does not exist) in float32 with looser
ones. Finite differences are computed by NumPy-side perturbation of the inputs and
fastsync evaluations of the function, so the reference does not use the rules under test.
"""

import fastsync as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ON_GPU = mx.default_device() == mx.gpu
DT = mx.float32 if ON_GPU else mx.float64
NP_DT = np.float32 if ON_GPU else np.float64
EPS = 1e-2 if ON_GPU else 1e-6
RTOL = 3e-2 if ON_GPU else 1e-5
ATOL = 3e-2 if ON_GPU else 1e-6


def numeric_grad(f, xs, i):
    """d sum(f(*xs) * w) / d xs[i] by central differences (w fixed random weights)."""
    x = np.array(xs[i], dtype=np.float64)
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    gf = g.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + EPS
        hi = _weighted(f, xs, i, x)
        flat[k] = old - EPS
        lo = _weighted(f, xs, i, x)
        flat[k] = old
        gf[k] = (hi - lo) / (2 * EPS)
    return g


_WEIGHTS = {}


def _weights(shape):
    key = tuple(shape)
    if key not in _WEIGHTS:
        _WEIGHTS[key] = np.random.default_rng(len(key) + sum(key)).uniform(0.5, 1.5, key)
    return _WEIGHTS[key]


def _weighted(f, xs, i, x):
    args = [mx.array(a.astype(NP_DT), DT) for a in xs]
    args[i] = mx.array(x.astype(NP_DT), DT)
    out = np.array(f(*args), dtype=np.float64)
    return float((out * _weights(out.shape)).sum())


def check_grads(f, *xs, argnums=None):
    """mx.vjp of f with the fixed weights as cotangent matches finite differences."""
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    args = [mx.array(x.astype(NP_DT), DT) for x in xs]
    out = f(*args)
    cot = mx.array(_weights(out.shape).astype(NP_DT), DT)
    _, grads = mx.vjp(f, args, [cot])
    for i in argnums if argnums is not None else range(len(xs)):
        want = numeric_grad(f, xs, i)
        got = np.array(grads[i], dtype=np.float64)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def rand(shape, lo=-1.0, hi=1.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def distinct(shape, lo=0.5, seed=0):
    """Values at least 0.05 apart, shuffled: finite differences never reorder them (maxima,
    sorts), even with the GPU's larger step."""
    n = int(np.prod(shape))
    return (lo + 0.05 * np.random.default_rng(seed).permutation(n)).reshape(shape)


UNARY = {
    "negative": (mx.negative, -2, 2),
    "abs": (mx.abs, 0.2, 2),
    "exp": (mx.exp, -1, 1),
    "expm1": (mx.expm1, -1, 1),
    "log": (mx.log, 0.5, 2),
    "log1p": (mx.log1p, 0.1, 2),
    "log2": (mx.log2, 0.5, 2),
    "log10": (mx.log10, 0.5, 2),
    "sqrt": (mx.sqrt, 0.5, 2),
    "rsqrt": (mx.rsqrt, 0.5, 2),
    "square": (mx.square, -2, 2),
    "sin": (mx.sin, -2, 2),
    "cos": (mx.cos, -2, 2),
    "tan": (mx.tan, -1, 1),
    "tanh": (mx.tanh, -2, 2),
    "sigmoid": (mx.sigmoid, -2, 2),
    "erf": (mx.erf, -1, 1),
    "erfinv": (mx.erfinv, -0.5, 0.5),
    "arcsin": (mx.arcsin, -0.8, 0.8),
    "arccos": (mx.arccos, -0.8, 0.8),
    "arctan": (mx.arctan, -2, 2),
    "sinh": (mx.sinh, -1, 1),
    "cosh": (mx.cosh, -1, 1),
    "arcsinh": (mx.arcsinh, -2, 2),
    "arccosh": (mx.arccosh, 1.2, 3),
    "arctanh": (mx.arctanh, -0.8, 0.8),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_grads(name):
    fn, lo, hi = UNARY[name]
    check_grads(fn, rand((3, 4), lo, hi))


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "sign"])
def test_piecewise_constant_grads_are_zero(name):
    x = mx.array([0.3, 1.7, -2.2])
    g = mx.grad(lambda a: getattr(mx, name)(a).sum())(x)
    assert np.array(g).tolist() == [0.0, 0.0, 0.0]


BINARY = {
    "add": (mx.add, -1, 1),
    "subtract": (mx.subtract, -1, 1),
    "multiply": (mx.multiply, -1, 1),
    "divide": (mx.divide, 0.5, 2),
    "power": (mx.power, 0.5, 2),
    "maximum": (mx.maximum, -1, 1),
    "minimum": (mx.minimum, -1, 1),
    "arctan2": (mx.arctan2, 0.5, 2),
    "remainder": (mx.remainder, 1.0, 1.05),
    "logaddexp": (mx.logaddexp, -1, 1),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 1, 4), (3, 1)), ((), (2, 3))])
def test_binary_grads_with_broadcasting(name, shapes):
    fn, lo, hi = BINARY[name]
    a = rand(shapes[0], lo, hi, seed=1)
    b = rand(shapes[1], lo, hi, seed=2)
    if name == "remainder":
        a = a + 1.2  # a / b in (2.09, 2.4): away from the jumps of a mod b
    check_grads(fn, a, b)


def test_divmod_has_zero_derivatives_as_in_mlx():
    # MLX defines both of divmod's outputs to have derivative 0 (its own tests pin the
    # remainder's tangent at 0), unlike remainder, whose derivative is 1 in a.
    x = mx.array([2.5, 5.3])
    assert mx.grad(lambda a: mx.sum(mx.divmod(a, 2.0)[1]))(x).tolist() == [0.0, 0.0]
    _, (dq, dr) = mx.jvp(lambda a: mx.divmod(a, 2.0), [x], [mx.ones_like(x)])
    assert dq.tolist() == [0.0, 0.0] and dr.tolist() == [0.0, 0.0]
    assert mx.grad(lambda a: mx.sum(mx.remainder(a, 2.0)))(x).tolist() == [1.0, 1.0]


def test_astype_grads_keep_the_input_dtype():
    x = mx.array([1.0, 2.0], mx.float16)
    g = mx.grad(lambda a: (a.astype(mx.float32) * 3).sum())(x)
    assert g.dtype == mx.float16 and np.array(g).tolist() == [3.0, 3.0]
    as_bool = mx.grad(lambda a: (a.astype(mx.bool_) * a).sum())(x)
    assert np.array(as_bool).tolist() == [1.0, 1.0]


def test_where_grads():
    cond = mx.array([[True, False, True]])
    check_grads(lambda x, y: mx.where(cond, x, y), rand((2, 3)), rand((3,), seed=3))


REDUCTIONS = {
    "sum": lambda x: mx.sum(x, axis=1),
    "sum_all_keepdims": lambda x: mx.sum(x, keepdims=True),
    "prod": lambda x: mx.prod(x, axis=(0, 2)),
    "max": lambda x: mx.max(x, axis=-1),
    "min": lambda x: mx.min(x, axis=0),
    "mean": lambda x: mx.mean(x, axis=1),
    "var": lambda x: mx.var(x, axis=1),
    "std": lambda x: mx.std(x, axis=(0, 1)),
    "logsumexp": lambda x: mx.logsumexp(x, axis=2),
    "softmax_last": lambda x: mx.softmax(x, axis=-1),
    "softmax_middle": lambda x: mx.softmax(x, axis=1),
    "cumsum": lambda x: mx.cumsum(x, axis=1),
    "cumsum_reverse_exclusive": lambda x: mx.cumsum(x, axis=2, reverse=True, inclusive=False),
    "cumprod": lambda x: mx.cumprod(x, axis=2),
    "cumprod_reverse": lambda x: mx.cumprod(x, axis=1, reverse=True),
    "cummax": lambda x: mx.cummax(x, axis=2),
    "cummin_exclusive": lambda x: mx.cummin(x, axis=1, inclusive=False)[:, 1:],
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_and_scan_grads(name):
    check_grads(REDUCTIONS[name], distinct((2, 3, 4), seed=4))


def test_prod_and_cumprod_grads_with_zeros():
    x = np.array([[2.0, 0.0, 3.0, 4.0], [0.0, 1.0, 0.0, 5.0], [1.5, 2.0, 0.5, 1.0]])
    check_grads(lambda a: mx.prod(a, axis=1), x)
    check_grads(lambda a: mx.cumprod(a, axis=1), x)
    check_grads(lambda a: mx.cumprod(a, axis=1, reverse=True, inclusive=False), x)


VIEWS = {
    "reshape": lambda x: x.reshape(4, 6),
    "transpose": lambda x: mx.transpose(x, (2, 0, 1)),
    "slice": lambda x: x[1:, ::2, 1:3],
    "slice_negative_step": lambda x: x[::-1, 2:0:-1],
    "broadcast": lambda x: mx.broadcast_to(x[:, :1], (5, 2, 3, 4)),
    "diagonal": lambda x: mx.diagonal(x, offset=1, axis1=1, axis2=2),
    "flip": lambda x: mx.flip(x, axis=1),
    "as_strided": lambda x: mx.as_strided(x, (3, 3), (2, 1)),
    "concatenate": lambda x: mx.concatenate([x, 2 * x[:, :1]], axis=1),
    "split": lambda x: mx.split(x, [1, 2], axis=2)[1] * mx.split(x, [1, 2], axis=2)[2][..., :1],
    "pad": lambda x: mx.pad(x, [(1, 0), (0, 2), (1, 1)]),
    "tile": lambda x: mx.tile(x, (1, 2, 1)),
    "repeat": lambda x: mx.repeat(x, 2, axis=1),
    "stack": lambda x: mx.stack([x, x * x]),
    "squeeze_expand": lambda x: mx.squeeze(mx.expand_dims(x, 1), 1),
    "moveaxis": lambda x: mx.moveaxis(x, 0, 2),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_and_layout_grads(name):
    check_grads(VIEWS[name], rand((2, 3, 4), seed=5))


INDEXING = {
    "take": lambda x: mx.take(x, mx.array([2, 0, 2, -1]), axis=1),
    "take_flat": lambda x: mx.take(x, mx.array([[0, 5], [5, 11]])),
    "take_along_axis": lambda x: mx.take_along_axis(
        x, mx.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]]), axis=1
    ),
    "getitem_array": lambda x: x[mx.array([1, 1, 0])],
    "getitem_mixed": lambda x: x[mx.array([0, 2]), 1:3],
    "sort": lambda x: mx.sort(x, axis=1),
    "topk": lambda x: mx.topk(x, 2, axis=1),
    "at_add": lambda x: x.at[mx.array([0, 0, 2])].add(x[1]),
    "at_multiply": lambda x: x.at[mx.array([1])].multiply(x[0] + 2),
    "setitem": lambda x: _setitem(x),
}


def _setitem(x):
    y = x * 1
    y[mx.array([0, 2])] = x[1] * 3
    return y


@pytest.mark.parametrize("name", sorted(INDEXING))
def test_gather_and_scatter_grads(name):
    check_grads(INDEXING[name], distinct((3, 4), lo=-0.3, seed=6))


def test_scatter_max_routes_to_the_winner():
    src = mx.array([1.0, 2.0, 3.0, 4.0])
    upd = mx.array([5.0, 0.0])
    cot = mx.array([1.0, 2.0, 3.0, 4.0])
    _, (ds, du) = mx.vjp(lambda s, u: s.at[mx.array([1, 3])].maximum(u), [src, upd], [cot])
    assert np.array(ds).tolist() == [1.0, 0.0, 3.0, 4.0]
    assert np.array(du).tolist() == [2.0, 0.0]


MATMUL = {
    "matmul": (lambda a, b: a @ b, (3, 4), (4, 2)),
    "batched_broadcast": (lambda a, b: a @ b, (2, 1, 3, 4), (3, 4, 2)),
    "vector_matrix": (lambda a, b: a @ b, (4,), (4, 2)),
    "matrix_vector": (lambda a, b: a @ b, (3, 4), (4,)),
    "dot": (lambda a, b: a @ b, (4,), (4,)),
    "transposed_operand": (lambda a, b: a.T @ b, (4, 3), (4, 2)),
}


@pytest.mark.parametrize("name", sorted(MATMUL))
def test_matmul_grads(name):
    fn, sa, sb = MATMUL[name]
    check_grads(fn, rand(sa, seed=7), rand(sb, seed=8))


def test_addmm_grads():
    check_grads(
        lambda c, a, b: mx.addmm(c, a, b, alpha=0.5, beta=2.0),
        rand((2,), seed=1),
        rand((3, 4), seed=2),
        rand((4, 2), seed=3),
    )


@settings(max_examples=15, deadline=None)
@given(
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    op=st.sampled_from(["tanh", "sin", "exp", "square"]),
    reduce=st.sampled_from(["sum", "max", "mean", "prod"]),
)
def test_random_composites(shape, op, reduce):
    """Random shapes through an elementwise op, a product with a broadcast row and a
    reduction over the last axis."""
    row = rand(shape[-1:], seed=9)

    def f(x, r):
        return getattr(mx, reduce)(getattr(mx, op)(x) * r, axis=-1)

    check_grads(f, rand(tuple(shape), 0.3, 0.9, seed=len(shape)), row)


def test_jvp_matches_finite_differences():
    x = rand((3, 4), 0.5, 1.5)
    t = rand((3, 4), seed=3)

    def f(a):
        return mx.softmax(mx.sin(a) @ a.T, axis=-1) * mx.cumprod(a, axis=1)[:, :3].sum()

    (out,), (tan,) = mx.jvp(f, [mx.array(x.astype(NP_DT), DT)], [mx.array(t.astype(NP_DT), DT)])
    hi = np.array(f(mx.array((x + EPS * t).astype(NP_DT), DT)), dtype=np.float64)
    lo = np.array(f(mx.array((x - EPS * t).astype(NP_DT), DT)), dtype=np.float64)
    np.testing.assert_allclose(np.array(tan), (hi - lo) / (2 * EPS), rtol=RTOL, atol=ATOL)


def test_grad_of_grad():
    f = lambda x: mx.sin(x) * x  # noqa: E731
    x = mx.array(0.7)
    d2 = mx.grad(mx.grad(f))(x).item()
    assert d2 == pytest.approx(2 * np.cos(0.7) - 0.7 * np.sin(0.7), rel=1e-5)


# --- the Python API --------------------------------------------------------------------


def test_value_and_grad_trees_argnums_and_aux():
    def loss(params, x, scale=1.0):
        y = (params["w"] @ x + params["b"][0]) * scale
        return y.sum(), {"y": y}

    params = {"w": mx.ones((2, 3)), "b": [mx.zeros((2,))]}
    x = mx.ones((3,))
    (value, aux), grads = mx.value_and_grad(loss)(params, x)
    assert value.item() == 6.0
    assert np.array(aux["y"]).tolist() == [3.0, 3.0]
    assert np.array(grads["w"]).tolist() == [[1.0] * 3] * 2
    assert np.array(grads["b"][0]).tolist() == [1.0, 1.0]
    _, (gp, gx) = mx.value_and_grad(loss, argnums=(0, 1))(params, x)
    assert np.array(gx).tolist() == [2.0, 2.0, 2.0]
    _, (pos, kw) = mx.value_and_grad(loss, argnums=[], argnames="scale")(
        params, x, scale=mx.array(2.0)
    )
    assert pos is None and kw["scale"].item() == 6.0


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: mx.grad(lambda x: x)(mx.ones((2,))), ValueError),  # not a scalar
        (lambda: mx.grad(lambda x: "no")(mx.array(1.0)), ValueError),
        (lambda: mx.grad(lambda x: x, argnums=3)(mx.array(1.0)), ValueError),
        (lambda: mx.grad(lambda x: x)({"a": 1.0}), ValueError),
        (lambda: mx.grad(lambda x: x, argnums=(0, 0)), ValueError),
        (lambda: mx.grad(lambda x: x, argnums=(None,)), TypeError),
        (lambda: mx.vjp(lambda x: x, [mx.ones((2,))], [mx.ones((3,))]), ValueError),
        (lambda: mx.vjp(lambda x: x, [mx.ones((2,))], []), ValueError),
        (lambda: mx.jvp(lambda x: x, [mx.ones((2,))], [mx.ones((2, 1))]), ValueError),
    ],
)
def test_misuse_raises_clear_errors(call, error):
    with pytest.raises(error, match=r"\[(grad|vjp|jvp)\]"):
        call()


def test_stop_gradient_and_captured_constants():
    c = mx.array(3.0)
    g = mx.grad(lambda x: (mx.stop_gradient(x * x) + c * x).sum())(mx.array([1.0, 2.0]))
    assert np.array(g).tolist() == [3.0, 3.0]


def test_eval_inside_the_traced_function_keeps_the_graph():
    def f(x):
        y = mx.exp(x * 2)
        mx.eval(y)
        y.item() if y.size == 1 else y.tolist()
        return mx.sin(y).sum()

    x = mx.array([0.1, 0.2])
    g = np.array(mx.grad(f)(x))
    y = np.exp(2 * np.array([0.1, 0.2]))
    np.testing.assert_allclose(g, np.cos(y) * y * 2, rtol=1e-5)


def test_async_eval_of_gradients_and_errors_in_the_backward_pass():
    x = mx.ones((64, 64))
    grads = [mx.grad(lambda a, k=k: (mx.tanh(a * k) @ a).sum())(x) for k in range(8)]
    mx.async_eval(grads)
    for k, g in enumerate(grads):
        a = np.ones((64, 64))
        t = np.tanh(a * k)
        want = (1 - t**2) * k * (np.ones((64, 64)) @ a.T) + t.T @ np.ones((64, 64))
        np.testing.assert_allclose(np.array(g), want, rtol=1e-4)
    # An out-of-range gather index fails the backward pass's task, surfaced at eval.
    bad = mx.grad(lambda a: mx.take(a, mx.array([7])).sum())(mx.ones((3,)))
    with pytest.raises(IndexError, match="out of bounds"):
        mx.eval(bad)
    assert mx.grad(lambda a: (a * a).sum())(mx.ones((2,))).tolist() == [2.0, 2.0]


def test_custom_function_rules():
    @mx.custom_function
    def f(x, y):
        return x * y

    x, y = mx.array(2.0), mx.array(5.0)
    assert mx.grad(f, argnums=(0, 1))(x, y)[1].item() == 2.0

    @f.vjp
    def f_vjp(primals, cotangent, output):
        return cotangent * 10, cotangent * 20

    gx, gy = mx.grad(f, argnums=(0, 1))(x, y)
    assert (gx.item(), gy.item()) == (10.0, 20.0)
    _, (t,) = mx.jvp(f, [x, y], [mx.array(1.0), mx.array(0.0)])
    assert t.item() == 5.0  # no jvp rule: derived from the function

    @f.jvp
    def f_jvp(primals, tangents):
        return tangents[0] * 100

    _, (t,) = mx.jvp(f, [x, y], [mx.array(1.0), mx.array(0.0)])
    assert t.item() == 100.0


def test_checkpoint_recomputes_the_same_gradient():
    def block(w, x):
        return mx.tanh(x @ w) @ w.T

    w = mx.array(rand((4, 4), seed=1).astype(np.float32))
    x = mx.array(rand((3, 4), seed=2).astype(np.float32))
    plain = mx.grad(lambda w: block(w, x).sum())(w)
    ckpt = mx.grad(lambda w: mx.checkpoint(block)(w, x).sum())(w)
    np.testing.assert_allclose(np.array(ckpt), np.array(plain), rtol=1e-5, atol=1e-6)


def test_vmap_matches_a_python_loop():
    x = mx.array(rand((5, 3), seed=1).astype(np.float32))
    w = mx.array(rand((3, 2), seed=2).astype(np.float32))
    f = lambda row, w: mx.tanh(row @ w).sum(axis=-1)  # noqa: E731
    got = mx.vmap(f, in_axes=(0, None))(x, w)
    want = mx.stack([f(x[i], w) for i in range(5)])
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-6)
    per_row = mx.vmap(mx.grad(lambda r: (r * r).sum()), in_axes=1, out_axes=1)(x)
    np.testing.assert_allclose(np.array(per_row), 2 * np.array(x), rtol=1e-6)


def test_tree_utils():
    from fastsync.utils import tree_flatten, tree_map, tree_reduce, tree_unflatten

    tree = {"layers": [{"w": 1, "b": 2}, {"w": 3}], "head": (4,)}
    flat = tree_flatten(tree)
    assert flat == [("layers.0.w", 1), ("layers.0.b", 2), ("layers.1.w", 3), ("head.0", 4)]
    back = tree_unflatten(flat)
    assert back["layers"] == [{"w": 1, "b": 2}, {"w": 3}] and back["head"] == [4]
    assert tree_map(lambda a, b: a + b, tree, tree)["layers"][1]["w"] == 6
    assert tree_reduce(lambda acc, v: acc + v, tree, 0) == 10


def test_memory_after_a_gradient_returns_to_parameters_and_gradients():
    rng = np.random.default_rng(0)
    params = [mx.array(rng.standard_normal((256, 256)).astype(np.float32)) for _ in range(3)]
    x = mx.array(rng.standard_normal((64, 256)).astype(np.float32))
    mx.eval(params, x)

    def loss(ps):
        h = x
        for w in ps:
            h = mx.tanh(h @ w)
        return mx.mean(h * h)

    vg = mx.value_and_grad(loss)
    # One step first: on the GPU, host-made parameters get device copies that stay cached
    # with them (the backend's crossing cache), which is not the gradient's memory.
    mx.eval(vg(params))
    mx.synchronize()
    # Active memory counts the buffers handed out, and a cached buffer up to 1/8 larger than
    # asked may be handed out: with the cache of earlier tests cleared, only this graph's
    # sizes are there to reuse.
    mx.clear_cache()
    base = mx.get_active_memory()
    for _ in range(3):
        value, grads = vg(params)
        mx.eval(value, grads)
        # The CUDA backend returns buffers the GPU finished with at its next encode, wait
        # or synchronize (the CPU one before eval returns): settle that first.
        mx.synchronize()
        # The forward activations are gone once the gradients exist: what stays is the
        # gradients (one per parameter) and the scalar loss.
        grad_bytes = sum(g.nbytes for g in grads)
        assert mx.get_active_memory() - base <= grad_bytes + 4096
        del value, grads
    mx.synchronize()
    assert mx.get_active_memory() - base <= 4096


# --- vmap against a Python loop --------------------------------------------------------

VMAP_OPS = {
    "exp": (lambda x: mx.exp(x), [(2, 3)]),
    "add_broadcast": (lambda x, y: x + y, [(3,), (2, 3)]),
    "where": (lambda x, y: mx.where(x > 0, x, y), [(2, 3), (3,)]),
    "astype": (lambda x: x.astype(mx.float16).astype(mx.float32), [(4,)]),
    "sum": (lambda x: mx.sum(x, axis=0), [(3, 4)]),
    "max_keepdims": (lambda x: mx.max(x, axis=-1, keepdims=True), [(3, 4)]),
    "argmax": (lambda x: mx.argmax(x, axis=1), [(3, 4)]),
    "cumsum": (lambda x: mx.cumsum(x, axis=1, reverse=True), [(3, 4)]),
    "sort": (lambda x: mx.sort(x, axis=0), [(3, 4)]),
    "softmax": (lambda x: mx.softmax(x, axis=-1), [(3, 4)]),
    "softmax_vector": (lambda x: mx.softmax(x), [(4,)]),
    "reshape": (lambda x: x.reshape(2, 6), [(3, 4)]),
    "transpose": (lambda x: x.T, [(3, 4)]),
    "broadcast": (lambda x: mx.broadcast_to(x, (2, 3, 4)), [(4,)]),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "matvec_fallback": (lambda a, b: a @ b, [(3, 4), (4,)]),
    "slice_fallback": (lambda x: x[1:, ::2], [(3, 4)]),
    "take_fallback": (lambda x: mx.take(x, mx.array([2, 0]), axis=1), [(3, 4)]),
    "concatenate_fallback": (lambda x, y: mx.concatenate([x, y], axis=0), [(2, 3), (1, 3)]),
    "composite": (lambda x, w: mx.tanh(x @ w).sum(axis=-1) * x.mean(), [(2, 4), (4, 3)]),
}


@pytest.mark.parametrize("name", sorted(VMAP_OPS))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_vmap_matches_a_loop(name, axis):
    fn, shapes = VMAP_OPS[name]
    rng = np.random.default_rng(1)
    batch = 5
    ins, axes = [], []
    for k, shape in enumerate(shapes):
        mapped = k == 0 or name in ("add_broadcast", "matmul", "composite")
        if mapped:
            ax = axis % (len(shape) + 1)
            full = list(shape)
            full.insert(ax, batch)
            ins.append(mx.array(rng.standard_normal(full).astype(np.float32)))
            axes.append(ax)
        else:
            ins.append(mx.array(rng.standard_normal(shape).astype(np.float32)))
            axes.append(None)
    got = mx.vmap(fn, in_axes=tuple(axes), out_axes=axis if axis != 1 else 0)(*ins)
    per_entry = [
        fn(*[x if a is None else mx.take(x, b, axis=a) for x, a in zip(ins, axes, strict=True)])
        for b in range(batch)
    ]
    want = mx.stack(per_entry, axis=axis if axis != 1 else 0)
    assert got.shape == want.shape
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-6)


def test_vmap_composes_with_grad_and_itself():
    x = mx.array(rand((4, 3), seed=3).astype(np.float32))
    f = lambda r: (mx.sin(r) * r).sum()  # noqa: E731
    per_row = mx.vmap(mx.grad(f))(x)
    want = np.stack([np.array(mx.grad(f)(x[i])) for i in range(4)])
    np.testing.assert_allclose(np.array(per_row), want, rtol=1e-6)
    g = mx.grad(lambda a: mx.vmap(f)(a).sum())(x)
    np.testing.assert_allclose(np.array(g), want, rtol=1e-6)
    nested = mx.vmap(mx.vmap(lambda a, b: a * b, in_axes=(0, None)), in_axes=(None, 0))(
        mx.array([1.0, 2.0]), mx.array([10.0, 20.0, 30.0])
    )
    assert np.array(nested).tolist() == [[10.0, 20.0], [20.0, 40.0], [30.0, 60.0]]


def test_vmap_errors():
    with pytest.raises(ValueError, match="vmap"):
        mx.vmap(lambda a, b: a + b)(mx.ones((2, 3)), mx.ones((3, 3)))
    with pytest.raises(ValueError, match="vmap"):
        mx.vmap(lambda a: a, in_axes=2)(mx.ones((2, 3)))
    with pytest.raises(ValueError, match="vmap"):
        mx.vmap(lambda a: a, in_axes=None)(mx.ones((2, 3)))


def test_vmap_refuses_to_read_a_value_while_it_traces():
    # vmap traces the function once, on entry 0: a value read there (a float, item,
    # tolist, a NumPy conversion, a Python branch, an eval) would be entry 0's for every
    # entry. It raises instead of returning rows that all follow entry 0.
    x = mx.array([[1.0, 2.0], [3.0, 4.0]])
    reads = [
        lambda v: v * float(v.sum()),
        lambda v: v * 2 if v[0] > 2 else v,
        lambda v: v * v.sum().item(),
        lambda v: mx.array(np.array(v)),
        lambda v: mx.array(v.tolist()),
    ]
    for f in reads:
        with pytest.raises(ValueError, match=r"\[vmap\] cannot read"):
            mx.vmap(f)(x)
    with pytest.raises(ValueError, match=r"\[vmap\] cannot (evaluate|read)"):
        mx.vmap(lambda v: (mx.eval(v * 2), v)[1])(x)
    # Arrays evaluated before the trace may still be read; the batch stays right.
    w = mx.ones((2,)) * 3
    mx.eval(w)
    got = mx.vmap(lambda v: v * w.tolist()[0])(x)
    assert got.tolist() == [[3.0, 6.0], [9.0, 12.0]]
    assert mx.vmap(lambda v: mx.where(v[0] > 2, v * 2, v))(x).tolist() == [[1, 2], [6, 8]]


def test_transforms_from_many_threads_on_their_own_streams():
    """Each thread differentiates its own function on its own stream, with async_evals in
    flight and a nested grad: tracing state is per thread, so no thread sees another's."""
    import threading

    errors = []
    dev = mx.default_device()

    def work(k):
        try:
            s = mx.new_stream(dev)
            with mx.stream(s):
                w = mx.array(rand((16, 16), seed=k).astype(np.float32))
                x = mx.array(rand((8, 16), seed=100 + k).astype(np.float32))
                pending = []
                for step in range(20):
                    loss = lambda w: (mx.tanh(x @ w) ** 2).sum()  # noqa: E731
                    g = mx.grad(loss)(w)
                    mx.async_eval(g)
                    pending.append(g)
                    if step % 5 == 4:
                        d2 = mx.grad(lambda a: mx.grad(lambda b: (b**3).sum())(a).sum())(x)
                        np.testing.assert_allclose(np.array(d2), 6 * np.array(x), rtol=1e-5)
                t = np.tanh(np.array(x) @ np.array(w))
                want = np.array(x).T @ (2 * t * (1 - t**2))
                for g in pending:
                    np.testing.assert_allclose(np.array(g), want, rtol=1e-4, atol=1e-5)
        except Exception as e:  # re-raised on the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


_CUSTOM_FUNCTIONS_BESIDE_TRANSFORMS = """
import gc, sys, threading, weakref
import fastsync as mx

@mx.custom_function
def f(x):
    return mx.sin(x)

@f.vjp
def f_vjp(primals, cotangent, output):
    return cotangent * mx.cos(primals)

x = mx.ones((16,))
def evaler():
    for _ in range(2000):
        mx.eval(f(f(f(x))))

def differentiate():
    g = mx.grad(lambda z: mx.sum(mx.tanh(mx.tanh(z) * 3)))
    for _ in range(10000):
        g(x)

def compiled():
    c = mx.compile(lambda z: mx.exp(z) * 2)
    for _ in range(3000):
        c(x)

for other in (differentiate, compiled):
    ts = [threading.Thread(target=evaler), threading.Thread(target=other)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()

# Rules dropped by evals are released by those evals' threads, while the main thread
# runs no Python (it waits in join): 200 custom functions evaluated on a worker leave
# at most the last behind.
refs = []
def make():
    def rule(p, c, o):
        return c
    refs.append(weakref.ref(rule))
    h = mx.custom_function(lambda v: v * 2)
    h.vjp(rule)
    return h

alive = []
def drop_many():
    for _ in range(200):
        mx.eval(make()(x))
    gc.collect()
    alive.append(sum(r() is not None for r in refs))
t = threading.Thread(target=drop_many)
t.start()
t.join()
print("alive", alive[0])
sys.exit(0 if alive[0] <= 1 else 1)
"""


def test_custom_functions_evaluated_beside_transforms_on_other_threads():
    """A node holding a Python rule (custom_function, checkpoint) freed by an eval under
    the encoding lock must not wait for the GIL there: a thread holding the GIL may be
    waiting for that lock (grad, compile), and both would hang. Run in a subprocess so a
    regression fails on its timeout instead of hanging the suite."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _CUSTOM_FUNCTIONS_BESIDE_TRANSFORMS],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_regression_example_trains():
    """examples/regression.py: value_and_grad + tree_map SGD + async_eval lowers the loss."""
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(__file__).parent.parent / "examples" / "regression.py"
    args = [sys.executable, str(script), "--steps", "300"]
    if not ON_GPU:
        args.append("--cpu")
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    losses = [float(line.split()[-1]) for line in out.stdout.splitlines() if "loss" in line]
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("lead", [(5,), (2, 3)])
def test_a_weight_read_transposed_gets_a_row_major_gradient(lead):
    # y = x @ w.T (a linear layer): w's gradient must come out laid out as w is, so that an
    # optimizer's fused update reads it without a transposing copy; values as NumPy's.
    rng = np.random.default_rng(len(lead))
    x0 = rng.standard_normal((*lead, 7)).astype(np.float32)
    w0 = rng.standard_normal((4, 7)).astype(np.float32)
    r0 = rng.standard_normal((*lead, 4)).astype(np.float32)
    x, w, r = mx.array(x0), mx.array(w0), mx.array(r0)
    want = r0.reshape(-1, 4).T @ x0.reshape(-1, 7)

    def loss(w):
        return ((x @ w.T) * r).sum()

    for g in (mx.grad(loss)(w), mx.compile(mx.grad(loss))(w)):
        got = np.asarray(g)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert got.strides == (7 * 4, 4), got.strides
    # A weight read as stored keeps its plain gradient.
    g2 = mx.grad(lambda v: ((x @ v) * r).sum())(mx.array(np.ascontiguousarray(w0.T)))
    np.testing.assert_allclose(np.asarray(g2), want.T, rtol=1e-5, atol=1e-5)
    assert np.asarray(g2).strides == (4 * 4, 4)
    # Transposes that do not read w as w.T (identity axes, w.T.T): the plain form, same values.
    wt = mx.array(np.ascontiguousarray(w0.T))
    for view in (lambda v: mx.transpose(v, (0, 1)), lambda v: v.T.T):
        g3 = mx.grad(lambda v, view=view: ((x @ view(v)) * r).sum())(wt)
        np.testing.assert_allclose(np.asarray(g3), want.T, rtol=1e-5, atol=1e-5)
        assert np.asarray(g3).strides == (4 * 4, 4)
    # Complex weights keep the conjugating form.
    wc = mx.array(w0 + 1j * w0[::-1])
    gc = mx.grad(lambda v: mx.real((x.astype(mx.complex64) @ v.T) * r).sum())(wc)
    np.testing.assert_allclose(np.asarray(gc), want, rtol=1e-5, atol=1e-5)
