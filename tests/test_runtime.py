"""The evaluation runtime: eval/async_eval, streams, fences, events, memory, errors, threads."""

import gc
import os
import threading

import fastsync as mx
import numpy as np
import pytest
from helpers import needs_test_hooks


def settle():
    gc.collect()
    mx.synchronize()


def test_eval_nested_structures():
    a = mx.array([1.0]) + 1
    b = mx.array([2.0]) * 3
    c = mx.array(5) - 1
    mx.eval({"a": a, "rest": [b, (c, "not an array", 3)]}, None, 7)
    assert a.tolist() == [2.0] and b.tolist() == [6.0] and c.item() == 4
    mx.eval()  # nothing to do
    mx.async_eval([a, {"x": b}])


def test_async_eval_then_read():
    x = mx.ones((256, 256))
    ys = []
    for i in range(10):
        x = mx.exp(x * 0.5) * 0.25 + i * 0.01
        mx.async_eval(x)
        ys.append(x)
    want = np.ones((256, 256), np.float32)
    for i, y in enumerate(ys):
        want = np.exp(want * 0.5) * 0.25 + i * 0.01
        np.testing.assert_allclose(np.array(y), want, rtol=1e-5)


def test_async_eval_dropped_outputs_release_memory():
    settle()
    base = mx.get_active_memory()
    for _ in range(50):
        y = mx.ones((512, 512)) * 2 + 1
        mx.async_eval(y)
        del y  # dropped before the compute finishes
    settle()
    assert mx.get_active_memory() == base


def test_long_chain_on_s2_after_one_op_on_s1():
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    x = mx.add(mx.ones((64,)), 1, stream=s1)
    for _ in range(1000):
        x = mx.add(x, 1, stream=s2)
    mx.eval(x)
    assert np.array(x).tolist() == [1002.0] * 64


def test_ping_pong_between_streams_with_tiny_memory_limit(memory_limit):
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    mx.set_memory_limit(1)
    x = mx.zeros((1000,))
    for i in range(300):
        x = mx.add(x, 1, stream=s1 if i % 2 else s2)
    mx.eval(x)
    assert np.array(x).tolist() == [300.0] * 1000


def test_hop_chains_through_views_from_many_threads():
    # Each hop makes the next task wait on the other stream's mark (folded into
    # that task) and the producer's mark fire after its last task. A view
    # between hops encodes no task: the wait must carry over to the next task
    # or the eval's event, never be lost, whatever the interleaving of threads.
    streams = [mx.new_stream(mx.cpu) for _ in range(3)]
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for trial in range(15):
                x = mx.zeros((4, 6))
                ref = np.zeros((4, 6), np.float32)
                for _ in range(int(rng.integers(20, 120))):
                    s = streams[int(rng.integers(0, 3))]
                    kind = int(rng.integers(0, 4))
                    if kind == 0:
                        x = mx.add(x, 1.0, stream=s)
                        ref = ref + 1
                    elif kind == 1:
                        x = mx.multiply(x, 0.5, stream=s)
                        ref = ref * np.float32(0.5)
                    elif kind == 2:  # views: no task of their own
                        x = mx.reshape(mx.transpose(x, stream=s), (4, 6), stream=s)
                        ref = ref.T.reshape(4, 6)
                    else:
                        x = mx.negative(x[::-1], stream=s)
                        ref = -ref[::-1]
                if trial % 3 == 0:
                    mx.async_eval(x)
                elif trial % 3 == 1:
                    mx.eval(x)
                np.testing.assert_allclose(np.array(x), ref, rtol=1e-6)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_a_failure_inside_a_hop_chain_reaches_only_its_descendants():
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    x = mx.arange(5, dtype=mx.float32)
    good = x
    for i in range(50):
        good = mx.add(good, 1.0, stream=s1 if i % 2 else s2)
    bad = good
    for i in range(50):
        if i == 25:
            bad = mx.take(bad, mx.array([99]), stream=s1)  # out of bounds: the task raises
        bad = mx.add(bad, 1.0, stream=s2 if i % 2 else s1)
    with pytest.raises(IndexError):
        mx.eval(bad, good)
    assert good.tolist() == [50.0, 51.0, 52.0, 53.0, 54.0]
    with pytest.raises(IndexError):
        bad.item()
    # Both streams go on working.
    y = good
    for i in range(20):
        y = mx.add(y, 1.0, stream=s1 if i % 2 else s2)
    assert y.tolist() == [70.0, 71.0, 72.0, 73.0, 74.0]


def test_cross_stream_diamond_and_multi_output():
    s1, s2, s3 = (mx.new_stream(mx.cpu) for _ in range(3))
    a = mx.arange(12, stream=s1).astype(mx.float32)
    b = mx.multiply(a, 2, stream=s2)
    c = mx.add(a, 1, stream=s3)
    q, r = mx.divmod(b, c, stream=s1)
    d = mx.add(q, r, stream=s2)
    ref_a = np.arange(12, dtype=np.float32)
    ref_q, ref_r = np.divmod(ref_a * 2, ref_a + 1)
    np.testing.assert_allclose(np.array(d), ref_q + ref_r)
    # Dropping one sibling before eval still computes the other.
    q2, r2 = mx.divmod(mx.array([7, 8]), 3)
    del q2
    assert r2.tolist() == [1, 2]


def test_random_graphs_across_streams():
    rng = np.random.default_rng(0)
    streams = [mx.new_stream(mx.cpu) for _ in range(4)]
    for trial in range(20):
        vals = [mx.array(rng.standard_normal((8,)).astype(np.float32)) for _ in range(3)]
        refs = [np.array(v) for v in vals]
        for _ in range(40):
            i, j = rng.integers(0, len(vals), 2)
            s = streams[rng.integers(0, 4)]
            op = rng.integers(0, 3)
            if op == 0:
                vals.append(mx.add(vals[i], vals[j], stream=s))
                refs.append(refs[i] + refs[j])
            elif op == 1:
                vals.append(mx.multiply(vals[i], 0.5, stream=s))
                refs.append(refs[i] * np.float32(0.5))
            else:
                vals.append(mx.maximum(vals[i], vals[j], stream=s))
                refs.append(np.maximum(refs[i], refs[j]))
        picks = rng.choice(len(vals), 5, replace=False)
        if trial % 2:
            mx.async_eval([vals[k] for k in picks])
        else:
            mx.eval([vals[k] for k in picks])
        for k in picks:
            np.testing.assert_allclose(np.array(vals[k]), refs[k], rtol=1e-5, atol=1e-5)


@needs_test_hooks
def test_error_in_task_surfaces_and_runtime_stays_usable():
    x = mx.ones((4,))
    bad = mx._testing.fail_in_task(x, "deliberate failure")
    y = bad + 1
    with pytest.raises(RuntimeError, match="deliberate failure"):
        mx.eval(y)
    with pytest.raises(RuntimeError, match="deliberate failure"):
        y.item() if y.size == 1 else y.tolist()
    # Later work on the same stream is fine.
    assert (x + 1).tolist() == [2.0] * 4
    # Through async_eval, surfacing at the read, and through another stream.
    s2 = mx.new_stream(mx.cpu)
    z = mx.add(mx._testing.fail_in_task(x, "async failure"), 1, stream=s2)
    mx.async_eval(z)
    with pytest.raises(RuntimeError, match="async failure"):
        np.array(z)
    with pytest.raises(RuntimeError, match="async failure"):
        mx.eval(z + 1)  # consumers of a failed array fail too
    assert mx.add(x, 2, stream=s2).tolist() == [3.0] * 4
    mx.synchronize()


@needs_test_hooks
def test_error_surfaces_at_synchronize():
    s = mx.new_stream(mx.cpu)
    y = mx._testing.fail_in_task(mx.ones((2,)), "sync failure", stream=s)
    mx.async_eval(y)
    with pytest.raises(RuntimeError, match="sync failure"):
        mx.synchronize(s)
    mx.synchronize(s)


@needs_test_hooks
@pytest.mark.parametrize("where", ["device", "device_type"])
def test_synchronize_on_a_device_waits_for_each_of_its_streams(where):
    # Every stream of the device with work, not only its default one; an error on any of
    # them surfaces, once.
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    ok = mx.add(mx.ones((4,)), 1, stream=s1)
    y = mx._testing.fail_in_task(mx.ones((2,)), "device sync failure", stream=s2)
    mx.async_eval(ok, y)
    arg = mx.Device(mx.cpu) if where == "device" else mx.cpu
    with pytest.raises(RuntimeError, match="device sync failure"):
        mx.synchronize(arg)
    mx.synchronize(arg)
    assert ok.tolist() == [2.0] * 4
    with pytest.raises(TypeError, match="got int"):
        mx.synchronize(3)


def test_many_threads_evaluating_concurrently():
    errors = []

    def work(tid):
        try:
            s = mx.new_stream(mx.cpu)
            rng = np.random.default_rng(tid)
            for _ in range(30):
                a = rng.standard_normal((16, 16)).astype(np.float32)
                x = mx.array(a)
                y = mx.sum(mx.exp(mx.multiply(x, 0.1, stream=s)) + tid, axis=1)
                if tid % 2:
                    mx.async_eval(y)
                np.testing.assert_allclose(
                    np.array(y), (np.exp(a * np.float32(0.1)) + tid).sum(1), rtol=1e-5
                )
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_graphs_built_on_one_thread_dropped_on_others():
    # Descriptors, nodes and buffer owners come from per-thread pools: these
    # graphs are made here and freed by short-lived threads (whose pools go
    # back to the shared list as they exit), then made again from it.
    rng = np.random.default_rng(3)
    for round_ in range(4):
        graphs, want = [], []
        for _ in range(8):
            a = rng.standard_normal(64).astype(np.float32)
            y = mx.array(a)
            for k in range(300):
                y = mx.add(y, 1.0) if k % 2 else mx.multiply(y, 1.0)
            graphs.append(y)
            want.append(a + 150)
        results = [None] * len(graphs)

        def finish(i, graphs=graphs, results=results):
            results[i] = np.array(graphs[i])
            graphs[i] = None  # the last handle: its graph is freed on this thread

        threads = [threading.Thread(target=finish, args=(i,)) for i in range(len(graphs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for got, w in zip(results, want, strict=True):
            np.testing.assert_allclose(got, w, rtol=1e-5, err_msg=f"round {round_}")


def test_threads_share_arrays_and_streams():
    s = mx.new_stream(mx.cpu)
    base = mx.add(mx.ones((100,)), 1, stream=s)
    out = [None] * 6

    def work(i):
        y = base
        for _ in range(100):
            y = mx.add(y, 1, stream=s)
        out[i] = y.tolist()[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [102.0] * 6


def test_long_graph_of_large_temporaries_has_bounded_peak():
    settle()
    mx.reset_peak_memory()
    base = mx.get_active_memory()
    n = 1 << 22  # 16 MiB per array, as DESIGN.md's (2048, 2048) float32 pattern
    acc = mx.zeros((n,))
    for i in range(60):
        acc = acc + mx.full((n,), float(i))
    mx.eval(acc)
    peak = mx.get_peak_memory() - base
    assert acc[0].item() == sum(range(60))
    # Encoding runs ahead of compute by at most 64 MiB of outputs (4 arrays
    # here), plus the accumulator and the arrays being computed: measured 8
    # arrays (128 MiB; MLX: 224 MiB). Unthrottled it would be 60.
    assert peak <= 10 * 4 * n, peak / (4 * n)


def test_outputs_encoded_ahead_of_cpu_compute_stay_under_their_cap():
    """FASTSYNC_MAX_INFLIGHT_MB (MiB, fractions allowed) caps the outputs allocated before
    the CPU computes them: 40 fresh 128 KiB intermediates, each summed into an accumulator,
    peak lower with a cap of half a MiB than with 8 MiB, and the same values."""
    import subprocess
    import sys

    code = (
        "import fastsync as mx\n"
        "mx.set_default_device(mx.cpu)\n"
        "x = mx.ones((32768,))\n"
        "acc = mx.zeros((32768,))\n"
        "mx.eval(x, acc)\n"
        "for i in range(40):\n"
        "    acc = acc + mx.exp(x * (i / 40))\n"
        "mx.reset_peak_memory()\n"
        "base = mx.get_active_memory()\n"
        "mx.eval(acc)\n"
        "print((mx.get_peak_memory() - base) / 2**20, acc[0].item())\n"
    )
    runs = {}
    for cap in ("0.5", "8"):
        env = dict(os.environ, FASTSYNC_MAX_INFLIGHT_MB=cap)
        p = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 0, p.stderr
        runs[cap] = [float(v) for v in p.stdout.split()]
    assert runs["0.5"][1] == pytest.approx(runs["8"][1], rel=1e-6)
    assert runs["0.5"][0] + 1.0 < runs["8"][0], runs


@pytest.mark.parametrize(
    "op",
    ["exp", "add", "softmax", "rms_norm", "layer_norm", "rope", "slice_update"],
)
def test_an_intermediate_is_donated_to_the_next_op(op):
    """An op whose input is an intermediate nothing else holds writes its output into the
    input's buffer (on whichever device the suite runs): the eval's peak grows by one
    buffer, not two. The fused kernels (norms, rope, softmax) and a slice assignment once
    held a second handle on the input while choosing, which ruled donation out."""

    def slice_update(t):
        t[:, 3:9] = 0.0
        return t

    f = {
        "exp": mx.exp,
        "add": lambda t: t + 2,
        "softmax": lambda t: mx.softmax(t, axis=-1),
        "rms_norm": lambda t: mx.fast.rms_norm(t, mx.ones((64,)), 1e-5),
        "layer_norm": lambda t: mx.fast.layer_norm(t, None, None, 1e-5),
        "rope": lambda t: mx.fast.rope(t, 16, traditional=False, base=1e4, scale=1.0, offset=3),
        "slice_update": slice_update,
    }[op]
    base = mx.random.normal((1 << 16, 64))  # 16 MiB
    mx.eval(base)
    mx.synchronize()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    y = f(base + 1)
    mx.eval(y)
    grown = (mx.get_peak_memory() - before) / base.nbytes
    assert grown < 1.5, f"{op}: the eval's peak grew by {grown:.2f} buffers"


def _cache_steps(stream_for_reads, steps=48, cols=4096):
    """A cache written a row per step, then read, each step handed to async_eval without a
    wait (a decoding loop): when a step's write is encoded, the previous steps' reads of the
    cache may still be queued, and each read must see the cache as its step left it."""
    cache = mx.zeros((steps, cols))
    mx.eval(cache)
    reads = []
    for i in range(steps):
        cache[i : i + 1] = float(i + 1)  # a broadcast scalar: no row buffer in flight
        reads.append(mx.sum(cache, stream=stream_for_reads))
        mx.async_eval(reads[-1])
    return cache, reads


def _expected(cols, steps):
    return [cols * (i + 1) * (i + 2) / 2 for i in range(steps)]


def test_in_place_writes_wait_for_queued_reads_on_their_stream():
    """A row update after reads queued on the same stream writes the cache in place (the
    reads run first), so one cache's memory, not one per step in flight; the reads still see
    the old contents."""
    mx.synchronize()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    cache, reads = _cache_steps(mx.default_stream(mx.default_device()))
    mx.eval(cache)
    cols = cache.shape[1]
    assert [r.item() for r in reads] == _expected(cols, len(reads))
    grown = (mx.get_peak_memory() - before) / cache.nbytes
    if mx.default_device() == mx.cpu:
        # One cache; copies would hold about 1 + (2 MiB in-flight cap) / (768 KiB) caches.
        assert grown < 1.5, f"the cache was copied: the peak grew by {grown:.2f} caches"


def test_in_place_writes_never_pass_reads_queued_on_another_stream():
    """Reads queued on another stream are not ordered before the write: it must copy."""
    s2 = mx.new_stream(mx.default_device())
    cache, reads = _cache_steps(s2)
    mx.eval(cache)
    cols = cache.shape[1]
    assert [r.item() for r in reads] == _expected(cols, len(reads))


def test_in_place_writes_from_many_threads():
    """Threads each running the pattern above on streams of their own."""
    errors = []

    def work():
        try:
            s = mx.new_stream(mx.default_device())
            with mx.stream(s):
                cache, reads = _cache_steps(s, steps=24, cols=512)
                mx.eval(cache)
            got = [r.item() for r in reads]
            assert got == _expected(512, 24), got
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_memory_functions():
    settle()
    mx.clear_cache()
    assert mx.get_cache_memory() == 0
    x = mx.ones((1 << 16,))
    mx.eval(x)
    assert mx.get_active_memory() >= 4 << 16
    del x
    settle()
    assert mx.get_cache_memory() >= 4 << 16
    old = mx.set_cache_limit(0)
    assert mx.get_cache_memory() == 0
    mx.set_cache_limit(old)
    mx.reset_peak_memory()
    assert mx.get_peak_memory() == 0


def test_streams_and_devices():
    # The CPU unless the suite runs with FASTSYNC_DEFAULT_DEVICE=gpu (tests/conftest.py).
    want, other = mx.cpu, mx.gpu
    if os.environ.get("FASTSYNC_DEFAULT_DEVICE") == "gpu":
        want, other = mx.gpu, mx.cpu
    assert mx.default_device() == want and mx.default_device().type == want
    assert mx.default_device() != other
    assert mx.Device(mx.cpu) != mx.Device(mx.gpu)
    s = mx.default_stream(mx.cpu)
    assert s.device == mx.cpu
    t = mx.new_stream(mx.cpu)
    assert t != s and t.index != s.index
    with mx.stream(t):
        y = mx.ones((2,)) + 1
        assert mx.default_stream(mx.cpu) == t
    assert mx.default_stream(mx.cpu) == s
    assert y.tolist() == [2.0, 2.0]
    mx.synchronize(t)
    mx.synchronize()
    assert "Stream" in repr(t) and "cpu" in repr(mx.Device(mx.cpu))


def test_stream_context_is_thread_local():
    t = mx.new_stream(mx.cpu)
    seen = []
    with mx.stream(t):
        th = threading.Thread(target=lambda: seen.append(mx.default_stream(mx.cpu)))
        th.start()
        th.join()
    assert seen[0] != t


def test_exit_with_work_in_flight_finishes_it():
    """A program that exits with an async_eval never read (a decode loop's last step) ends
    cleanly: the work is finished before teardown instead of racing the BLAS libraries'
    exit handlers."""
    import subprocess
    import sys

    code = (
        "import fastsync as mx\n"
        "a = mx.random.normal((512, 512))\n"
        "for _ in range(40):\n"
        "    a = mx.tanh(a @ a)\n"
        "mx.async_eval(a)\n"
        "print('done')\n"
    )
    for _ in range(3):
        p = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 0 and p.stdout == "done\n", (p.returncode, p.stderr)


def test_cpu_profile_times_each_op_on_its_worker():
    """FASTSYNC_CPU_PROFILE's counters (bench/op_profile.py --device cpu): one entry per
    primitive that computed, its calls counted once, compute and encode times in ms; off
    again, nothing more is recorded."""
    mx._core._cpu_profile(True)
    try:
        with mx.stream(mx.cpu):
            x = mx.ones((64, 64))
            mx.eval(mx.exp(x) @ x, mx.exp(x + 1))
        mx.synchronize()
        prof = mx._core._cpu_profile(False)
    finally:
        mx._core._cpu_profile(False)
    assert prof["Exp"][0] == 2 and prof["Matmul"][0] == 1 and prof["Add"][0] == 1
    assert all(run >= 0 and host >= 0 for _, run, host in prof.values())
    with mx.stream(mx.cpu):
        mx.eval(mx.exp(mx.ones((8,))))
    mx.synchronize()
    assert mx._core._cpu_profile() == {}


FORK_SCRIPT = """
import os, sys
import fastsync as mx

mx.set_default_device(mx.cpu)  # the CPU runtime's threads; CUDA has its own fork rules
if sys.argv[1] == "after":
    x = mx.random.normal((512, 512))
    y = x @ x
    mx.async_eval(y)  # in flight while the process forks
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        msg = "value %s" % (mx.array([1.0]) + 1).item()
    except RuntimeError as e:
        msg = "error %s" % e
    os.write(w, msg.encode())
    os._exit(0)
os.close(w)
_, status = os.waitpid(pid, 0)
print(os.read(r, 4096).decode())
print("parent", (mx.array([2.0]) * 3).item(), status)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
@pytest.mark.parametrize("when", ["before", "after"])
# OpenBLAS stops its threads in a fork handler of its own: with a product in flight
# on a stream worker, fork() used to hang there.
@pytest.mark.parametrize("blas", ["auto", "openblas"])
def test_fork_gives_a_working_child_or_a_clear_error_never_a_hang(when, blas):
    import subprocess
    import sys

    env = dict(os.environ, FASTSYNC_BLAS=blas)
    r = subprocess.run([sys.executable, "-c", FORK_SCRIPT, when], capture_output=True,
                       text=True, timeout=120, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    child, parent = r.stdout.strip().splitlines()
    assert parent == "parent 6.0 0"
    if when == "before":
        assert child == "value 2.0"  # forked before the runtime started: it just works
    else:
        # The first use that could block raises (the allocation of the array, here).
        assert child.startswith("error [array] this process was forked") and "spawn" in child


FORK_MID_CALL_SCRIPT = """
import os, sys, time
import fastsync as mx

mx.set_default_device(mx.cpu)
if sys.argv[1] == "matmul":
    x = mx.random.normal((1536, 1536))
    f = lambda: x @ x
else:
    x = mx.random.normal((64, 1 << 16))
    f = lambda: mx.fft.fft(x)
mx.eval(f())  # the library and its threads have started
y = f()
mx.async_eval(y)
time.sleep(0.003)  # the call is running on the library's threads
pid = os.fork()
if pid == 0:
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("parent", status, bool(mx.all(mx.isfinite(mx.abs(y))).item()))
"""


def cpu_fft_available():
    try:
        mx.eval(mx.fft.fft(mx.ones((4,)), stream=mx.cpu))
    except NotImplementedError:
        return False
    return True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
@pytest.mark.parametrize("op", ["matmul", "fft"])
@pytest.mark.parametrize("blas", ["auto", "openblas"])
def test_fork_waits_for_the_library_call_in_flight_before_its_runtime_forks(op, blas):
    """fastsync's fork handler (the BLAS pool lock) must run before the library's own: MKL's
    OpenMP runtime registers its handler when it starts, so the pool lock's is registered again
    after each start (the BLAS's, the FFT's). In the other order MKL's handler ran with the
    call's parallel region active (it warns so), and with a product it deadlocked against ours
    (the test's 120 s timeout)."""
    import subprocess
    import sys

    if op == "fft" and not cpu_fft_available():
        pytest.skip("no MKL: the CPU FFT raises")
    env = dict(os.environ, FASTSYNC_BLAS=blas)
    r = subprocess.run([sys.executable, "-c", FORK_MID_CALL_SCRIPT, op], capture_output=True,
                       text=True, timeout=120, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "parent 0 True"
    assert "parallel region is active" not in r.stderr, r.stderr


SIGINT_SCRIPT = """
import os, signal, threading, time
import fastsync as mx

mx.set_default_device(mx.cpu)
a = mx.random.normal((384, 384))
for _ in range(400):
    a = mx.tanh(a @ a)  # seconds of work on 2 cores
threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    mx.eval(a)
    time.sleep(5)  # the interrupt lands here at the latest
    print("no interrupt")
except KeyboardInterrupt:
    print("interrupted")
# Usable afterwards: the interrupted array reads, and new work computes.
assert a.shape == (384, 384) and abs(a).max().item() <= 1.0
print((mx.arange(4) * 2).tolist())
"""


def test_ctrl_c_during_a_long_eval_leaves_the_process_usable():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", SIGINT_SCRIPT], capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["interrupted", "[0,", "2,", "4,", "6]"], r.stdout


def test_a_stream_outlives_the_thread_that_made_it():
    made = {}

    def make():
        s = mx.new_stream(mx.cpu)
        made["stream"] = s
        made["x"] = mx.add(mx.arange(5, dtype=mx.float32), 1, stream=s)
        mx.async_eval(made["x"])

    t = threading.Thread(target=make)
    t.start()
    t.join()
    s = made["stream"]
    y = mx.multiply(made["x"], 2, stream=s)
    assert y.tolist() == [2.0, 4.0, 6.0, 8.0, 10.0]
    with mx.stream(s):
        assert (mx.ones(3) + y[:3]).tolist() == [3.0, 5.0, 7.0]
    mx.synchronize(s)


def test_soak_of_dropped_async_evals_ends_where_it_started():
    """A short run of bench/soak.py (a million iterations there): small graphs on two
    streams, one in 16 failing in its task, results dropped before they are computed."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "soak.py"
    spec = importlib.util.spec_from_file_location("soak", path)
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    first, last, _ = soak.run(20_000, "cpu", 2, report=10_000, warmup=2_000)
    assert last[1] <= first[1], (first, last)  # active memory
    assert last[0] - first[0] < 16, (first, last)  # RSS, MiB


DAEMON_AT_EXIT_SCRIPT = """
import atexit, sys, threading, time

def late():
    # Registered before fastsync, so it runs after its exit hook, on the main thread:
    # the main thread still evaluates (it is never parked).
    import fastsync as mx
    print("late", mx.sum(mx.ones((4,)) * 2).item(), flush=True)

atexit.register(late)
import fastsync as mx

a = mx.ones((64, 64))
s = mx.new_stream(mx.cpu)

def spin(k):
    while True:
        if k % 2:
            mx.eval(mx.matmul(a, a))
        else:
            mx.async_eval(mx.exp(a, stream=s))
            mx.synchronize(s)

for k in range(3):
    threading.Thread(target=spin, args=(k,), daemon=True).start()
time.sleep(float(sys.argv[1]))
"""


@pytest.mark.parametrize("after_s", [0.05, 0.2])
def test_exit_with_daemon_threads_inside_evals_is_clean(after_s):
    """Finalization used to unwind a daemon thread leaving an eval (CPython before 3.14
    ends such a thread as it takes the GIL back), through noexcept frames: the process
    aborted with 'terminate called without an active exception'."""
    import subprocess
    import sys

    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", DAEMON_AT_EXIT_SCRIPT, str(after_s)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "late 8.0"


LOGGING_AT_EXIT_SCRIPT = """
import logging, sys, threading, time

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
log = logging.getLogger("train")
import fastsync as mx

a = mx.ones((64, 64))

def train():
    while True:
        # The array is formatted (read: an eval) inside the handler's lock.
        log.info("loss %s", mx.sum(mx.matmul(a, a)))

threading.Thread(target=train, daemon=True).start()
time.sleep(0.1)
"""


def test_exit_while_a_daemon_thread_logs_arrays_does_not_hang():
    """logging's exit hook, registered before fastsync's, waits for the handler's lock,
    which a daemon thread may hold while it formats an array: a thread leaving an eval
    at exit waits for finalization only 2 s, then goes on and frees the lock."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", LOGGING_AT_EXIT_SCRIPT], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "loss array(262144" in r.stdout
