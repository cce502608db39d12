"""Counter-based random numbers: reproducible from keys, right distributions, clear errors."""

import math

import fastsync as mx
import numpy as np
import pytest


def test_keys_reproduce_and_split_differs():
    k = mx.random.key(7)
    a = mx.random.uniform(shape=(1000,), key=k)
    b = mx.random.uniform(shape=(1000,), key=k)
    assert np.array_equal(np.array(a), np.array(b))
    k1, k2 = mx.random.split(k)
    assert k1.dtype == mx.uint32 and k1.shape == (2,)
    c = mx.random.uniform(shape=(1000,), key=k1)
    d = mx.random.uniform(shape=(1000,), key=k2)
    assert not np.array_equal(np.array(c), np.array(d))
    # The same key on another stream gives the same numbers.
    s = mx.new_stream(mx.cpu)
    e = mx.random.uniform(shape=(1000,), key=k, stream=s)
    assert np.array_equal(np.array(a), np.array(e))


def test_global_seed():
    mx.random.seed(3)
    a = np.array(mx.random.normal((100,)))
    b = np.array(mx.random.normal((100,)))
    mx.random.seed(3)
    c = np.array(mx.random.normal((100,)))
    assert np.array_equal(a, c) and not np.array_equal(a, b)


def test_uniform_distribution():
    x = np.array(mx.random.uniform(-2, 3, (200_000,), key=mx.random.key(1)))
    assert x.dtype == np.float32
    assert x.min() >= -2 and x.max() < 3
    assert abs(x.mean() - 0.5) < 0.02
    hist, _ = np.histogram(x, bins=10, range=(-2, 3))
    assert hist.min() > 0.9 * len(x) / 10
    h = mx.random.uniform(shape=(1000,), dtype=mx.float16, key=mx.random.key(2))
    assert h.dtype == mx.float16 and np.array(h).max() < 1.0


def test_normal_distribution():
    x = np.array(mx.random.normal((200_000,), loc=1.0, scale=2.0, key=mx.random.key(4)))
    assert abs(x.mean() - 1.0) < 0.03
    assert abs(x.std() - 2.0) < 0.03
    # Tail mass close to the normal's 4.55% beyond two deviations.
    assert abs(np.mean(np.abs(x - 1.0) > 4.0) - 0.0455) < 0.005


def test_randint_bernoulli_categorical():
    r = np.array(mx.random.randint(-3, 5, (50_000,), key=mx.random.key(5)))
    assert r.dtype == np.int32 and r.min() == -3 and r.max() == 4
    counts = np.bincount(r + 3)
    assert counts.min() > 0.9 * len(r) / 8
    b = np.array(mx.random.bernoulli(0.3, (50_000,), key=mx.random.key(6)))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 0.01
    logits = mx.log(mx.array([[0.1, 0.6, 0.3]]))
    logits = mx.broadcast_to(logits, (30_000, 3))
    c = np.array(mx.random.categorical(logits, key=mx.random.key(8)))
    freq = np.bincount(c, minlength=3) / len(c)
    assert np.allclose(freq, [0.1, 0.6, 0.3], atol=0.015)


def test_random_errors():
    with pytest.raises(ValueError, match=r"\[random\] a key is a uint32 array of shape \(2,\)"):
        mx.random.uniform(shape=(2,), key=mx.array([1, 2]))
    with pytest.raises(ValueError, match="dtype must be floating"):
        mx.random.uniform(shape=(2,), dtype=mx.int32)
    with pytest.raises(ValueError, match="randint"):
        mx.random.randint(0, 5, (2,), dtype=mx.float32)
    with pytest.raises(ValueError, match="negative dimension"):
        mx.random.normal((-1,))


# --- MLX's call forms and the samplers beyond uniform/normal -------------------------------

SQRT2 = math.sqrt(2.0)


def norm_cdf(x):
    return 0.5 * (1.0 + math.erf(x / SQRT2))


def norm_pdf(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def assert_cdf(samples, cdf, points, tol=0.006):
    """The empirical CDF of `samples` is within `tol` of `cdf` at `points` (a Kolmogorov
    distance bound; 200k samples put its typical size near 0.001)."""
    samples = np.asarray(samples, dtype=np.float64)
    for p in points:
        assert abs(np.mean(samples <= p) - cdf(p)) < tol, p


def test_mlx_call_forms():
    k = mx.random.key(0)
    a = mx.random.uniform(key=k)
    assert a.shape == () and a.dtype == mx.float32
    assert a.item() == mx.random.uniform(key=k).item()
    assert mx.random.uniform(dtype=None).dtype == mx.float32
    x = np.array(mx.random.uniform(shape=(1000,), low=mx.array(-1), high=5, key=k))
    assert x.min() >= -1 and x.max() < 5
    b = mx.random.uniform(low=-0.1, high=0.1, shape=(1,), dtype=mx.bfloat16)
    assert b.dtype == mx.bfloat16
    # Every argument may be positional, key and stream included.
    n1 = mx.random.normal((3,), mx.float32, None, None, k, mx.cpu)
    n2 = mx.random.normal(shape=(3,), key=k, stream=mx.cpu)
    assert np.array_equal(np.array(n1), np.array(n2))
    assert mx.random.normal().shape == () and mx.random.normal(dtype=None).dtype == mx.float32
    assert mx.random.randint(0, 1, []).shape == ()
    assert mx.random.randint(0, 1, dtype=None).dtype == mx.int32
    assert mx.random.split(k, 3, None).shape == (3, 2)


def test_normal_array_loc_and_scale():
    k = mx.random.key(11)
    loc = mx.random.normal((10, 2), key=mx.random.key(1))
    scale = mx.abs(mx.random.normal((10, 2), key=mx.random.key(2)))
    z = np.array(mx.random.normal((2, 10, 2), key=k))
    x = mx.random.normal((2, 10, 2), loc=loc, scale=scale, key=k)
    assert x.shape == (2, 10, 2) and x.dtype == mx.float32
    want = z * np.array(scale) + np.array(loc)
    np.testing.assert_allclose(np.array(x), want, rtol=1e-6, atol=1e-6)
    # Python scalars: exactly scale * normal() + loc, in the output dtype.
    for dt in (mx.float32, mx.float16, mx.bfloat16):
        a = mx.random.normal((3, 2), dtype=dt, loc=1.0, scale=2.0, key=k)
        b = 2.0 * mx.random.normal((3, 2), dtype=dt, key=k) + 1.0
        assert a.dtype == dt
        assert np.array_equal(np.array(a.astype(mx.float32)), np.array(b.astype(mx.float32)))
    h = mx.random.normal((3, 4, 2), dtype=mx.float16, loc=loc[:3, None], scale=2.0, key=k)
    assert h.shape == (3, 4, 2) and h.dtype == mx.float16
    big = np.array(mx.random.normal((200_000,), loc=mx.array(3.0), scale=mx.array(0.5), key=k))
    assert abs(big.mean() - 3.0) < 0.01 and abs(big.std() - 0.5) < 0.01
    with pytest.raises(ValueError, match=r"\[random.normal\] loc"):
        mx.random.normal((2, 10, 2), loc=mx.zeros((10,)))
    with pytest.raises(ValueError, match=r"\[random.normal\] scale"):
        mx.random.normal((2,), scale=mx.ones((3,)))


def test_half_precision_samples_are_finite():
    k = mx.random.key(5)
    for dt in (mx.float16, mx.bfloat16):
        for sampler in (mx.random.normal, mx.random.laplace, mx.random.gumbel):
            x = sampler((20_000,), dtype=dt, key=k)
            assert x.dtype == dt
            assert np.isfinite(np.array(x.astype(mx.float32))).all()


def test_float64_samples_use_more_bits():
    k = mx.random.key(6)
    for x in (mx.random.uniform(shape=(1000,), dtype=mx.float64, key=k),
              mx.random.normal((1000,), dtype=mx.float64, key=k)):
        assert x.dtype == mx.float64
        # Not all on float32's grid of 2^-24 steps.
        v = np.array(x)
        assert np.any(v != v.astype(np.float32))


def test_truncated_normal_distribution():
    k = mx.random.key(21)
    lo, hi = -1.0, 2.0
    x = np.array(mx.random.truncated_normal(lo, hi, (200_000,), key=k)).astype(np.float64)
    assert x.min() >= lo and x.max() <= hi
    z = norm_cdf(hi) - norm_cdf(lo)
    mean = (norm_pdf(lo) - norm_pdf(hi)) / z
    var = 1 + (lo * norm_pdf(lo) - hi * norm_pdf(hi)) / z - mean * mean
    assert abs(x.mean() - mean) < 0.01 and abs(x.var() - var) < 0.01
    assert_cdf(x, lambda p: (norm_cdf(p) - norm_cdf(lo)) / z, np.linspace(-0.9, 1.9, 8))
    # A one-sided tail.
    t = np.array(mx.random.truncated_normal(1.5, math.inf, (200_000,), key=k))
    assert t.min() >= 1.5 and np.isfinite(t).all()
    assert_cdf(t, lambda p: (norm_cdf(p) - norm_cdf(1.5)) / (1 - norm_cdf(1.5)), [1.6, 2.0, 2.5])
    f64 = mx.random.truncated_normal(-3.0, 3.0, (1000,), dtype=mx.float64, key=k)
    assert f64.dtype == mx.float64 and np.abs(np.array(f64)).max() <= 3.0


def test_truncated_normal_shapes_and_bounds():
    a = mx.random.truncated_normal(-2.0, 2.0)
    assert a.size == 1 and a.dtype == mx.float32
    e = mx.random.truncated_normal(mx.array([]), mx.array([]))
    assert e.size == 0 and e.dtype == mx.float32
    lower = mx.reshape(mx.array([-2.0, 0.0]), [1, 2])
    upper = mx.reshape(mx.array([0.0, 1.0, 2.0]), [3, 1])
    x = mx.random.truncated_normal(lower, upper, key=mx.random.key(3))
    assert x.shape == (3, 2)
    xv = np.array(x)
    assert (np.array(lower) <= xv).all() and (xv <= np.array(upper)).all()
    # lower > upper gives lower.
    assert (np.array(mx.random.truncated_normal(2.0, -2.0, (10,))) == 2.0).all()
    assert mx.random.truncated_normal(-3.0, 3.0, [542, 399]).shape == (542, 399)
    h = mx.random.truncated_normal(-1, 1, (100,), dtype=mx.float16)
    assert h.dtype == mx.float16 and np.abs(np.array(h)).max() <= 1
    with pytest.raises(ValueError, match="truncated_normal"):
        mx.random.truncated_normal(mx.array([-2.0, -1.0]), mx.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="truncated_normal"):
        mx.random.truncated_normal(mx.zeros((3,)), 1.0, (2,))
    with pytest.raises(ValueError, match="truncated_normal"):
        mx.random.truncated_normal(0, 1, dtype=mx.int32)


def test_gumbel_distribution():
    x = np.array(mx.random.gumbel(shape=(200_000,), key=mx.random.key(31))).astype(np.float64)
    assert abs(x.mean() - 0.5772157) < 0.01
    assert abs(x.var() - math.pi**2 / 6) < 0.03
    assert_cdf(x, lambda p: math.exp(-math.exp(-p)), [-1.5, -0.5, 0.0, 0.5, 1.5, 3.0])
    assert mx.random.gumbel((100, 100)).shape == (100, 100)
    assert mx.random.gumbel((1, 1)).dtype == mx.random.gumbel((1, 1), dtype=None).dtype
    assert mx.random.gumbel(dtype=mx.float64).dtype == mx.float64
    with pytest.raises(ValueError, match="gumbel"):
        mx.random.gumbel((2,), dtype=mx.uint8)


def test_laplace_distribution():
    k = mx.random.key(41)
    x = np.array(mx.random.laplace((200_000,), loc=1.0, scale=2.0, key=k)).astype(np.float64)
    assert abs(np.median(x) - 1.0) < 0.02 and abs(x.mean() - 1.0) < 0.03
    assert abs(x.var() - 8.0) < 0.2  # 2 b^2

    def cdf(p):
        return 0.5 * math.exp((p - 1) / 2) if p < 1 else 1 - 0.5 * math.exp(-(p - 1) / 2)

    assert_cdf(x, cdf, [-5.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0])
    for dt in (mx.float32, mx.float16):
        a = mx.random.laplace((3, 2), dtype=dt, loc=1.0, scale=2.0, key=k)
        b = 2.0 * mx.random.laplace((3, 2), dtype=dt, key=k) + 1.0
        assert np.array_equal(np.array(a), np.array(b))
    with pytest.raises(ValueError, match="laplace"):
        mx.random.laplace((2,), dtype=mx.int32)


def test_permutation():
    k = mx.random.key(51)
    p = mx.random.permutation(10, key=k)
    assert p.dtype == mx.uint32 and sorted(np.array(p).tolist()) == list(range(10))
    assert np.array_equal(np.array(p), np.array(mx.random.permutation(10, key=k)))
    assert not np.array_equal(np.arange(16384), np.array(mx.random.permutation(16384)))
    x = mx.arange(16).reshape(4, 4)
    for axis in (0, 1, -1):
        y = np.array(mx.random.permutation(x, axis=axis, key=k))
        assert np.array_equal(np.sort(y, axis=axis), np.array(x))
    # Whole rows (or columns) move together.
    y = np.array(mx.random.permutation(x, 0, k))
    assert sorted(y[:, 0].tolist()) == [0, 4, 8, 12] and (np.diff(y, axis=1) == 1).all()
    assert mx.random.permutation(mx.array([[1]])).shape == (1, 1)
    assert mx.random.permutation(mx.array([1.5, 2.5])).dtype == mx.float32
    assert mx.random.permutation(0).shape == (0,)
    # Each element lands in each position about equally often.
    keys = mx.random.split(mx.random.key(52), 800)
    pos = [int(np.argmax(np.array(mx.random.permutation(4, key=keys[i])) == 0))
           for i in range(800)]
    counts = np.bincount(pos, minlength=4)
    assert counts.min() > 140 and counts.max() < 260
    with pytest.raises(ValueError, match="permutation"):
        mx.random.permutation(-1)
    with pytest.raises(ValueError, match="permutation"):
        mx.random.permutation(mx.array(3.0))
    with pytest.raises(ValueError, match="permutation"):
        mx.random.permutation(x, axis=2)


def test_randint_exact_bounds():
    k = mx.random.key(61)
    for dtype, low, high in [
        (mx.int32, 2**24, 2**24 + 2),
        (mx.uint32, 2**24, 2**24 + 2),
        (mx.int64, 2**40, 2**40 + 1024),
        (mx.int64, -(2**62), 2**62),
        (mx.uint64, 0, 2**64 - 1),
        (mx.int8, -128, 127),
    ]:
        a = np.array(mx.random.randint(low, high, [10000], dtype=dtype, key=k))
        assert a.dtype == np.dtype(str(dtype).split(".")[-1])
        assert (a.astype(object) >= low).all() and (a.astype(object) < high).all()
    assert np.unique(np.array(mx.random.randint(2**24, 2**24 + 2, [1000], key=k))).size == 2
    a = np.array(mx.random.randint(-5, 5, [20000], key=k))
    assert sorted(set(a.tolist())) == list(range(-5, 5))
    counts = np.bincount(a + 5)
    assert counts.min() > 1800 and counts.max() < 2200
    b = np.array(mx.random.randint(0, 2, [1000], dtype=mx.bool_, key=k))
    assert b.dtype == np.bool_ and set(b.tolist()) == {False, True}
    assert not np.array(mx.random.randint(0, 1, [1000], dtype=mx.bool_, key=k)).any()
    assert (np.array(mx.random.randint(10, -10, [100])) == 10).all()
    lo = mx.reshape(mx.array([0, 10, 20]), [3, 1])
    hi = mx.reshape(mx.array([5, 6, 7, 8]), [1, 4]) + lo * 0 + 20
    r = np.array(mx.random.randint(lo, hi, (3, 4), key=k))
    assert (r >= np.array(lo)).all() and (r < np.array(hi)).all()
    with pytest.raises(ValueError, match="randint"):
        mx.random.randint(mx.zeros((3,), mx.int32), 5, (2,))
    with pytest.raises(ValueError, match="randint"):
        mx.random.randint(0, 5, (2,), dtype=mx.float16)


def test_bernoulli_checks():
    a = mx.random.bernoulli()
    assert a.shape == () and a.dtype == mx.bool_
    assert mx.random.bernoulli(mx.array(0.5), [5]).shape == (5,)
    assert np.array(mx.random.bernoulli(mx.array([2.0, -2.0]))).tolist() == [True, False]
    p = mx.array([0.1, 0.2, 0.3])
    x = np.array(mx.random.bernoulli(p, [40_000, 3], key=mx.random.key(71)))
    np.testing.assert_allclose(x.mean(axis=0), [0.1, 0.2, 0.3], atol=0.01)
    with pytest.raises(ValueError, match="bernoulli"):
        mx.random.bernoulli(p, [2])
    with pytest.raises(ValueError, match="bernoulli"):
        mx.random.bernoulli(0, [2])
    with pytest.raises(ValueError, match="bernoulli"):
        mx.random.bernoulli(mx.array([1, 0]))


def test_categorical_shape_and_num_samples():
    logits = mx.zeros((10, 20))
    assert mx.random.categorical(logits, -1).shape == (10,)
    assert mx.random.categorical(logits, 0).shape == (20,)
    out = mx.random.categorical(logits, 0, [5, 20])
    assert out.shape == (5, 20) and out.dtype == mx.uint32 and np.array(out).max() < 10
    assert mx.random.categorical(logits, 1, num_samples=7).shape == (10, 7)
    assert mx.random.categorical(logits, 0, num_samples=7).shape == (20, 7)
    one = mx.zeros((20,))
    assert mx.random.categorical(one, num_samples=7).shape == (7,)
    assert mx.random.categorical(one, 0, [5, 3]).shape == (5, 3)
    assert mx.random.categorical(one, num_samples=0).shape == (0,)
    # num_samples draws independently from each distribution.
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
    s = np.array(mx.random.categorical(mx.log(mx.array(probs)), num_samples=40_000,
                                       key=mx.random.key(81)))
    for row, want in zip(s, probs, strict=True):
        np.testing.assert_allclose(np.bincount(row, minlength=3) / len(row), want, atol=0.012)
    # shape: broadcast over the batch of distributions.
    t = np.array(mx.random.categorical(mx.log(mx.array(probs)), 1, [20_000, 2],
                                       key=mx.random.key(82)))
    np.testing.assert_allclose(np.bincount(t[:, 1], minlength=3) / len(t), probs[1], atol=0.015)
    with pytest.raises(ValueError, match="categorical"):
        mx.random.categorical(logits, shape=[10, 5], num_samples=5)
    with pytest.raises(ValueError, match="categorical"):
        mx.random.categorical(logits, 1, [10, 5])
    with pytest.raises(ValueError, match="categorical"):
        mx.random.categorical(logits, 2)
    with pytest.raises(ValueError, match="categorical"):
        mx.random.categorical(logits, num_samples=-1)


def check_gaussian(data, mean, cov, tol):
    data = np.asarray(data, dtype=np.float64)
    np.testing.assert_allclose(data.mean(axis=0), mean, atol=tol)
    np.testing.assert_allclose(np.cov(data.T, bias=True), cov, atol=tol)


def test_multivariate_normal_moments():
    k = mx.random.key(91)
    mean, cov = [4.0, 7.0], [[2.0, 0.5], [0.5, 1.0]]
    d = mx.random.multivariate_normal(mx.array(mean), mx.array(cov), (100_000,), key=k,
                                      stream=mx.cpu)
    assert d.shape == (100_000, 2) and d.dtype == mx.float32
    check_gaussian(d, mean, cov, 0.03)
    # Semi-definite (rank 2), integer mean.
    cov = [[1, -1, 0.5], [-1, 1, -0.5], [0.5, -0.5, 1]]
    d = mx.random.multivariate_normal(mx.arange(3), mx.array(cov), (100_000,), key=k)
    assert np.isfinite(np.array(d)).all()
    check_gaussian(d, [0, 1, 2], cov, 0.03)
    # A larger random covariance, in float64.
    rng = np.random.default_rng(0)
    m = rng.standard_normal((6, 6))
    cov = m @ m.T / 6 + 0.1 * np.eye(6)
    d = mx.random.multivariate_normal(mx.zeros((6,)), mx.array(cov), (100_000,),
                                      dtype=mx.float64, key=k)
    assert d.dtype == mx.float64
    check_gaussian(d, np.zeros(6), cov, 0.05)


def test_multivariate_normal_batches():
    k = mx.random.key(92)
    mean = mx.array([[0, 7], [1, 2], [3, 4]])
    cov = mx.array([[1, 0.5], [0.5, 1]])
    assert mx.random.multivariate_normal(mean, cov, shape=(4, 3)).shape == (4, 3, 2)
    assert mx.random.multivariate_normal(mean[0], cov).shape == (2,)
    covs = mx.stack([mx.eye(2), 4 * mx.eye(2)])
    d = np.array(mx.random.multivariate_normal(mx.zeros((2,)), covs, (50_000, 2), key=k))
    assert d.shape == (50_000, 2, 2)
    np.testing.assert_allclose(d[:, 0].var(axis=0), [1, 1], atol=0.05)
    np.testing.assert_allclose(d[:, 1].var(axis=0), [4, 4], atol=0.2)
    # Not positive semi-definite: NaN, never silent garbage.
    for cov in ([[1.0, 2], [2, 1]], [[0.0, 1], [1, 1]]):
        bad = np.array(mx.random.multivariate_normal(mx.zeros((2,)), mx.array(cov)))
        assert np.isnan(bad).any()
    # A zero variance is fine: that coordinate is its mean.
    z = np.array(mx.random.multivariate_normal(mx.array([3.0, 0]), mx.array([[0.0, 0], [0, 1]]),
                                               (100,), key=k))
    assert (z[:, 0] == 3.0).all() and z[:, 1].std() > 0.5


def test_multivariate_normal_errors():
    k = mx.random.key(0)
    mean, cov = mx.array([0, 0]), mx.array([[1, 0], [0, 1]])
    for t in (mx.int32, mx.uint8, mx.float16, mx.bfloat16):
        with pytest.raises(ValueError, match="multivariate_normal"):
            mx.random.multivariate_normal(mean, cov, dtype=t, key=k)
    cases = [
        (mx.zeros((2, 2)), mx.zeros((2, 2)), (3,)),
        (mx.zeros((2,)), mx.zeros((2, 2, 2)), (3,)),
        (mx.zeros((3,)), mx.zeros((2, 2)), ()),
        (mx.zeros((2,)), mx.zeros((2, 3)), ()),
        (mx.zeros(()), mx.zeros((2, 2)), ()),
        (mx.zeros((2,)), mx.zeros((2,)), ()),
    ]
    for m, c, shape in cases:
        with pytest.raises(ValueError, match="multivariate_normal"):
            mx.random.multivariate_normal(m, c, shape=shape, key=k)


SAMPLERS = {
    "uniform": lambda k: mx.random.uniform(shape=(50,), key=k),
    "normal": lambda k: mx.random.normal((50,), key=k),
    "randint": lambda k: mx.random.randint(0, 1000, (50,), key=k),
    "bernoulli": lambda k: mx.random.bernoulli(0.5, (50,), key=k),
    "truncated_normal": lambda k: mx.random.truncated_normal(-1, 1, (50,), key=k),
    "gumbel": lambda k: mx.random.gumbel((50,), key=k),
    "laplace": lambda k: mx.random.laplace((50,), key=k),
    "categorical": lambda k: mx.random.categorical(mx.zeros((50, 30)), key=k),
    "permutation": lambda k: mx.random.permutation(50, key=k),
    "multivariate_normal": lambda k: mx.random.multivariate_normal(
        mx.zeros((2,)), mx.eye(2), (25,), key=k),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_reproducible_from_a_key(name):
    f = SAMPLERS[name]
    k1, k2 = mx.random.split(mx.random.key(123))
    a, b, c = np.array(f(k1)), np.array(f(k1)), np.array(f(k2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # Another stream of the same device computes the same numbers (CPU and GPU may differ
    # in the last bit where their math libraries do).
    with mx.stream(mx.new_stream(mx.default_device())):
        assert np.array_equal(a, np.array(f(k1)))


def test_bad_arguments_leave_the_process_usable():
    bad = [
        lambda: mx.random.gumbel((2, -3)),
        lambda: mx.random.uniform(shape=(2, -3)),
        lambda: mx.random.laplace((2,), key=mx.array([1, 2, 3], mx.uint32)),
        lambda: mx.random.categorical(mx.zeros(())),
        lambda: mx.random.truncated_normal(mx.zeros((2,)), mx.zeros((3,))),
    ]
    for f in bad:
        with pytest.raises(ValueError, match=r"\[random"):
            f()
    assert mx.random.normal((4,), key=mx.random.key(1)).shape == (4,)
    assert np.isfinite(np.array(mx.random.gumbel((4,)))).all()
