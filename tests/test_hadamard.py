"""hadamard_transform against NumPy: the Sylvester matrix product for small sizes, a
butterfly (fast Walsh-Hadamard transform) for large ones; derivatives and vmap."""

import fastsync as mx
import numpy as np
import pytest

RNG = np.random.default_rng(5)


def sylvester(n):
    """H[i, j] = (-1) ** popcount(i & j)."""
    i = np.arange(n)
    bits = i[:, None] & i[None, :]
    parity = np.zeros_like(bits)
    while bits.any():
        parity ^= bits & 1
        bits >>= 1
    return 1 - 2 * parity


def butterfly(x):
    """The unscaled transform along the last axis, in float64, O(n log n)."""
    y = np.array(x, np.float64)
    n = y.shape[-1]
    h = 1
    while h < n:
        y = y.reshape(*y.shape[:-1], n // (2 * h), 2, h)
        a, b = y[..., 0, :], y[..., 1, :]
        y = np.stack([a + b, a - b], axis=-2).reshape(*x.shape[:-1], n)
        h *= 2
    return y


@pytest.mark.parametrize("k", range(0, 11))
def test_matches_the_sylvester_matrix_product(k):
    n = 2**k
    x = RNG.standard_normal((3, 5, n)).astype(np.float32)
    got = np.array(mx.hadamard_transform(mx.array(x)))
    want = x.astype(np.float64) @ sylvester(n) / np.sqrt(n)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [11, 13, 14, 15, 17])
def test_large_sizes_match_a_butterfly(k):
    n = 2**k
    x = RNG.standard_normal((2, n)).astype(np.float32)
    got = np.array(mx.hadamard_transform(mx.array(x), scale=0.25))
    np.testing.assert_allclose(got, butterfly(x) * 0.25, rtol=1e-4, atol=1e-4 * np.sqrt(n))


@pytest.mark.parametrize(
    "dtype,out,tol",
    [
        ("float16", "float16", 2e-2),
        ("bfloat16", "bfloat16", 1e-1),
        ("float64", "float64", 1e-12),
        ("int32", "float32", 1e-5),
        ("uint8", "float32", 1e-5),
        ("bool_", "float32", 1e-5),
    ],
)
def test_dtypes(dtype, out, tol):
    x = RNG.integers(0, 5, (4, 64)).astype(np.float32)
    a = mx.array(x).astype(getattr(mx, dtype))
    y = mx.hadamard_transform(a, scale=0.5)
    assert y.dtype == getattr(mx, out)
    want = butterfly(np.array(a.astype(mx.float64))) * 0.5
    np.testing.assert_allclose(np.array(y.astype(mx.float64)), want, rtol=tol, atol=tol)


def test_strided_and_transposed_input_and_scalars():
    x = RNG.standard_normal((32, 16, 6)).astype(np.float32)
    view = mx.array(x)[::2, :, 1::2].transpose(2, 0, 1)  # last axis of size 16, strided
    want = butterfly(np.array(view)) / 4
    np.testing.assert_allclose(np.array(mx.hadamard_transform(view)), want, rtol=1e-5, atol=1e-5)
    assert mx.hadamard_transform(mx.array(5.0)).item() == 5.0
    assert mx.hadamard_transform(mx.array(5.0), scale=0.2).item() == pytest.approx(1.0)
    ones = mx.array(RNG.standard_normal((8, 8, 1)).astype(np.float32))
    assert mx.array_equal(mx.hadamard_transform(ones), ones).item()


def test_orthonormal_transform_is_its_own_inverse():
    x = mx.array(RNG.standard_normal((3, 2**12)).astype(np.float32))
    back = mx.hadamard_transform(mx.hadamard_transform(x))
    np.testing.assert_allclose(np.array(back), np.array(x), atol=1e-5)


def test_vjp_is_the_transform_of_the_cotangent():
    n = 64
    x = mx.array(RNG.standard_normal((n,)).astype(np.float32))
    c = RNG.standard_normal((n,)).astype(np.float32)
    (_,), (g,) = mx.vjp(lambda v: mx.hadamard_transform(v, scale=0.3), [x], [mx.array(c)])
    np.testing.assert_allclose(np.array(g), sylvester(n) @ c * 0.3, rtol=1e-5, atol=1e-5)
    # jvp: the transform of the tangent (it is linear).
    _, (t,) = mx.jvp(mx.hadamard_transform, [x], [mx.array(c)])
    np.testing.assert_allclose(np.array(t), butterfly(c) / 8, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_vmap_over_any_axis(axis):
    x = RNG.standard_normal((8, 8, 8)).astype(np.float32)
    f = mx.vmap(mx.vmap(mx.hadamard_transform, 0, 0), axis, axis)
    got = np.array(f(mx.array(x)))
    want = np.moveaxis(butterfly(np.moveaxis(x, axis, 0)) / np.sqrt(8), 0, axis)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\[hadamard_transform\] expects a non-empty"):
        mx.hadamard_transform(mx.array([]))
    with pytest.raises(NotImplementedError, match=r"power-of-two size, got 12"):
        mx.hadamard_transform(mx.ones((2, 12)))
    with pytest.raises(ValueError, match=r"expects a real array"):
        mx.hadamard_transform(mx.ones((2, 4), mx.complex64))


def test_stream_argument_places_the_ops():
    s = mx.new_stream(mx.cpu)
    y = mx.hadamard_transform(mx.array([1.0, 0.0, 0.0, 0.0]), scale=1.0, stream=s)
    assert y.tolist() == [1.0, 1.0, 1.0, 1.0]
