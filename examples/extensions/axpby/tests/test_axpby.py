"""The axpby extension against NumPy: values, dtypes, broadcasting, strided views,
derivatives, vmap, compile, streams, and errors -- on the CPU, and on the GPU where one
is present (those tests skip without it)."""

import fastsync as mx
import numpy as np
import pytest
from axpby import axpby

rng = np.random.default_rng(0)
GPU = pytest.mark.skipif(not mx.is_available(mx.gpu), reason="needs a GPU")
DEVICES = [mx.cpu, pytest.param(mx.gpu, marks=GPU)]


def ref(x, y, a, b):
    return a * x.astype(np.float64) + b * y.astype(np.float64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "dtype,tol",
    [("float32", 1e-6), ("float64", 1e-12), ("float16", 2e-3), ("bfloat16", 2e-2)],
)
@pytest.mark.parametrize(
    "shapes", [((7,), (7,)), ((3, 1, 5), (4, 1)), ((), (2, 3)), ((0, 3), (3,))]
)
def test_values_match_numpy(device, dtype, tol, shapes):
    x = rng.standard_normal(shapes[0]).astype(np.float32)
    y = rng.standard_normal(shapes[1]).astype(np.float32)
    out = axpby(
        mx.array(x).astype(getattr(mx, dtype)),
        mx.array(y).astype(getattr(mx, dtype)),
        1.5,
        -0.25,
        stream=device,
    )
    assert isinstance(out, mx.array)
    assert out.dtype == getattr(mx, dtype)
    got = np.array(out.astype(mx.float32) if dtype == "bfloat16" else out).astype(np.float64)
    np.testing.assert_allclose(got, ref(x, y, 1.5, -0.25), rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_strided_views(device):
    x = rng.standard_normal((6, 8)).astype(np.float32)
    y = rng.standard_normal((8, 6)).astype(np.float32)
    xv = mx.array(x)[::2, 1::3]
    yv = mx.array(y).T[::2, 1::3]
    out = axpby(xv, yv, 2.0, 3.0, stream=device)
    np.testing.assert_allclose(np.array(out), ref(x[::2, 1::3], y.T[::2, 1::3], 2, 3), rtol=1e-6)


def test_integer_inputs_compute_in_float32():
    out = axpby(mx.array([1, 2, 3]), mx.array([True, False, True]), 0.5, 2.0)
    assert out.dtype == mx.float32
    np.testing.assert_allclose(np.array(out), [2.5, 1.0, 3.5])


@pytest.mark.parametrize("device", DEVICES)
def test_gradients(device):
    x = mx.array(rng.standard_normal((3, 4)).astype(np.float32))
    y = mx.array(rng.standard_normal((4,)).astype(np.float32))

    def loss(x, y):
        return (axpby(x, y, 3.0, -2.0, stream=device) ** 2).sum()

    gx, gy = mx.grad(loss, argnums=(0, 1))(x, y)
    z = 3.0 * np.array(x) - 2.0 * np.array(y)
    np.testing.assert_allclose(np.array(gx), 6.0 * z, rtol=1e-5)
    np.testing.assert_allclose(np.array(gy), (-4.0 * z).sum(axis=0), rtol=1e-5)

    tx, ty = mx.ones((3, 4)), mx.full((3, 4), 2.0)
    (out,), (tangent,) = mx.jvp(
        lambda a, b: axpby(a, b, 3.0, -2.0, stream=device),
        [x, mx.broadcast_to(y, (3, 4))],
        [tx, ty],
    )
    np.testing.assert_allclose(np.array(tangent), np.full((3, 4), 3.0 - 4.0))
    np.testing.assert_allclose(np.array(out), z, rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_vmap(device):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.standard_normal((4,)).astype(np.float32)
    f = mx.vmap(lambda a, b: axpby(a, b, 0.5, 4.0, stream=device), in_axes=(1, None))
    np.testing.assert_allclose(
        np.array(f(mx.array(x), mx.array(y))), ref(x.T, y[None, :], 0.5, 4.0), rtol=1e-6
    )


def test_compile_and_async_eval_across_streams():
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    x = mx.array(rng.standard_normal((64,)).astype(np.float32))
    step = mx.compile(lambda a: axpby(a, mx.exp(a), 1.0, 0.5))
    a = step(x)
    b = axpby(mx.add(x, 1, stream=s1), a, 2.0, 1.0, stream=s2)
    mx.async_eval(b)
    expect = np.array(x) + 0.5 * np.exp(np.array(x))
    np.testing.assert_allclose(np.array(b), 2 * (np.array(x) + 1) + expect, rtol=1e-5)


def test_errors_are_python_exceptions():
    with pytest.raises(TypeError, match="complex"):
        axpby(mx.array([1j]), mx.array([1.0]), 1.0, 1.0)
    with pytest.raises(ValueError):
        axpby(mx.zeros((2, 3)), mx.zeros((4,)), 1.0, 1.0)
    with pytest.raises(TypeError, match="stream"):
        axpby(mx.zeros(2), mx.zeros(2), 1.0, 1.0, stream="cpu")
    with pytest.raises(TypeError):
        axpby(np.zeros(2), mx.zeros(2), 1.0, 1.0)
    # The process stays usable.
    np.testing.assert_allclose(np.array(axpby(mx.ones(2), mx.ones(2), 1.0, 1.0)), [2.0, 2.0])
