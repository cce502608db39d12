"""Counter-based random numbers: reproducible from keys, right distributions, clear errors."""

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
