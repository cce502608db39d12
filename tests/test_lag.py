"""Results must not depend on how far the host runs ahead of a stream. mx._testing.stall makes
a stream stand still for a while (a sleeping CPU task, or a GPU kernel spinning on the GPU's
clock), so everything queued behind it waits and the host encodes far ahead, as on a slow or
busy device: buffer reuse, donation, replays and crossings then meet work still in flight.
The GPU cases skip without a CUDA device."""

import fastsync as mx
import numpy as np
import pytest
from fastsync.bench import models
from helpers import needs_test_hooks

pytestmark = needs_test_hooks

has_gpu = mx.is_available(mx.gpu)
devices = [mx.cpu] + ([mx.gpu] if has_gpu else [])
needs_gpu = pytest.mark.skipif(not has_gpu, reason="no CUDA device")


@pytest.mark.parametrize("device", devices, ids=lambda d: str(d))
def test_stall_copies_its_input(device):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((5, 7)).astype(np.float32)
    a = mx.array(a_np)
    # A transposed view: the copy is row-contiguous whatever it reads.
    out = mx._testing.stall(a.T, 200, stream=device)
    np.testing.assert_array_equal(np.array(out), a_np.T)
    empty = mx._testing.stall(mx.zeros((0, 3)), 0, stream=device)
    assert np.array(empty).shape == (0, 3)


def test_stall_rejects_a_bad_duration():
    with pytest.raises(ValueError, match=r"\[stall\] microseconds"):
        mx._testing.stall(mx.ones((2,)), -1)
    with pytest.raises(ValueError, match=r"\[stall\] microseconds"):
        mx._testing.stall(mx.ones((2,)), 20_000_000)


class Lagging:
    """``fastsync`` for a model's code, except that each ``async_eval`` and ``eval`` first
    stalls the default stream for ``us`` microseconds: each step's work queues behind it."""

    def __init__(self, us):
        self.us = us
        self.tick = mx.zeros((1,))
        mx.eval(self.tick)

    def _lag(self):
        self.tick = mx._testing.stall(self.tick, self.us)
        mx.async_eval(self.tick)

    def async_eval(self, *args):
        self._lag()
        return mx.async_eval(*args)

    def eval(self, *args):
        self._lag()
        return mx.eval(*args)

    def __getattr__(self, name):
        return getattr(mx, name)


@pytest.mark.parametrize("device", devices, ids=lambda d: str(d))
def test_generation_does_not_depend_on_how_far_the_stream_lags(device):
    """Two generations with the same seed, back to back behind stalls: the first one's last
    step (handed to async_eval and never read) is still queued when the second one draws its
    weights, and both must match a generation that never lagged."""
    import fastsync.nn as nn

    cfg = models.shapes("generate", "cpu", quick=True)
    old = mx.default_device()
    mx.set_default_device(device)
    try:
        want = models.generate_runner(mx, nn, cfg, seed=5)()["tokens"]
        runs = []
        for us in (300, 3000):
            lib = Lagging(us)
            runs += [models.generate_runner(lib, nn, cfg, seed=5)()["tokens"] for _ in range(2)]
    finally:
        mx.set_default_device(old)
    assert len(want) == cfg["tokens"]
    assert all(r == want for r in runs), (want, runs)


@needs_gpu
def test_an_unread_async_eval_does_not_write_into_later_staging():
    """An async_eval whose arrays are dropped at once, of an op that can fail (its error slot
    is copied to the host at the eval's point), still queued behind a stall: the pinned buffer
    that copy writes must not be handed to the next crossing's staging (here a random key's),
    or the queued copy overwrites the key before it reaches the GPU."""
    want = np.array(mx.random.normal((8,), key=mx.random.key(1), stream=mx.gpu))
    src, idx = mx.arange(16.0), mx.array([1, 2, 3])
    mx.eval(src, idx)
    for _ in range(4):
        t = mx._testing.stall(mx.zeros((1,)), 20_000, stream=mx.gpu)
        g = mx.take(src, idx, stream=mx.gpu)
        mx.async_eval(t, g)
        del t, g
        got = np.array(mx.random.normal((8,), key=mx.random.key(1), stream=mx.gpu))
        np.testing.assert_array_equal(got, want)


def test_an_op_that_fails_to_encode_leaves_the_runtime_usable():
    """The op raises on the eval's thread, before it declares anything, with its input still
    in flight on another CPU stream: the error surfaces, and later evals give right values."""
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    x = mx.arange(32.0)
    slow = mx._testing.stall(x * 2, 5_000, stream=s1)
    with pytest.raises(RuntimeError, match="deliberate encode failure"):
        mx.eval(mx._testing.fail_in_encode(slow, "deliberate encode failure", stream=s2))
    np.testing.assert_array_equal(np.array(mx.add(slow, 1, stream=s2)), np.arange(32.0) * 2 + 1)


def test_failures_while_encoding_among_lagging_streams_leave_right_values():
    """Random producers and consumers among CPU streams (and GPU streams where present), each
    producer lagging up to 2 ms: half the consumers fail to encode, reading the producer's
    result still in flight (a crossing when the devices differ). Every result read after the
    failures, on yet another stream, is the producer's values plus one."""
    rng = np.random.default_rng(11)
    streams = [mx.new_stream(mx.cpu) for _ in range(3)]
    if has_gpu:
        streams += [mx.new_stream(mx.gpu) for _ in range(3)]
    kept = []
    for step in range(60):
        prod, cons, reader = (streams[i] for i in rng.choice(len(streams), 3, replace=False))
        a_np = rng.standard_normal(int(rng.integers(1, 3000))).astype(np.float32)
        slow = mx._testing.stall(mx.array(a_np), int(rng.integers(0, 2000)), stream=prod)
        if rng.random() < 0.5:
            with pytest.raises(RuntimeError, match=f"stress {step}"):
                mx.eval(mx._testing.fail_in_encode(slow, f"stress {step}", stream=cons))
        out = mx.add(slow, 1, stream=reader)
        mx.async_eval(out)
        kept.append((out, a_np + 1))
        if len(kept) == 8:
            for got, want in kept:
                np.testing.assert_array_equal(np.array(got), want)
            kept.clear()
    for got, want in kept:
        np.testing.assert_array_equal(np.array(got), want)


@needs_gpu
def test_a_failed_gpu_op_does_not_free_the_copy_a_cpu_stream_still_fills():
    """A GPU op that fails to encode, reading a CPU stream's result still in flight: the kernel
    that copies it to the device is queued already, so the copy's device buffer must outlive the
    failure. Freed at once, the next allocation of its size (another GPU stream's result) got
    it, and the queued copy then overwrote that result."""
    other = mx.new_stream(mx.gpu)
    c = mx.arange(64.0, stream=other)
    mx.eval(c)
    for _ in range(3):
        slow = mx._testing.stall(mx.ones((64,)), 20_000, stream=mx.cpu)
        with pytest.raises(RuntimeError, match="gpu encode failure"):
            mx.eval(mx._testing.fail_in_encode(slow, "gpu encode failure", stream=mx.gpu))
        b = mx.add(c, c, stream=other)
        mx.eval(b)
        mx.synchronize()
        np.testing.assert_array_equal(np.array(b), np.arange(64.0) * 2)


@needs_gpu
def test_a_failed_cpu_op_does_not_free_the_pinned_copy_a_gpu_stream_still_fills():
    """The other way: a CPU op that fails to encode, reading a lagging GPU stream's result. The
    pinned buffer the GPU copies into must outlive the failure, or a later crossing's staging
    gets it and the queued copy overwrites the staged values before they reach the GPU."""
    x = mx.full((16,), 3.0, stream=mx.gpu)
    mx.eval(x)
    want = np.arange(16.0, dtype=np.float32)
    for _ in range(3):
        slow = mx._testing.stall(x, 20_000, stream=mx.gpu)
        with pytest.raises(RuntimeError, match="cpu encode failure"):
            mx.eval(mx._testing.fail_in_encode(slow, "cpu encode failure", stream=mx.cpu))
        # Staged through a pinned buffer of the same size, copied behind the stall.
        got = mx.negative(mx.array(want), stream=mx.gpu)
        np.testing.assert_array_equal(np.array(got), -want)


@needs_gpu
def test_a_lagging_gpu_loop_matches_numpy():
    """A decode-like loop on the GPU, every step behind a stall: a product, its activation, a
    gather with checked indices, a cache that grows by concatenation, a reduction read on
    another GPU stream and on the CPU, all handed to async_eval before the last step is
    read."""
    rng = np.random.default_rng(7)
    w_np = (rng.standard_normal((64, 64)) * np.sqrt(2 / 64)).astype(np.float32)
    x_np = rng.standard_normal((4, 64)).astype(np.float32)
    idx_np = np.array([3, 0, 2], dtype=np.int32)
    w, x, idx = mx.array(w_np), mx.array(x_np), mx.array(idx_np)
    other = mx.new_stream(mx.gpu)
    cache, cache_np = mx.zeros((0, 64)), np.zeros((0, 64), np.float32)
    tick = mx.zeros((1,))
    pending = []
    for step in range(24):
        tick = mx._testing.stall(tick, 1000 if step % 3 else 3000, stream=mx.gpu)
        mx.async_eval(tick)
        x = mx.maximum(mx.matmul(x, w, stream=mx.gpu), 0.0, stream=mx.gpu)
        x_np = np.maximum(x_np @ w_np, 0.0)
        g = mx.take(x, idx, axis=0, stream=mx.gpu)
        cache = mx.concatenate([cache, g], axis=0, stream=mx.gpu)
        cache_np = np.concatenate([cache_np, x_np[idx_np]], axis=0)
        s_gpu = mx.sum(cache, axis=1, stream=other)
        s_cpu = mx.sum(g, axis=0, stream=mx.cpu)
        mx.async_eval(x, cache, s_gpu, s_cpu)
        pending.append((s_gpu, s_cpu, cache_np.sum(axis=1), x_np[idx_np].sum(axis=0)))
        if len(pending) > 2:  # read two steps behind, as a pipelined loop does
            sg, sc, want_g, want_c = pending.pop(0)
            np.testing.assert_allclose(np.array(sg), want_g, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(np.array(sc), want_c, rtol=1e-4, atol=1e-4)
        # Rounding does not pile up: the next step starts from the GPU's values.
        x_np = np.array(x)
        cache_np = np.array(cache)
    for sg, sc, want_g, want_c in pending:
        np.testing.assert_allclose(np.array(sg), want_g, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.array(sc), want_c, rtol=1e-4, atol=1e-4)
