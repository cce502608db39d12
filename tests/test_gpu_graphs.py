"""Runs of GPU ops launched as CUDA graphs (src/backend/cuda/graph.h; every run in the test
suite, see conftest.py, runs of small ops by default): a run of four or more ops on one GPU
stream is captured and launched as graphs, whose executable forms are cached and updated
when the run recurs. These tests check what a user sees: the same values as NumPy (and as
the same program with FASTSYNC_CUDA_GRAPHS=0) when runs recur with new values, new shapes,
interleaved structures, several streams, crossings and failures.
They skip where no CUDA device exists.
"""

import os
import subprocess
import sys
import textwrap

import fastsync as mx
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not mx.is_available(mx.gpu), reason="no CUDA device")


def step(x, i, stream):
    """Op i of a chain: x * 1.01, + 0.5, - 0.25 in turn, each a separate node."""
    if i % 3 == 0:
        return mx.multiply(x, 1.01, stream=stream)
    if i % 3 == 1:
        return mx.add(x, 0.5, stream=stream)
    return mx.subtract(x, 0.25, stream=stream)


def chain(x, n, stream=mx.gpu):
    """n elementwise ops on one stream: x * 1.01 + 0.5 - 0.25 ..."""
    for i in range(n):
        x = step(x, i, stream)
    return x


def hop_chain(x, n, streams):
    """The ops of chain(), op i on streams[i % len(streams)]: a fence per op."""
    for i in range(n):
        x = step(x, i, streams[i % len(streams)])
    return x


def chain_np(x, n):
    x = x.astype(np.float32)
    for i in range(n):
        x = [
            lambda t: t * np.float32(1.01),
            lambda t: t + np.float32(0.5),
            lambda t: t - np.float32(0.25),
        ][i % 3](x)
    return x


def test_a_long_run_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((33, 17)).astype(np.float32)
    y = chain(mx.array(a), 300)
    np.testing.assert_allclose(np.array(y), chain_np(a, 300), rtol=1e-4)


def test_a_recurring_run_takes_new_values_and_shapes():
    """The executable graph of a run is updated in place for new buffers and shapes; a
    stale parameter would give the previous iteration's values."""
    rng = np.random.default_rng(1)
    for i, n in enumerate([64, 64, 65, 64, 1000, 3, 64, 64]):
        a = rng.standard_normal((n,)).astype(np.float32)
        y = chain(mx.array(a), 12)
        np.testing.assert_allclose(np.array(y), chain_np(a, 12), rtol=1e-5, err_msg=f"iter {i}")


def test_interleaved_structures_each_keep_their_graph():
    rng = np.random.default_rng(2)
    for i in range(10):
        a = rng.standard_normal((8, 8)).astype(np.float32)
        x = mx.array(a)
        if i % 2:
            y = mx.exp(chain(x, 6)) + mx.sum(x, axis=0)
            want = np.exp(chain_np(a, 6)) + a.sum(axis=0)
        else:
            y = mx.softmax(chain(x, 5) @ x, axis=-1)
            z = chain_np(a, 5) @ a
            want = np.exp(z - z.max(-1, keepdims=True))
            want /= want.sum(-1, keepdims=True)
        np.testing.assert_allclose(np.array(y), want, rtol=1e-4, atol=1e-6, err_msg=f"iter {i}")


def test_runs_on_two_streams_joined_by_fences():
    s1, s2 = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    a = np.arange(12, dtype=np.float32)
    x = mx.array(a)
    for _ in range(3):
        u = chain(x, 8, stream=s1)
        v = chain(mx.multiply(u, 2.0, stream=s2), 8, stream=s2)
        w = chain(mx.add(u, v, stream=s1), 8, stream=s1)
        want_u = chain_np(a, 8)
        want_v = chain_np(want_u * 2, 8)
        np.testing.assert_allclose(np.array(w), chain_np(want_u + want_v, 8), rtol=1e-5)


def test_a_chain_hopping_between_streams_is_captured_whole():
    """A run hopping between two GPU streams of one device, a fence per op, is captured as
    one run spanning both (the second stream joins the first's capture): nearly all its ops
    go into graphs, a handful of launches, and the values are NumPy's, run after run (the
    executable graph updated for new buffers), with either stream first."""
    s1, s2 = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    rng = np.random.default_rng(7)
    for i in range(6):
        a = rng.standard_normal((40,)).astype(np.float32)
        streams = (s1, s2) if i % 2 == 0 else (s2, s1)
        y = hop_chain(mx.array(a), 60, streams)
        before = counters()
        mx.eval(y)
        after = counters()
        np.testing.assert_allclose(np.array(y), chain_np(a, 60), rtol=1e-4, err_msg=f"run {i}")
        if os.environ.get("FASTSYNC_CUDA_GRAPHS") != "0":
            captured = after["graph_ops"] - before["graph_ops"]
            launches = after["graph_launches"] - before["graph_launches"]
            assert captured >= 55 and launches <= 6, (captured, launches)


def test_forks_and_joins_across_streams_inside_a_capture():
    """Two branches from one value on two streams, combined on a third, then read by a CPU
    stream (which ends the capture) and by more GPU work: right values, and an error in one
    branch spoils only what reads it."""
    s1, s2, s3 = (mx.new_stream(mx.gpu) for _ in range(3))
    a = np.linspace(-2, 2, 64, dtype=np.float32)
    for _ in range(3):
        x = chain(mx.array(a), 5, stream=s1)
        u = chain(x, 7, stream=s2)
        v = chain(mx.multiply(x, 2.0, stream=s3), 7, stream=s3)
        w = chain(mx.add(u, v, stream=s1), 6, stream=s1)
        c = mx.add(w, 1.0, stream=mx.cpu)
        z = chain(mx.multiply(c, 0.5, stream=s2), 6, stream=s2)
        mx.eval(z, w)
        xn = chain_np(a, 5)
        wn = chain_np(chain_np(xn, 7) + chain_np(xn * 2, 7), 6)
        np.testing.assert_allclose(np.array(w), wn, rtol=1e-4)
        np.testing.assert_allclose(np.array(z), chain_np((wn + 1) * 0.5, 6), rtol=1e-4)

    idx = mx.array(np.array([0, 99], dtype=np.int32))
    x = chain(mx.array(a), 5, stream=s1)
    bad = chain(mx.take(chain(x, 4, stream=s2), idx, stream=s2), 4, stream=s2)
    good = chain(x, 8, stream=s3)
    both = mx.add(chain(x, 4, stream=s1), good, stream=s1)
    with pytest.raises(IndexError, match="out of bounds"):
        mx.eval(bad, both)
    xn = chain_np(a, 5)
    np.testing.assert_allclose(np.array(both), chain_np(xn, 4) + chain_np(xn, 8), rtol=1e-4)
    np.testing.assert_allclose(np.array(good), chain_np(xn, 8), rtol=1e-4)
    with pytest.raises(IndexError, match="out of bounds"):
        np.array(bad)
    # The streams work on.
    y = hop_chain(mx.array(a), 30, (s2, s1, s3))
    np.testing.assert_allclose(np.array(y), chain_np(a, 30), rtol=1e-4)


def test_async_evals_hopping_between_streams():
    """Evals queued back to back, each a chain hopping between two streams that starts from
    the previous one's result: the next capture waits on the previous eval's events, and
    reading results as they come gives NumPy's values."""
    s1, s2 = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    x = mx.ones((128,))
    outs = []
    for k in range(12):
        x = hop_chain(x, 9, (s1, s2) if k % 3 else (s2, s1))
        mx.async_eval(x)
        outs.append(x)
        if k % 4 == 3:
            outs[k - 2][0].item()
    want, v = [], np.ones((1,), np.float32)
    for _ in range(12):
        v = chain_np(v, 9)
        want.append(float(v[0]))
    np.testing.assert_allclose([o[0].item() for o in outs], want, rtol=1e-4)


def test_a_run_crossing_to_the_cpu_and_back():
    a = np.linspace(-1, 1, 50, dtype=np.float32)
    g = chain(mx.array(a), 10)
    c = mx.add(mx.multiply(g, 3.0, stream=mx.cpu), 1.0, stream=mx.cpu)
    y = chain(c, 10)
    np.testing.assert_allclose(np.array(y), chain_np(chain_np(a, 10) * 3 + 1, 10), rtol=1e-5)


def test_async_evals_of_recurring_runs_pipeline():
    """The decode pattern: build step k+1, async_eval it, read step k, while the graph of
    step k may still run when step k+1's replaces its parameters."""
    x = mx.ones((256,))
    vals = []
    nxt = chain(x, 9)
    mx.async_eval(nxt)
    for _ in range(20):
        cur = nxt
        nxt = chain(cur, 9)
        mx.async_eval(nxt)
        vals.append(cur[0].item())
    want, v = [], np.ones((1,), np.float32)
    for _ in range(20):
        v = chain_np(v, 9)
        want.append(float(v[0]))
    np.testing.assert_allclose(vals, want, rtol=1e-5)


def test_a_failure_inside_a_run_surfaces_and_the_next_run_works():
    a = mx.array(np.arange(5, dtype=np.float32))
    bad = mx.take(chain(a, 6), mx.array(np.array([0, 9], dtype=np.int32)), stream=mx.gpu)
    with pytest.raises(IndexError, match="out of bounds"):
        mx.eval(chain(bad, 6))
    y = chain(a, 6)
    np.testing.assert_allclose(np.array(y), chain_np(np.arange(5, dtype=np.float32), 6), rtol=1e-5)


def test_same_values_with_graphs_off():
    """A mixed program (matmul, reductions, fused chains under compile, random, indexing)
    prints the same values with FASTSYNC_CUDA_GRAPHS=0 as with graphs."""
    prog = textwrap.dedent("""
        import fastsync as mx, numpy as np
        mx.set_default_device(mx.gpu)
        mx.random.seed(3)
        w = mx.random.normal((64, 64))
        @mx.compile
        def step(x):
            h = mx.maximum(x @ w, 0.0) * 0.5 + 1.0
            return mx.softmax(h, axis=-1), mx.sum(h * h, axis=0)
        x = mx.random.uniform(shape=(16, 64))
        out = []
        for i in range(5):
            p, s = step(x)
            x = mx.take(p, mx.arange(16) % 8, axis=0) + mx.random.normal((16, 64)) * 0.1
            out.append(np.array(s))
        print(np.concatenate(out).tobytes().hex())
    """)
    runs = []
    for flag in ("1", "0", None):  # every run, none, runs of small ops (the default)
        env = dict(os.environ, FASTSYNC_CUDA_GRAPHS=flag or "")
        if flag is None:
            del env["FASTSYNC_CUDA_GRAPHS"]
        r = subprocess.run(
            [sys.executable, "-c", prog], env=env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        runs.append(r.stdout)
    assert runs[0] == runs[1] == runs[2]


def counters():
    return mx._core._backend_counters(mx.gpu)


@pytest.mark.skipif(os.environ.get("FASTSYNC_CUDA_GRAPHS") != "1", reason="graphs are off")
def test_a_recurring_run_is_instantiated_once():
    x = mx.ones((1024,))
    mx.eval(x)
    chain(x, 20).tolist()  # first time: instantiated
    before = counters()
    for _ in range(5):
        chain(x, 20).tolist()
    after = counters()
    launched = after["graph_launches"] - before["graph_launches"]
    assert launched >= 5 and launched % 5 == 0  # the same graphs each time
    assert after["graph_instantiations"] == before["graph_instantiations"]
    # Short runs are launched op by op.
    mx.add(x, 1.0, stream=mx.gpu).tolist()
    assert counters()["graph_launches"] == after["graph_launches"]


def test_by_default_only_runs_of_small_ops_are_captured():
    """Without FASTSYNC_CUDA_GRAPHS, a run of small ops is captured (its launches cost more
    than its kernels) and a run of large ones (over 4 MiB each) is launched op by op; a large
    op in the middle of a small run ends the capture before it; a view of a large array
    writes nothing and stays in the run; the values stay right."""
    prog = textwrap.dedent("""
        import fastsync as mx, numpy as np
        mx.set_default_device(mx.gpu)
        def captured(*outs):  # (nodes evaluated, ops captured into graphs)
            nodes = sum(mx._core._graph_ops(list(outs)).values())
            before = mx._core._backend_counters(mx.gpu)["graph_ops"]
            mx.eval(*outs)
            return nodes, mx._core._backend_counters(mx.gpu)["graph_ops"] - before
        # Constants made beforehand: a Python scalar would add a small op per use.
        scale, shift = mx.array(1.01), mx.array(0.5)
        def chain(x, n):
            for i in range(n):
                x = x * scale if i % 2 else x + shift
            return x
        small, large = mx.ones((1024,)), mx.ones((2048, 1024))  # 4 KiB, 8 MiB
        mx.eval(small, large, scale, shift)
        print(*captured(chain(small, 20)))
        print(*captured(chain(large, 20)))
        mixed = chain(mx.sum(chain(large, 3), axis=1), 12)  # 3 large ops, then small ones
        print(*captured(mixed))
        viewed = chain(chain(small, 5) + large.T[0, :1024], 5)  # a transposed 8 MiB view
        print(*captured(viewed))
        def chain_np(x, n):
            for i in range(n):
                x = x * np.float32(1.01) if i % 2 else x + np.float32(0.5)
            return x
        ones = np.ones((2048, 1024), np.float32)
        want = chain_np(chain_np(ones, 3).sum(axis=1), 12)
        np.testing.assert_allclose(np.array(mixed), want, rtol=1e-5)
        want = chain_np(chain_np(ones[0], 5) + 1, 5)
        np.testing.assert_allclose(np.array(viewed), want, rtol=1e-6)
    """)
    env = dict(os.environ)
    env.pop("FASTSYNC_CUDA_GRAPHS", None)
    r = subprocess.run(
        [sys.executable, "-c", prog], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    (n_small, c_small), (_, c_large), (n_mixed, c_mixed), (n_viewed, c_viewed) = (
        map(int, line.split()) for line in r.stdout.splitlines()
    )
    assert c_small == n_small == 20, r.stdout
    assert c_large == 0, r.stdout
    assert c_mixed == n_mixed - 3, r.stdout
    assert c_viewed == n_viewed, r.stdout


# -- library calls replayed as graphs (src/backend/cuda/call_graphs.h) -----------------------

graphs_on = pytest.mark.skipif(
    os.environ.get("FASTSYNC_CUDA_GRAPHS") == "0" or os.environ.get("FASTSYNC_CUBLASLT") == "0",
    reason="graphs or cuBLASLt are off",
)


@graphs_on
def test_a_loop_of_small_products_replays_them_as_graphs():
    """x = maximum(x @ w, 0), evaluated step by step: each eval is two ops, too short to
    capture as a run, but the product's cuBLASLt call recurs with the same buffers every
    other step and is launched as a graph; every step's values are NumPy's."""
    rng = np.random.default_rng(21)
    w_np = (rng.standard_normal((64, 64)) / 8).astype(np.float32)
    x_np = rng.standard_normal((64, 64)).astype(np.float32)
    w, x = mx.array(w_np), mx.array(x_np)
    mx.eval(w, x)
    before = counters()
    for i in range(12):
        x = mx.maximum(mx.matmul(x, w, stream=mx.gpu), 0.0, stream=mx.gpu)
        mx.eval(x)
        x_np = np.maximum(x_np @ w_np, 0.0)
        np.testing.assert_allclose(np.array(x), x_np, rtol=1e-4, atol=1e-5, err_msg=f"step {i}")
    after = counters()
    assert after["call_graph_replays"] - before["call_graph_replays"] >= 6


@graphs_on
def test_a_replayed_product_reads_its_buffers_anew():
    """The same product over buffers whose values change between calls (new arrays at
    recycled addresses, and an in-place update through a donated buffer): a replayed graph
    reads what the buffers hold now, it does not memoize the result."""
    rng = np.random.default_rng(22)
    b_np = rng.standard_normal((48, 40)).astype(np.float32)
    b = mx.array(b_np)
    before = counters()
    for i in range(8):
        a_np = rng.standard_normal((32, 48)).astype(np.float32)
        y = mx.matmul(mx.array(a_np), b, stream=mx.gpu)
        np.testing.assert_allclose(np.array(y), a_np @ b_np, rtol=1e-4, atol=1e-4, err_msg=str(i))
        del y
    # The operand the product reads changes in place (its buffer donated to the add).
    a = mx.array(rng.standard_normal((32, 48)).astype(np.float32))
    mx.eval(a)
    for i in range(6):
        a = mx.add(a, 1.0, stream=mx.gpu)
        a_np = np.array(a)
        y = mx.matmul(a, b, stream=mx.gpu)
        np.testing.assert_allclose(np.array(y), a_np @ b_np, rtol=1e-4, atol=1e-3, err_msg=str(i))
    assert counters()["call_graph_replays"] > before["call_graph_replays"]


@graphs_on
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16])
def test_replayed_products_keep_their_scalars_apart(dtype):
    """addmm over the same buffers with alpha and beta changing from call to call: the
    scalars are part of what a replayed graph is keyed by, so each call scales as asked."""
    rng = np.random.default_rng(23)
    tol = {mx.float32: 1e-4, mx.float64: 1e-10, mx.float16: 2e-2}[dtype]
    a, b, c = (mx.array(rng.standard_normal(s)).astype(dtype) for s in [(24, 16), (16, 8), (24, 8)])
    ar, br, cr = (np.array(t.astype(mx.float64)) for t in (a, b, c))
    mx.eval(a, b, c)
    for alpha, beta in [(1.0, 0.0), (0.5, 2.0), (1.0, 0.0), (0.5, 2.0), (-3.0, 1.0), (0.5, 2.0)]:
        z = mx.addmm(c, a, b, alpha=alpha, beta=beta, stream=mx.gpu)
        want = alpha * (ar @ br) + beta * cr
        np.testing.assert_allclose(np.array(z.astype(mx.float64)), want, rtol=tol, atol=tol * 16)


@graphs_on
def test_recurring_kernel_launches_replay_as_graphs():
    """Short evals outside any captured run (a round trip, a reduction read back) launch
    their kernels as graphs once the same launch recurs; values stay NumPy's while the
    buffers the launches read are refilled with new values."""
    rng = np.random.default_rng(24)
    s = mx.array(np.float32(1.5))
    before = counters()
    for i in range(10):
        s = mx.add(s, 1.0, stream=mx.gpu)
        mx.eval(s)
        assert s.item() == 2.5 + i
    for _ in range(8):
        a = rng.standard_normal((50, 30)).astype(np.float32)
        t = mx.sum(mx.multiply(mx.array(a), 2.0, stream=mx.gpu), axis=1, stream=mx.gpu)
        np.testing.assert_allclose(np.array(t), (a * 2).sum(axis=1), rtol=1e-5, atol=1e-5)
    assert counters()["call_graph_replays"] - before["call_graph_replays"] >= 8


@graphs_on
def test_replays_of_a_run_launch_as_one_graph_in_order():
    """A step of two recurring calls (a product, then its activation) launches as one graph
    once the pair has recurred. What follows the pair sees its work done: a kernel launched
    directly on the same stream (a gather), an op on another GPU stream, and the host."""
    rng = np.random.default_rng(25)
    # He-scaled: the relu chain keeps values of about one over the steps.
    w_np = (rng.standard_normal((64, 64)) * np.sqrt(2 / 64)).astype(np.float32)
    x_np = rng.standard_normal((64, 64)).astype(np.float32)
    idx_np = rng.integers(0, 64, size=17).astype(np.int32)
    w, x, idx = mx.array(w_np), mx.array(x_np), mx.array(idx_np)
    other = mx.new_stream(mx.gpu)
    mx.eval(w, x, idx)
    # x alternates between two buffers, so each step's pair of calls recurs every other step:
    # each call is captured on its second sighting and each pair combined on the second
    # sighting of both replays together, by the eighth step. Warmed up past that, every way
    # of reading the pair below sees combined runs from its first step.
    for _ in range(10):
        x = mx.maximum(mx.matmul(x, w, stream=mx.gpu), 0.0, stream=mx.gpu)
        mx.eval(x)
    x_np = np.array(x)
    runs = [0] * 4
    for i in range(32):
        how = i // 8
        before = counters()["call_graph_runs"]
        x = mx.maximum(mx.matmul(x, w, stream=mx.gpu), 0.0, stream=mx.gpu)
        # One step of NumPy from the GPU's last values: rounding does not pile up.
        x_np = np.maximum(x_np @ w_np, 0.0)
        if how == 0:
            mx.async_eval(x)
        elif how == 1:
            # The pair, then at once a gather of its output on the same stream.
            g = mx.take(x, idx, axis=0, stream=mx.gpu)
            np.testing.assert_allclose(np.array(g), x_np[idx_np], rtol=1e-4, atol=1e-4)
        elif how == 2:
            # The pair, then a reduction of its output on another GPU stream.
            s = mx.sum(x, axis=1, stream=other)
            np.testing.assert_allclose(np.array(s), x_np.sum(axis=1), rtol=1e-4, atol=1e-4)
        else:
            mx.eval(x)
        got = np.array(x)
        np.testing.assert_allclose(got, x_np, rtol=1e-4, atol=1e-4, err_msg=f"step {i}")
        x_np = got
        runs[how] += counters()["call_graph_runs"] - before
    assert np.abs(x_np).max() > 0.1  # the values did not fade to zeros
    if os.environ.get("FASTSYNC_CUDA_REPLAY_RUNS") != "0":
        assert min(runs) > 0, runs  # each way of reading saw combined runs


@graphs_on
def test_an_async_loop_of_pairs_launches_one_graph_a_step():
    """async_eval of maximum(x @ w, 0) step after step, read at the end: in steady state
    each step's two calls go as one combined graph, and the values are NumPy's."""
    rng = np.random.default_rng(26)
    w_np = (rng.standard_normal((128, 128)) * np.sqrt(2 / 128)).astype(np.float32)
    x_np = rng.standard_normal((128, 128)).astype(np.float32)
    w, x = mx.array(w_np), mx.array(x_np)
    mx.eval(w, x)
    before = counters()
    steps = 40
    for _ in range(steps):
        x = mx.maximum(mx.matmul(x, w, stream=mx.gpu), 0.0, stream=mx.gpu)
        mx.async_eval(x)
        x_np = np.maximum(x_np @ w_np, 0.0)
    # Forty steps of rounding apart (a wrong order would be off by far more).
    np.testing.assert_allclose(np.array(x), x_np, rtol=1e-2, atol=1e-3)
    assert np.abs(x_np).max() > 0.1
    after = counters()
    if os.environ.get("FASTSYNC_CUDA_REPLAY_RUNS") != "0":
        assert after["call_graph_runs"] - before["call_graph_runs"] >= steps // 2, (before, after)
