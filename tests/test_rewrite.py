"""The eval driver's rewrites (src/rewrite.h): maximum(product, 0) on a CPU stream runs as one
MatmulRelu (or AddMMRelu) task when nothing else holds the product, with the same bits as the
graph as built; where anything could tell the difference, the graph runs as built."""

import contextlib

import fastsync as mx
import numpy as np
import pytest


@contextlib.contextmanager
def profiled():
    """Yields a dict filled, on exit, with the CPU profile's call counts per primitive."""
    counts = {}
    mx.synchronize()
    mx._core._cpu_profile(True)
    try:
        with mx.stream(mx.cpu):
            yield counts
        mx.synchronize()
        counts.update({k: v[0] for k, v in mx._core._cpu_profile(False).items()})
    finally:
        mx._core._cpu_profile(False)


def operands(rng, a_shape, b_shape, dtype):
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    return a, b


def as_built(a, b, zero=0.0):
    """maximum(a @ b, zero) with the product held by a variable: not rewritten."""
    m = mx.matmul(a, b)
    r = mx.maximum(m, zero)
    mx.eval(r)
    return np.array(r)


SHAPES = [
    ((7, 5), (5, 9)),
    ((256, 256), (256, 256)),
    ((3, 4, 6), (6, 2)),  # batch folded into one tall product
    ((2, 1, 5, 3), (4, 3, 7)),  # broadcast batches
    ((5,), (5, 3)),  # 1-D a
    ((4, 6), (6,)),  # 1-D b
    ((3, 0), (0, 4)),  # empty sum: all zeros
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("a_shape,b_shape", SHAPES)
def test_relu_of_a_product_runs_as_one_task_with_the_same_bits(a_shape, b_shape, dtype):
    rng = np.random.default_rng(sum(a_shape) * 31 + len(b_shape))
    a_np, b_np = operands(rng, a_shape, b_shape, dtype)
    with profiled() as counts:
        a, b = mx.array(a_np, getattr(mx, dtype)), mx.array(b_np, getattr(mx, dtype))
        fused = mx.maximum(mx.matmul(a, b), 0.0)
        mx.eval(fused)
    assert counts.get("MatmulRelu") == 1 and "Maximum" not in counts, counts
    got = np.array(fused)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.view(np.uint8), as_built(a, b).view(np.uint8))
    want = np.maximum(a_np @ b_np, 0)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)


def test_nan_and_negative_zero_pass_through_as_maximum_lets_them():
    """maximum(v, 0) keeps NaN and -0 (the product comes first); the fused task must too."""
    a_np = np.array([[np.nan, 1.0], [-0.0, 0.0], [-1.0, 0.0], [2.0, 0.0]], np.float32)
    b_np = np.array([[1.0, -1.0], [0.0, 0.0]], np.float32)
    with profiled() as counts:
        a, b = mx.array(a_np), mx.array(b_np)
        fused = mx.maximum(mx.matmul(a, b), 0.0)
        mx.eval(fused)
    assert counts.get("MatmulRelu") == 1, counts
    got = np.array(fused)
    np.testing.assert_array_equal(got.view(np.uint32), as_built(a, b).view(np.uint32))
    assert np.isnan(got[0]).all()
    assert (got[2] == [0.0, 1.0]).all() and (got[3] == [2.0, 0.0]).all()


@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
def test_relu_of_addmm_as_in_a_linear_layer(beta):
    rng = np.random.default_rng(7)
    x_np, w_np = operands(rng, (6, 5), (4, 5), np.float32)
    bias_np = rng.standard_normal((4,)).astype(np.float32)
    with profiled() as counts:
        x, w, bias = mx.array(x_np), mx.array(w_np), mx.array(bias_np)
        y = mx.maximum(mx.addmm(bias, x, w.T, alpha=2.0, beta=beta), 0)
        mx.eval(y)
    assert counts.get("AddMMRelu") == 1 and "Maximum" not in counts, counts
    held = mx.addmm(bias, x, w.T, alpha=2.0, beta=beta)
    ref = mx.maximum(held, 0)
    mx.eval(ref)
    np.testing.assert_array_equal(np.array(y), np.array(ref))
    want = np.maximum(beta * bias_np + 2.0 * (x_np @ w_np.T), 0)
    np.testing.assert_allclose(np.array(y), want, rtol=1e-5, atol=1e-5)


def test_nn_relu_after_linear_is_fused_and_right():
    import fastsync.nn as nn

    mx.random.seed(3)
    lin = nn.Linear(8, 16)
    x = mx.random.normal((5, 8))
    mx.eval(lin.parameters(), x)
    with profiled() as counts:
        y = nn.relu(lin(x))
        mx.eval(y)
    assert counts.get("AddMMRelu") == 1, counts
    want = np.maximum(np.array(x) @ np.array(lin.weight).T + np.array(lin.bias), 0)
    np.testing.assert_allclose(np.array(y), want, rtol=1e-5, atol=1e-6)


def cases_left_as_built():
    """(name, build) pairs: each build returns the arrays to evaluate, and the rewrite must
    not apply to any of them."""
    a = mx.array(np.arange(-6, 6, dtype=np.float32).reshape(3, 4))
    b = mx.array(np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2))
    held = {}

    def product_held_by_a_variable():
        held["m"] = mx.matmul(a, b)
        return [mx.maximum(held["m"], 0.0)]

    def product_also_an_output():
        m = mx.matmul(a, b)
        return [mx.maximum(m, 0.0), m]

    def product_read_twice():
        m = mx.matmul(a, b)
        return [mx.maximum(m, 0.0) + m]

    return [
        ("held", product_held_by_a_variable),
        ("output", product_also_an_output),
        ("read twice", product_read_twice),
        ("zero first", lambda: [mx.maximum(0.0, mx.matmul(a, b))]),
        ("negative zero", lambda: [mx.maximum(mx.matmul(a, b), -0.0)]),
        ("not zero", lambda: [mx.maximum(mx.matmul(a, b), 0.5)]),
        ("zero array", lambda: [mx.maximum(mx.matmul(a, b), mx.zeros((3, 2)))]),
        ("widened", lambda: [mx.maximum(mx.matmul(a, b), mx.array(0.0, mx.float64))]),
        (
            "bfloat16",
            lambda: [mx.maximum(mx.matmul(a.astype(mx.bfloat16), b.astype(mx.bfloat16)), 0)],
        ),
        ("float16", lambda: [mx.maximum(mx.matmul(a.astype(mx.float16), b.astype(mx.float16)), 0)]),
        ("minimum", lambda: [mx.minimum(mx.matmul(a, b), 0.0)]),
    ]


@pytest.mark.parametrize(
    "name,build", cases_left_as_built(), ids=[c[0] for c in cases_left_as_built()]
)
def test_graphs_anything_could_tell_apart_run_as_built(name, build):
    with profiled() as counts:
        outs = build()
        mx.eval(*outs)
    assert "MatmulRelu" not in counts and ("Maximum" in counts or "Minimum" in counts), counts
    a = np.arange(-6, 6, dtype=np.float32).reshape(3, 4)
    b = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
    if name in ("held", "output", "zero first", "negative zero"):
        np.testing.assert_allclose(np.array(outs[0]), np.maximum(a @ b, 0), rtol=1e-6, atol=1e-6)


def test_gradients_through_relu_of_a_product_are_unchanged():
    """A traced graph keeps its nodes (no rewrite while a transform traces): the
    derivative of relu(x @ w) is the one the graph as built gives."""
    rng = np.random.default_rng(11)
    x_np, w_np = operands(rng, (6, 5), (5, 4), np.float32)
    x, w = mx.array(x_np), mx.array(w_np)

    def loss(w):
        return mx.sum(mx.maximum(mx.matmul(x, w), 0.0) * 3.0)

    with mx.stream(mx.cpu):
        value, grad = mx.value_and_grad(loss)(w)
        mx.eval(value, grad)
    mask = (x_np @ w_np > 0).astype(np.float32)
    np.testing.assert_allclose(np.array(grad), x_np.T @ (3.0 * mask), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(value.item(), 3.0 * np.maximum(x_np @ w_np, 0).sum(), rtol=1e-5)


def test_compiled_relu_of_a_product_replays_right():
    rng = np.random.default_rng(5)
    x_np, w_np = operands(rng, (4, 3), (3, 6), np.float32)
    w = mx.array(w_np)
    f = mx.compile(lambda x: mx.maximum(mx.matmul(x, w), 0.0))
    with mx.stream(mx.cpu):
        for k in range(3):
            x = mx.array(x_np * (k - 1))
            np.testing.assert_allclose(
                np.array(f(x)), np.maximum((x_np * (k - 1)) @ w_np, 0), rtol=1e-5, atol=1e-6
            )


def test_a_long_chain_of_relu_products_stays_right():
    """The benchmark's loop (x = maximum(x @ w, 0), evaluated each step or asynchronously)."""
    n = 64
    w = mx.full((n, n), 1.0 / n)
    x = mx.ones((n, n))
    with mx.stream(mx.cpu):
        for step in range(50):
            x = mx.maximum(mx.matmul(x, w), 0.0)
            if step % 2:
                mx.async_eval(x)
        mx.eval(x)
    np.testing.assert_allclose(np.array(x), np.ones((n, n)), rtol=1e-5)
