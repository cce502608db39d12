"""mx.fft against numpy.fft: every transform, sizes, axes, norms, views, gradients, errors.

Gradients are checked as directional derivatives: for a real loss f of a complex input,
fastsync's gradient g (d f / d re + i d f / d im, PyTorch's convention) must satisfy
f(x + eps d) - f(x - eps d) = 2 eps Re(sum(conj(g) d)).
"""

import fastsync as mx
import numpy as np
import pytest

RNG = np.random.default_rng(5)


def _fft_available():
    try:
        mx.eval(mx.fft.fft(mx.zeros((2,))))
        return True
    except NotImplementedError:
        return False


pytestmark = pytest.mark.skipif(
    not _fft_available(), reason="no FFT library on this device (the CPU one needs MKL)"
)


def crand(*shape):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(np.complex64)


def rrand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def close(got, want, tol=1e-4):
    got = np.array(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


NORMS = ["backward", "ortho", "forward"]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n", [None, 5, 12])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_one_dimensional(norm, n, axis):
    c, r = crand(6, 9, 4), rrand(6, 9, 4)
    kw = dict(n=n, axis=axis, norm=norm)
    close(mx.fft.fft(mx.array(c), **kw), np.fft.fft(c, **kw))
    close(mx.fft.ifft(mx.array(c), **kw), np.fft.ifft(c, **kw))
    close(mx.fft.rfft(mx.array(r), **kw), np.fft.rfft(r, **kw))
    half = np.fft.rfft(r, axis=axis).astype(np.complex64)
    close(mx.fft.irfft(mx.array(half), **kw), np.fft.irfft(half, **kw))


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize(
    "s, axes",
    [(None, None), (None, (0, 2)), ((4, 6), (1, 2)), ((5, 3), (2, 0)), (None, (-1,)), ((7,), (1,))],
)
def test_n_dimensional(norm, s, axes):
    c, r = crand(4, 5, 6), rrand(4, 5, 6)
    kw = dict(s=s, axes=axes, norm=norm)
    close(mx.fft.fftn(mx.array(c), **kw), np.fft.fftn(c, **kw))
    close(mx.fft.ifftn(mx.array(c), **kw), np.fft.ifftn(c, **kw))
    close(mx.fft.rfftn(mx.array(r), **kw), np.fft.rfftn(r, **kw))
    spectrum = np.fft.rfftn(r, axes=axes).astype(np.complex64)
    close(mx.fft.irfftn(mx.array(spectrum), **kw), np.fft.irfftn(spectrum, **kw))


def test_two_dimensional_defaults():
    c, r = crand(3, 4, 6), rrand(3, 4, 6)
    close(mx.fft.fft2(mx.array(c)), np.fft.fft2(c))
    close(mx.fft.ifft2(mx.array(c), s=(5, 5)), np.fft.ifft2(c, s=(5, 5)))
    close(mx.fft.rfft2(mx.array(r), axes=(0, 1)), np.fft.rfft2(r, axes=(0, 1)))
    half = np.fft.rfft2(r).astype(np.complex64)
    close(mx.fft.irfft2(mx.array(half)), np.fft.irfft2(half))


@pytest.mark.parametrize("n", [1, 2, 7, 97, 1000, 1037, 3**7, 4096])
def test_many_lengths(n):
    c, r = crand(2, n), rrand(2, n)
    tol = 1e-4 if n < 1000 else 5e-4
    close(mx.fft.fft(mx.array(c)), np.fft.fft(c), tol)
    close(mx.fft.rfft(mx.array(r)), np.fft.rfft(r), tol)
    close(mx.fft.ifft(mx.fft.fft(mx.array(c))), c.astype(np.complex128), tol)


@pytest.mark.parametrize("m", [7883, 16384, 18247])
def test_inverse_real_transforms_of_lengths_with_large_prime_factors(m):
    """2 (m - 1) real samples from m frequencies, where m - 1 has a large prime factor: the
    single-precision complex-to-real transform of MKL's AVX-512 code was off by 2e-3 on
    samples of order one (a single transform; batches took another path); the backward real
    axis runs in double precision. Batched along the last axis and along a leading one
    (strided transforms) too."""
    one = np.fft.rfft(rrand(2 * (m - 1))).astype(np.complex64)  # samples of order one
    close(mx.fft.irfft(mx.array(one)), np.fft.irfft(one), 1e-5)
    half = np.fft.rfft(rrand(3, 2 * (m - 1))).astype(np.complex64)
    close(mx.fft.irfft(mx.array(half)), np.fft.irfft(half), 1e-5)
    close(mx.fft.irfft(mx.array(half.T), axis=0), np.fft.irfft(half.T, axis=0), 1e-5)
    close(mx.fft.irfft2(mx.array(half)), np.fft.irfft2(half), 1e-5)


def test_inputs_of_other_dtypes_and_layouts():
    ints = RNG.integers(-5, 5, (4, 6)).astype(np.int32)
    close(mx.fft.fft(mx.array(ints)), np.fft.fft(ints))
    close(mx.fft.rfft(mx.array(ints)), np.fft.rfft(ints))
    half = rrand(4, 6).astype(np.float16)
    close(mx.fft.rfft(mx.array(half)), np.fft.rfft(half.astype(np.float32)), 1e-3)
    base = crand(8, 10)
    close(mx.fft.fft(mx.array(base)[::2, 1::3]), np.fft.fft(base[::2, 1::3]))
    close(mx.fft.fft(mx.array(base).T, axis=0), np.fft.fft(base.T, axis=0))
    rb = rrand(1, 10)
    close(
        mx.fft.rfft(mx.broadcast_to(mx.array(rb), (3, 10))),
        np.fft.rfft(np.broadcast_to(rb, (3, 10))),
    )


def test_the_input_is_left_intact():
    # A complex transform reads its input out of place: the input stays as it was, also
    # when the same array feeds several transforms over one or more axes.
    base = crand(6, 16, 8)
    x = mx.array(base)
    outs = [mx.fft.fft(x), mx.fft.fftn(x), mx.fft.ifft2(x, axes=(0, 2)), x * 1]
    mx.eval(*outs)
    close(outs[0], np.fft.fft(base))
    close(outs[1], np.fft.fftn(base))
    close(outs[2], np.fft.ifft2(base, axes=(0, 2)))
    np.testing.assert_array_equal(np.array(x), base)
    np.testing.assert_array_equal(np.array(outs[3]), base)


def test_shift_and_frequencies():
    x = rrand(4, 5, 6)
    for axes in [None, [0], [-1], [0, 2]]:
        close(mx.fft.fftshift(mx.array(x), axes=axes), np.fft.fftshift(x, axes=axes))
        close(mx.fft.ifftshift(mx.array(x), axes=axes), np.fft.ifftshift(x, axes=axes))
    for n, d in [(1, 1.0), (8, 1.0), (9, 0.25), (10, -2.0)]:
        close(mx.fft.fftfreq(n, d), np.fft.fftfreq(n, d))
        close(mx.fft.rfftfreq(n, d), np.fft.rfftfreq(n, d))
    empty = mx.array(np.zeros((0,), np.float32))
    assert mx.fft.fftshift(empty).shape == (0,)


def test_vmap_and_compile():
    c = crand(3, 4, 8)
    got = mx.vmap(lambda a: mx.fft.fftn(a, axes=(0, 1)))(mx.array(c))
    close(got, np.stack([np.fft.fftn(v, axes=(0, 1)) for v in c]))
    f = mx.compile(lambda a: mx.fft.irfft(mx.fft.rfft(a)) * 2)
    r = rrand(3, 8)
    close(f(mx.array(r)), 2 * r)


def test_on_another_stream():
    s = mx.new_stream(mx.default_device())
    c = crand(5, 16)
    close(mx.fft.fft(mx.array(c), stream=s) * 2, 2 * np.fft.fft(c))


# --- gradients -----------------------------------------------------------


def directional(f, x, complex_input, eps=1e-3, trials=3):
    g = np.array(mx.grad(f)(mx.array(x)))
    for _ in range(trials):
        d = crand(*x.shape) if complex_input else rrand(*x.shape)
        up = float(f(mx.array(x + eps * d)).item())
        down = float(f(mx.array(x - eps * d)).item())
        numeric = (up - down) / (2 * eps)
        analytic = float(np.real(np.sum(np.conj(g) * d)))
        assert abs(numeric - analytic) <= 2e-2 * max(1.0, abs(numeric)), (numeric, analytic)


@pytest.mark.parametrize("shape", [(4, 4), (2, 7), (3, 6)])
@pytest.mark.parametrize("axes", [(-1,), (-2, -1), (0,)])
@pytest.mark.parametrize("norm", ["backward", "ortho"])
def test_gradients(shape, axes, norm):
    w = mx.array(rrand(*shape))

    def loss(y):
        # Real and imaginary parts weighted differently, so a wrong conjugation shows.
        wy = w[tuple(slice(0, k) for k in y.shape)]
        if y.dtype == mx.complex64:
            return (mx.real(y) * wy).sum() + 0.5 * (mx.imag(y) ** 2).sum()
        return (y * wy).sum() + 0.1 * (y**2).sum()

    kw = dict(axes=axes, norm=norm)
    directional(lambda x: loss(mx.fft.fftn(x, **kw)), crand(*shape), True)
    directional(lambda x: loss(mx.fft.ifftn(x, **kw)), crand(*shape), True)
    directional(lambda x: loss(mx.fft.rfftn(x, **kw)), rrand(*shape), False)
    # irfftn's input: a real signal's spectrum, so the loss is smooth in it.
    spectrum = np.fft.rfftn(rrand(*shape), axes=axes).astype(np.complex64)
    n = [shape[a] for a in axes]
    directional(lambda x: loss(mx.fft.irfftn(x, s=n, **kw)), spectrum, True)


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda: mx.fft.fft(mx.array(3.0)), "at least one dimension"),
        (lambda: mx.fft.irfftn(mx.array(3.0)), "at least one dimension"),
        (lambda: mx.fft.fft(mx.zeros((4,)), norm="invalid"), "norm"),
        (lambda: mx.fft.fft(mx.zeros((4,)), n=0), "invalid number of data points"),
        (lambda: mx.fft.fft(mx.zeros((4,)), axis=1), "out of bounds"),
        (lambda: mx.fft.fftn(mx.zeros((4, 4)), axes=(0, 0)), "repeated"),
        (lambda: mx.fft.fftn(mx.zeros((4, 4)), s=(2, 2, 2)), "sizes"),
        (lambda: mx.fft.rfft(mx.zeros((4,), mx.complex64)), "real input"),
        (lambda: mx.fft.irfft(mx.zeros((1,), mx.complex64)), "invalid number of data points"),
        (lambda: mx.fft.fftshift(mx.zeros((4, 4)), axes=[2]), "out of bounds"),
        (lambda: mx.fft.fftfreq(0), "positive"),
        (lambda: mx.fft.rfftfreq(4, d=0.0), "spacing"),
    ],
)
def test_errors(call, text):
    with pytest.raises(ValueError, match=text):
        call()


def test_two_dimensional_axes_none_means_every_axis():
    c = crand(3, 4, 5)
    close(mx.fft.fft2(mx.array(c), axes=None), np.fft.fft2(c, axes=None))
    close(mx.fft.fft2(mx.array(c)), np.fft.fft2(c))
