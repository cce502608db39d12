"""The CUDA backend's runtime: crossings between devices, GPU streams, errors, memory.

Every op test doubles as a GPU test with FASTSYNC_DEFAULT_DEVICE=gpu; these
cover what only exists with a GPU. They skip where no CUDA device exists.
"""

import gc
import os
import threading

import fastsync as mx
import numpy as np
import pytest
from helpers import needs_test_hooks

pytestmark = pytest.mark.skipif(not mx.is_available(mx.gpu), reason="no CUDA device")


def settle():
    gc.collect()
    mx.synchronize()


@pytest.fixture
def gpu_default():
    """The GPU as default device for one test; then the device before it (the GPU itself
    under FASTSYNC_DEFAULT_DEVICE=gpu), not the CPU."""
    prev = mx.default_device()
    mx.set_default_device(mx.gpu)
    try:
        yield
    finally:
        mx.set_default_device(prev)


def test_gpu_ops_match_numpy():
    x = np.random.default_rng(0).standard_normal((33, 65)).astype(np.float32)
    a = mx.array(x)
    y = mx.exp(mx.multiply(a, 0.5, stream=mx.gpu), stream=mx.gpu)
    np.testing.assert_allclose(np.array(y), np.exp(x * 0.5), rtol=1e-5)
    assert mx.add(mx.array(2.0), 1, stream=mx.gpu).item() == 3.0


def test_gpu_to_cpu_to_gpu_in_one_eval():
    x = np.arange(1000, dtype=np.float32)
    g1 = mx.multiply(mx.array(x), 2, stream=mx.gpu)
    c = mx.add(g1, 1, stream=mx.cpu)
    g2 = mx.multiply(c, 3, stream=mx.gpu)
    mx.eval(g2)
    np.testing.assert_array_equal(np.array(g2), (x * 2 + 1) * 3)
    np.testing.assert_array_equal(np.array(c), x * 2 + 1)


def test_crossings_across_async_evals():
    x = np.linspace(-1, 1, 4096, dtype=np.float32)
    g = mx.exp(mx.array(x), stream=mx.gpu)
    mx.async_eval(g)
    c = mx.multiply(g, 2, stream=mx.cpu)  # GPU array still in flight
    mx.async_eval(c)
    g2 = mx.add(c, 1, stream=mx.gpu)  # CPU array still in flight
    np.testing.assert_allclose(np.array(g2), np.exp(x) * 2 + 1, rtol=1e-6)


def test_strided_views_cross_devices():
    x = np.arange(48, dtype=np.float32).reshape(6, 8)
    g = mx.multiply(mx.array(x), 1, stream=mx.gpu)
    v = g[::-2, 1:7:3]  # negative and non-unit strides
    c = mx.add(v, 0, stream=mx.cpu)
    np.testing.assert_array_equal(np.array(c), x[::-2, 1:7:3])
    h = mx.array(x)[:, ::-1]
    np.testing.assert_array_equal(np.array(mx.add(h, 0, stream=mx.gpu)), x[:, ::-1])


def test_long_chain_on_gpu_stream_after_one_op_on_another():
    s1, s2 = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    x = mx.add(mx.ones((64,), stream=s1), 1, stream=s1)
    for _ in range(1000):
        x = mx.add(x, 1, stream=s2)
    mx.eval(x)
    assert np.array(x).tolist() == [1002.0] * 64


def test_ping_pong_between_gpu_streams_with_tiny_memory_limit():
    s1, s2 = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    with mx.stream(s1):
        old = mx.set_memory_limit(1)
        try:
            x = mx.zeros((1000,))
            for i in range(300):
                x = mx.add(x, 1, stream=s1 if i % 2 else s2)
            mx.eval(x)
        finally:
            mx.set_memory_limit(old)
    assert np.array(x).tolist() == [300.0] * 1000


def test_ping_pong_gpu_and_cpu_streams():
    g, c = mx.new_stream(mx.gpu), mx.new_stream(mx.cpu)
    x = mx.array(np.zeros(257, np.float32))
    for i in range(200):
        x = mx.add(x, 1, stream=g if i % 2 else c)
        if i % 50 == 0:
            mx.async_eval(x)
    assert np.array(x).tolist() == [200.0] * 257


def test_random_graphs_across_gpu_and_cpu_streams():
    rng = np.random.default_rng(1)
    streams = [mx.new_stream(mx.gpu), mx.new_stream(mx.gpu), mx.new_stream(mx.cpu)]
    for trial in range(12):
        vals = [mx.array(rng.standard_normal((16,)).astype(np.float32)) for _ in range(3)]
        refs = [np.array(v) for v in vals]
        for _ in range(40):
            i, j = rng.integers(0, len(vals), 2)
            s = streams[rng.integers(0, len(streams))]
            if rng.integers(0, 2):
                vals.append(mx.add(vals[i], vals[j], stream=s))
                refs.append(refs[i] + refs[j])
            else:
                vals.append(mx.maximum(mx.multiply(vals[i], 0.5, stream=s), vals[j], stream=s))
                refs.append(np.maximum(refs[i] * np.float32(0.5), refs[j]))
        picks = rng.choice(len(vals), 5, replace=False)
        (mx.async_eval if trial % 2 else mx.eval)([vals[k] for k in picks])
        for k in picks:
            np.testing.assert_allclose(np.array(vals[k]), refs[k], rtol=1e-5, atol=1e-5)


def test_constant_copied_behind_slow_work_is_read_in_order_on_another_gpu_stream():
    # The first GPU op to read a host array copies it to the device on its
    # stream, behind that stream's queued work; the copy is cached on the
    # array. A second GPU stream reading the cached copy must wait for the
    # copy, not read the device buffer before it is filled.
    a, b = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    w = mx.add(mx.ones((2048, 2048)), 0.0, stream=a)
    mx.eval(w)
    for seed in range(4):
        c_np = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
        c = mx.array(c_np)
        slow = w
        for _ in range(16):
            slow = mx.matmul(slow, w, stream=a)
        mx.async_eval(slow)
        ya = mx.add(c, 1.0, stream=a)
        mx.async_eval(ya)
        yb = mx.add(c, 2.0, stream=b)
        np.testing.assert_allclose(np.array(yb), c_np + 2.0, rtol=1e-6)
        np.testing.assert_allclose(np.array(ya), c_np + 1.0, rtol=1e-6)
        mx.eval(slow)


@pytest.mark.parametrize(
    "dtype,n", [(np.int8, 1001), (np.float32, 37), (np.float16, 4097), (np.float32, 20000)]
)
def test_small_crossings_of_views_at_odd_offsets_while_in_flight(dtype, n):
    # GPU -> CPU and back while each producer is still in flight, over views
    # whose first byte is not aligned, at sizes on both sides of the small-copy
    # path (kernels instead of the copy engine up to 64 KiB).
    x_np = (np.random.default_rng(n).standard_normal(n) * 10).astype(dtype)
    g = mx.add(mx.array(x_np), 0, stream=mx.gpu)
    with mx.stream(mx.gpu):
        v = g[1:-2]
    c = mx.add(v, 1, stream=mx.cpu)
    back = mx.multiply(c, 2, stream=mx.gpu)
    want = ((x_np[1:-2] + dtype(1)) * dtype(2)).astype(dtype)
    np.testing.assert_allclose(np.array(back), want, rtol=1e-3)
    np.testing.assert_allclose(np.array(c), (x_np[1:-2] + dtype(1)).astype(dtype), rtol=1e-3)


@pytest.mark.parametrize("n", [1, 33, 16383, 16384, 16385, 70000])
def test_host_reads_of_computed_gpu_arrays_on_both_sides_of_the_pinned_path(n):
    # item(), tolist() and NumPy conversion of arrays computed on the GPU:
    # up to 64 KiB through pinned staging, past it straight to host memory;
    # views with offsets and negative strides read only their own elements.
    x_np = np.arange(n, dtype=np.float32) * 0.5 - 3
    g = mx.add(mx.array(x_np), 1, stream=mx.gpu)
    mx.eval(g)
    np.testing.assert_array_equal(np.array(g), x_np + 1)
    with mx.stream(mx.gpu):
        back = g[::-1]
        odd = g[1::3]
    np.testing.assert_array_equal(np.array(back), (x_np + 1)[::-1])
    assert odd.tolist() == (x_np + 1)[1::3].tolist()
    assert mx.sum(g, stream=mx.gpu).item() == pytest.approx(float((x_np + 1).sum()), rel=1e-5)
    assert g[n - 1].item() == float(x_np[-1] + 1)
    # The staging buffers are reused: many reads, each value right.
    for i in range(200):
        assert mx.add(g[0], i, stream=mx.gpu).item() == float(x_np[0] + 1 + i)


@needs_test_hooks
def test_error_in_gpu_stream_surfaces_and_runtime_stays_usable():
    x = mx.ones((4,), stream=mx.gpu)
    bad = mx._testing.fail_in_task(x, "gpu failure", stream=mx.gpu)
    y = mx.add(bad, 1, stream=mx.gpu)
    with pytest.raises(RuntimeError, match="gpu failure"):
        mx.eval(y)
    assert mx.add(x, 1, stream=mx.gpu).tolist() == [2.0] * 4
    # Travels to a CPU stream, and through async_eval to the read.
    z = mx.add(mx._testing.fail_in_task(x, "crossing failure", stream=mx.gpu), 1, stream=mx.cpu)
    mx.async_eval(z)
    with pytest.raises(RuntimeError, match="crossing failure"):
        np.array(z)
    # A CPU failure travels into a GPU stream.
    w = mx.add(
        mx._testing.fail_in_task(mx.ones((3,)), "cpu failure", stream=mx.cpu), 1, stream=mx.gpu
    )
    with pytest.raises(RuntimeError, match="cpu failure"):
        mx.eval(w)
    assert mx.multiply(x, 3, stream=mx.gpu).tolist() == [3.0] * 4
    mx.synchronize()


def test_gpu_index_error_surfaces():
    a = mx.array(np.arange(5, dtype=np.float32))
    idx = mx.array(np.array([0, 7], dtype=np.int32))
    with pytest.raises(IndexError, match="out of bounds"):
        mx.eval(mx.take(a, idx, stream=mx.gpu))
    assert mx.take(a, mx.array([4]), stream=mx.gpu).tolist() == [4.0]


def test_gpu_memory_statistics(gpu_default):
    settle()
    mx.clear_cache()
    base = mx.get_active_memory()
    x = mx.full((1 << 20,), 2.0)
    mx.eval(x)
    assert mx.get_active_memory() >= base + (4 << 20)
    del x
    settle()
    assert mx.get_active_memory() == base
    assert mx.get_cache_memory() >= 4 << 20
    mx.clear_cache()
    assert mx.get_cache_memory() == 0
    mx.reset_peak_memory()
    assert mx.get_peak_memory() == 0


def test_gpu_long_graph_has_bounded_peak(gpu_default):
    settle()
    mx.reset_peak_memory()
    base = mx.get_active_memory()
    n = 1 << 22
    acc = mx.zeros((n,))
    for i in range(60):
        acc = acc + mx.full((n,), float(i))
    mx.eval(acc)
    peak = mx.get_peak_memory() - base
    assert acc[0].item() == sum(range(60))
    assert peak <= 16 * 4 * n, peak / (4 * n)


def test_gpu_work_in_flight_holds_at_most_the_cap_of_dropped_buffers(gpu_default):
    """Each step makes a 16 MiB matrix, multiplies it by itself and drops both: the host
    encodes far faster than the GPU multiplies, and only the in-flight cap (128 MiB by
    default, of buffers nothing but GPU work in flight holds) stops it from keeping every
    step's buffers alive."""
    settle()
    mx.reset_peak_memory()
    base = mx.get_active_memory()
    sums = []
    for i in range(64):
        a = mx.full((2048, 2048), float(i % 3))
        sums.append(mx.sum(a @ a))
        mx.async_eval(sums[-1])
    got = [s.item() for s in sums]
    peak = (mx.get_peak_memory() - base) / 2**20
    assert got == [float((i % 3) ** 2 * 2048 * 2048 * 2048) for i in range(64)]
    assert peak <= 256, peak  # without the cap: about 64 steps x 32 MiB


def test_a_weight_read_by_every_step_does_not_make_the_throttle_rescan(gpu_default):
    """A buffer the program holds (a weight) is retained by every step that reads it; the
    throttle knows it is not the GPU's to free after one scan of the work in flight, so a
    loop of steps that each retain 64 MiB of it scans a few times, not once per step."""
    w = mx.random.normal((4096, 4096))  # 64 MiB: three steps' retention pass the cap
    x = mx.random.normal((1, 4096))
    mx.eval(w, x)
    for _ in range(4):
        x = mx.tanh(x @ w.T)
        mx.async_eval(x)
    before = mx._core._backend_counters(mx.gpu)["inflight_scans"]
    for _ in range(64):
        x = mx.tanh(x @ w.T)
        mx.async_eval(x)
    mx.eval(x)
    scans = mx._core._backend_counters(mx.gpu)["inflight_scans"] - before
    assert scans <= 8, scans


def reused():
    return mx._core._backend_counters(mx.gpu)["reused_buffers"]


def test_an_intermediate_only_queued_reads_hold_becomes_a_later_output(gpu_default):
    """Each step's 1 MiB intermediate is read by two ops and then owned by nothing but the
    stream's work in flight: a later op of the stream takes its buffer at once (the stream
    runs it after those reads), so the chain reuses buffers and computes the right values;
    a matmul first keeps the GPU behind the host, so the reads are still queued."""
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((512, 512)).astype(np.float32)
    big = mx.random.normal((2048, 2048))
    mx.eval(big)
    before = reused()
    slow = big
    for _ in range(8):
        slow = slow @ big * 1e-3
    x, ref = mx.array(x0) + 0 * mx.sum(slow[:1, :1]), x0.astype(np.float64)
    for _ in range(48):
        y = mx.sin(x)
        x = y * 0.5 + mx.cos(y)
        ref = np.sin(ref) * 0.5 + np.cos(np.sin(ref))
    mx.eval(x)
    np.testing.assert_allclose(np.array(x), ref, rtol=1e-4, atol=1e-4)
    assert reused() > before


def test_random_graphs_on_two_gpu_streams_reuse_only_their_own_buffers():
    """Random graphs of 256 KiB arrays over two GPU streams behind slow work, most arrays
    dropped as soon as they are built: a buffer is reused only by the stream whose queued
    work alone still reads it, so every value matches NumPy."""
    rng = np.random.default_rng(5)
    streams = [mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)]
    n = 1 << 16
    big = mx.random.normal((2048, 2048), stream=streams[0])
    mx.eval(big)
    before = reused()
    for trial in range(10):
        slow = [mx.sum((big @ big)[:1], stream=s) * 0 for s in streams]
        live = {}
        for k in range(3):
            v = rng.standard_normal((n,)).astype(np.float32)
            live[k] = (mx.array(v) + slow[k % 2], v)
        checks = []
        for step in range(60):
            i, j = rng.choice(list(live), 2)
            s = streams[rng.integers(0, 2)]
            (a, ra), (b, rb) = live[i], live[j]
            if rng.integers(0, 2):
                out = (mx.add(a, b, stream=s), ra + rb)
            else:
                out = (mx.maximum(mx.multiply(a, 0.5, stream=s), b, stream=s),
                       np.maximum(ra * np.float32(0.5), rb))  # fmt: skip
            live[3 + step] = out
            if rng.integers(0, 3) == 0:
                checks.append(out)
            if len(live) > 4:
                del live[rng.choice(list(live))]
        outs = [c[0] for c in checks]
        (mx.async_eval if trial % 2 else mx.eval)(outs)
        for got, want in checks:
            np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-5)
    assert reused() > before


def test_threads_evaluate_on_gpu_streams_concurrently():
    errors = []

    def work(k):
        try:
            s = mx.new_stream(mx.gpu)
            x = mx.array(np.full(100, k, np.float32))
            for _ in range(100):
                x = mx.add(x, 1, stream=s)
            mx.eval(x)
            assert np.array(x).tolist() == [k + 100.0] * 100
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("handed", ["a", "a[:3, :5]"])
def test_gpu_wait_on_a_slow_cpu_stream_is_bounded(handed):
    # A GPU-side wait for a CPU stream gives up after FASTSYNC_GPU_WAIT_TIMEOUT_S with a
    # clear error instead of wedging the GPU; the process (and the GPU) stay usable.
    # Large data waits, then is copied; small data is copied by the waiting kernel.
    import subprocess
    import sys

    code = f"""
import fastsync as mx, numpy as np
a = mx.ones((1500, 1500), stream=mx.cpu)
for _ in range(40):
    a = mx.matmul(a, a, stream=mx.cpu) * (1.0 / 1500)
with mx.stream(mx.cpu):
    a = {handed}
g = mx.add(a, 1, stream=mx.gpu)
try:
    mx.eval(g)
    print("no error")
except RuntimeError as e:
    print("error:", e)
print("after:", mx.add(mx.ones((2,), stream=mx.gpu), 1, stream=mx.gpu).tolist())
"""
    env = {**__import__("os").environ, "FASTSYNC_GPU_WAIT_TIMEOUT_S": "0.001"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert "waited more than" in out.stdout, out.stdout + out.stderr
    assert "after: [2.0, 2.0]" in out.stdout, out.stdout + out.stderr


def test_a_throttled_eval_runs_the_cpu_work_a_gpu_crossing_waits_for():
    # A synchronous eval pushes CPU work quietly (its thread runs it as it waits). A
    # crossing from a CPU stream to the GPU stages its data in a task on the producer
    # stream (p), behind p's wait for another stream (q). Once the GPU's in-flight cap
    # blocks the encoding thread, q's quiet work must run anyway, or the GPU waits for p
    # until FASTSYNC_GPU_WAIT_TIMEOUT_S gives up.
    import subprocess
    import sys

    code = """
import fastsync as mx, numpy as np
q, p = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
x = mx.ones((1024, 1024), stream=mx.cpu)
mx.eval(x)
for trial in range(3):
    a = mx.multiply(x, 2.0, stream=q)
    b = mx.add(a, float(trial), stream=p)
    h = mx.add(b, 1.0, stream=mx.gpu)
    for _ in range(8):
        h = mx.multiply(h, 0.5, stream=mx.gpu) + 1.0
    mx.eval(h)
    want = np.full((1024, 1024), 3.0 + trial, np.float32)
    for _ in range(8):
        want = want * np.float32(0.5) + np.float32(1.0)
    np.testing.assert_allclose(np.array(h), want, rtol=1e-6)
print("ok")
"""
    env = {
        **os.environ,
        "FASTSYNC_MAX_INFLIGHT_GPU_MB": "1",
        "FASTSYNC_GPU_WAIT_TIMEOUT_S": "10",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "ok", out.stdout + out.stderr


def test_gpu_profile_times_each_primitive(gpu_default):
    a = mx.random.normal((512, 512))
    mx.eval(a)
    mx.synchronize()
    mx._core._gpu_profile(True)
    try:
        mx.eval(mx.exp(a) @ a)
    finally:
        prof = mx._core._gpu_profile(False)
    assert prof["Matmul"][0] == 1 and prof["Exp"][0] == 1
    assert all(gpu >= 0 and host >= 0 for _, gpu, host in prof.values())
    mx.eval(mx.exp(a))
    assert mx._core._gpu_profile() == {}  # recording is off again


def permuted_elementwise_cases(dtype, perm):
    rng = np.random.default_rng(3)
    np_dt = np.float32 if dtype == "bfloat16" else np.dtype(dtype)
    base = (rng.standard_normal((5, 7, 33)) * 20).astype(np_dt)
    other = (rng.standard_normal((5, 7, 33)) * 20).astype(np_dt)
    if dtype == "bfloat16":  # values bfloat16 holds exactly: NumPy computes in float32
        base, other = np.round(base), np.round(other)
    dt = getattr(mx, dtype)
    x = mx.transpose(mx.array(base).astype(dt), perm)
    y = mx.transpose(mx.array(other).astype(dt), perm)
    a, b = base.transpose(perm), other.transpose(perm)
    two = mx.array(2, dtype=dt)
    c = np_dt.type(2) if hasattr(np_dt, "type") else np_dt(2)
    return x, y, two, {
        "x + y": (x + y, a + b),
        "x * 2": (x * two, a * c),
        "2 - x": (two - x, c - a),
        "maximum(x, 2)": (mx.maximum(x, two), np.maximum(a, c)),
        "x < y": (x < y, a < b),
        "where(x < y, x, 2)": (mx.where(x < y, x, two), np.where(a < b, a, c)),
        "where(x < 0, 2, y)": (mx.where(x < 0, two, y), np.where(a < 0, c, b)),
        "where(x < y, 2, 1)": (mx.where(x < y, two, two - 1), np.where(a < b, c, c - 1)),
        "x // y": (x // (mx.abs(y) + 1), a // (np.abs(b) + 1)),
        "x % y": (x % (mx.abs(y) + 1), a % (np.abs(b) + 1)),
    }


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int8", "int64"])
@pytest.mark.parametrize("perm", [(1, 0, 2), (2, 1, 0), (0, 2, 1)])
def test_elementwise_on_permuted_operands_keeps_their_layout(gpu_default, dtype, perm):
    # An output laid out like its permuted operands (read and written in memory order, 16
    # bytes at a time), with scalars on either side and a tail that is not a whole unit.
    x, y, two, cases = permuted_elementwise_cases(dtype, perm)
    for name, (got, want) in cases.items():
        if got.dtype == mx.bfloat16:
            got = got.astype(mx.float32)
        np.testing.assert_array_equal(np.array(got), want, err_msg=name)
    torch = pytest.importorskip("torch")
    got = x + two
    mx.eval(got)
    # DLPack hands over the buffer as it is laid out: the transpose's strides, in elements.
    assert torch.from_dlpack(got).stride() == torch.from_dlpack(x).stride()


@pytest.mark.parametrize("n", [1, 7, 8, 4099])
def test_scalar_operands_stream_at_any_length_and_offset(gpu_default, n):
    # Scalars read from views at odd offsets (unaligned), operands on either side.
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n + 3).astype(np.float32)
    s = rng.standard_normal(5).astype(np.float32)
    x = mx.array(a)[3:]
    sv = mx.array(s)[3]
    for got, want in [(x - sv, a[3:] - s[3]), (sv / (x * x + 1), s[3] / (a[3:] * a[3:] + 1))]:
        np.testing.assert_allclose(np.array(got), want, rtol=1e-6)
    xa = mx.array(a)  # aligned
    np.testing.assert_allclose(np.array(sv * xa), s[3] * a, rtol=1e-6)


def gemm_counts():
    c = mx._core._backend_counters(mx.gpu)
    return c["gemm_lt_runs"], c["gemm_lt_plans"], c["gemm_ex_runs"]


needs_lt = pytest.mark.skipif(
    os.environ.get("FASTSYNC_CUBLASLT") == "0",
    reason="FASTSYNC_CUBLASLT=0 sends products to cublasGemmEx",
)


@needs_lt
def test_products_reuse_their_cublaslt_plan(gpu_default):
    """A shape is planned the second time it is seen (descriptors and the heuristic's
    algorithm, cached), then each product of it is one cublasLtMatmul, not a cublasGemmEx
    that runs the heuristic again."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((96, 80)).astype(np.float32)
    w = rng.standard_normal((80, 72)).astype(np.float32)
    a, b = mx.array(x), mx.array(w)
    for _ in range(2):
        mx.eval(a @ b)  # seen, then planned (unless an earlier test saw this shape)
    runs, plans, ex = gemm_counts()
    for _ in range(5):
        y = a @ b
        mx.eval(y)
        np.testing.assert_allclose(np.array(y), x @ w, rtol=1e-4, atol=1e-4)
    runs2, plans2, ex2 = gemm_counts()
    assert (runs2 - runs, plans2 - plans, ex2 - ex) == (5, 0, 0)


@needs_lt
@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16, mx.float64])
def test_broadcast_batches_and_addmm_through_cublaslt(gpu_default, dtype):
    """A batch against one shared matrix (a batch stride of 0), and AddMM reading c in
    place (beta != 0), on the cuBLASLt path, against NumPy in float64."""
    rng = np.random.default_rng(11)
    tol = {mx.float32: 1e-4, mx.float16: 1e-2, mx.bfloat16: 4e-2, mx.float64: 1e-10}[dtype]
    a = mx.array(rng.standard_normal((1, 24, 40))).astype(dtype)
    b = mx.array(rng.standard_normal((6, 40, 16))).astype(dtype)
    c = mx.array(rng.standard_normal((24, 16))).astype(dtype)
    ar, br, cr = (np.array(t.astype(mx.float64)) for t in (a, b, c))
    runs = gemm_counts()[0]
    for _ in range(3):  # seen, planned, run from the plan
        y = a @ b
        z = mx.addmm(c, a[0], b[2], alpha=0.5, beta=2.0)
        mx.eval(y, z)
    assert gemm_counts()[0] - runs >= 2
    scale = 40 * tol
    np.testing.assert_allclose(np.array(y.astype(mx.float64)), ar @ br, rtol=tol, atol=scale)
    np.testing.assert_allclose(np.array(z.astype(mx.float64)), 0.5 * (ar[0] @ br[2]) + 2.0 * cr,
                               rtol=tol, atol=scale)  # fmt: skip


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16, mx.float64])
def test_products_of_views_at_odd_offsets_and_strided_batches(gpu_default, dtype):
    """Operands that start one element into a buffer (less aligned than cuBLASLt's default
    assumption) and batches whose matrices sit an odd number of elements apart: each gets
    a plan for its own alignment (or cublasGemmEx), and the values match NumPy."""
    rng = np.random.default_rng(5)
    tol = {mx.float32: 1e-4, mx.float16: 2e-2, mx.bfloat16: 5e-2, mx.float64: 1e-10}[dtype]
    bigm = mx.array(rng.standard_normal((3 * 37 * 19 + 1,))).astype(dtype)
    wm = mx.array(rng.standard_normal((19, 23))).astype(dtype)
    big_r = np.array(bigm.astype(mx.float64))
    w_r = np.array(wm.astype(mx.float64))
    for _ in range(2):  # the second time through a plan
        # One matrix one element in.
        y = bigm[1 : 1 + 37 * 19].reshape(37, 19) @ wm
        ref = big_r[1 : 1 + 37 * 19].reshape(37, 19) @ w_r
        np.testing.assert_allclose(np.array(y.astype(mx.float64)), ref, rtol=tol, atol=tol * 19)
        # A batch of three, 37 * 19 elements apart, starting one element in, times a batch
        # of weights read transposed.
        wb = mx.stack([wm, wm * 0.5, wm * -1.0]).transpose(0, 2, 1)  # (3, 23, 19)
        y = bigm[1:].reshape(3, 37, 19) @ wb.transpose(0, 2, 1)
        ref = big_r[1:].reshape(3, 37, 19) @ np.stack([w_r, w_r * 0.5, -w_r])
        np.testing.assert_allclose(np.array(y.astype(mx.float64)), ref, rtol=tol, atol=tol * 19)


def test_kernels_take_arrays_of_many_unmergeable_dimensions():
    # Broadcast axes every other dimension keep 11 dimensions from merging (more than the
    # 8 the indexers held before); a strided reduce keeps 10.
    rng = np.random.default_rng(11)
    shape = tuple(int(d) for d in rng.integers(2, 4, size=11))
    a = rng.standard_normal(shape).astype(np.float32)
    b_shape = tuple(1 if i % 2 else d for i, d in enumerate(shape))
    b = rng.standard_normal(b_shape).astype(np.float32)
    got = mx.add(mx.array(a), mx.array(b), stream=mx.gpu)
    np.testing.assert_allclose(np.array(got), a + b, rtol=1e-6)
    view = mx.array(a)[..., ::2].transpose(*range(10, -1, -1))
    got = mx.sum(view, axis=(1, 3), stream=mx.gpu)
    want = np.array(view).sum(axis=(1, 3))
    np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-5)
    c = mx.ones((2,) * 18)
    d = mx.ones(tuple(1 if i % 2 else 2 for i in range(18)))
    with pytest.raises(NotImplementedError, match="at most 16"):
        np.array(mx.add(c, d, stream=mx.gpu))


@pytest.mark.parametrize(
    "dt", ["bool_", "int8", "bfloat16", "float16", "int32", "float32", "int64", "complex64"]
)
def test_transposing_copies_of_every_element_size(dt):
    # A copy that reads one axis densely and writes another densely goes through shared-memory
    # tiles (cuda/copy.cu); edges that are not whole tiles, batch axes around the pair,
    # strided sources and destinations, and copies too small for tiles must all land right.
    rng = np.random.default_rng(7)
    cases = [
        ((1024, 4096), lambda a: a.T),  # a weight gradient's layout
        ((67, 45), lambda a: a.T),  # partial tiles on both axes
        ((16, 16), lambda a: a.T),  # the smallest tiled copy
        ((5, 300), lambda a: a.T),  # too narrow for tiles
        ((3, 40, 70), lambda a: a.transpose(0, 2, 1)),
        ((40, 3, 70), lambda a: a.transpose(2, 1, 0)),
        ((2, 3, 33, 65), lambda a: a.transpose(1, 0, 3, 2)),
        ((50, 90), lambda a: a[::2, 3:].T),  # a strided source
        ((64, 48), lambda a: a.T[::-1]),  # a reversed one
        ((48, 64), lambda a: a[::-1].T),  # a negative stride across the tile's columns
        ((2, 2, 2, 20, 30), lambda a: a.transpose(0, 1, 2, 4, 3)),  # three batch axes
    ]
    for shape, view in cases:
        if dt == "complex64":
            base = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
        elif dt == "bool_":
            base = rng.random(shape) > 0.5
        elif dt == "bfloat16":
            base = rng.standard_normal(shape).astype(np.float32)
        else:
            base = (rng.standard_normal(shape) * 100).astype(dt)
        a = mx.array(base, dtype=mx.bfloat16 if dt == "bfloat16" else None)
        with mx.stream(mx.gpu):
            y = mx.contiguous(view(a))
            mx.eval(y)
        want = view(np.array(a.astype(mx.float32)) if dt == "bfloat16" else base)
        got = np.array(y.astype(mx.float32)) if dt == "bfloat16" else np.array(y)
        np.testing.assert_array_equal(got, want, err_msg=f"{dt} {shape}")
    # Into slabs of a larger array (a destination that is not dense): concatenation.
    a = mx.array(rng.standard_normal((40, 70)).astype(np.float32)).astype(mx.float16)
    with mx.stream(mx.gpu):
        y = mx.concatenate([a.T, a[::-1].T], axis=1)
        mx.eval(y)
    an = np.array(a)
    np.testing.assert_array_equal(np.array(y), np.concatenate([an.T, an[::-1].T], axis=1))


def test_transposed_gradient_into_a_fused_update_on_the_gpu(gpu_default):
    # The pattern behind the tiled copy: a linear layer's weight gradient comes out transposed
    # and a compiled update reads it with the weight.
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((96, 40)).astype(np.float32)
    x0 = rng.standard_normal((8, 40)).astype(np.float32)
    w, x = mx.array(w0).astype(mx.bfloat16), mx.array(x0).astype(mx.bfloat16)

    def loss(w):
        return (x @ w.T).astype(mx.float32).sum()

    @mx.compile
    def update(w, x):
        g = mx.grad(loss)(w)
        return w - 0.1 * g

    got = np.array(update(w, x).astype(mx.float32))
    wb = np.array(w.astype(mx.float32))
    xb = np.array(x.astype(mx.float32))
    want = wb - 0.1 * np.broadcast_to(xb.sum(0), wb.shape)
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2)


def test_rope_on_the_gpu_matches_the_cpu_on_every_kernel_path():
    # Full-width non-traditional rotations of 2-byte rows on 16-byte boundaries take the
    # kernel that moves 8 pairs a thread (cuda/fast.cu); the rest the per-pair one. Both
    # against the CPU, on q/k-like views of a projection and on dense rows, with scalar and
    # per-batch offsets, forward and through the gradient.
    rng = np.random.default_rng(11)
    b, n, h, d = 2, 37, 4, 64
    proj = mx.array(rng.standard_normal((b, n, 3 * h * d)).astype(np.float32))
    cases = []
    for dt in (mx.bfloat16, mx.float16, mx.float32):
        p = proj.astype(dt)
        q = mx.split(p, 3, axis=-1)[0].reshape(b, n, h, d).transpose(0, 2, 1, 3)
        cases += [
            (q, d, False, 5),  # the attention layout: a strided view
            (mx.contiguous(q), d, False, 0),  # dense rows
            (q, d, False, mx.array([3, 40], dtype=mx.int32)),  # an offset per batch row
            (q, d, True, 2),  # traditional: pairs side by side
            (q, 32, False, 1),  # part of the features rotated
            (q[..., 1:49], 48, False, 0),  # rows off 16-byte boundaries
        ]
    for x, dims, trad, off in cases:
        if not isinstance(off, int):
            x = x.reshape(b, h * x.shape[2], x.shape[3])  # offsets index the batch axis
        kw = dict(traditional=trad, base=10000.0, scale=1.0, offset=off)
        got, want = _rope_and_grad(x, dims, kw, mx.gpu), _rope_and_grad(x, dims, kw, mx.cpu)
        tol = 1e-5 if x.dtype == mx.float32 else 2e-2
        for g, c in zip(got, want, strict=True):
            msg = f"{x.dtype} {x.shape} dims={dims} traditional={trad} offset={off}"
            assert_matches_cpu(g, c, tol, msg)


def assert_matches_cpu(got, want, tol, msg):
    """A GPU result against the CPU's, compared in float32 within `tol`."""
    np.testing.assert_allclose(
        np.array(got.astype(mx.float32)),
        np.array(want.astype(mx.float32)),
        rtol=tol,
        atol=tol,
        err_msg=msg,
    )


def _rope_and_grad(x, dims, kw, device):
    def f(t):
        return mx.fast.rope(t, dims, **kw).astype(mx.float32).sum()

    with mx.stream(device):
        y, g = mx.fast.rope(x, dims, **kw), mx.grad(f)(x)
        mx.eval(y, g)
    return y, g



def _attention_cases(rng):
    # (q, k, v, kwargs): one query row per (batch, head) in the decoding layouts (a KV cache's
    # prefix view, GQA, sinks, every head size the decoding kernel takes, keys from one to
    # more than one split), and the cases that must keep the general kernel (a mask, two
    # query rows, head sizes it does not take, rows off 16-byte boundaries).
    cases = []
    for dt in (mx.bfloat16, mx.float16, mx.float32):
        for d in (32, 64, 128):
            for lk in (1, 5, 63, 64, 65, 700):
                b, hq, hk = 2, 8, 2
                q = rng.standard_normal((b, hq, 1, d)).astype(np.float32)
                cache = rng.standard_normal((2, b, hk, lk + 20, d)).astype(np.float32)
                kc, vc = mx.array(cache[0]).astype(dt), mx.array(cache[1]).astype(dt)
                cases.append((mx.array(q).astype(dt), kc[:, :, :lk], vc[:, :, :lk], {}))
        q = mx.array(rng.standard_normal((1, 4, 1, 64)).astype(np.float32)).astype(dt)
        k = mx.array(rng.standard_normal((1, 4, 300, 64)).astype(np.float32)).astype(dt)
        v = mx.array(rng.standard_normal((1, 4, 300, 64)).astype(np.float32)).astype(dt)
        sinks = mx.array(rng.standard_normal(4).astype(np.float32))
        mask = mx.array(rng.random((1, 1, 1, 300)) > 0.3)
        q2 = mx.array(rng.standard_normal((1, 4, 2, 64)).astype(np.float32)).astype(dt)
        def rand(*shape, dt=dt):
            return mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dt)

        kv_bl = rand(2, 1, 90, 4, 64)  # keys and values stored (B, L, H, D), read transposed
        cases += [
            (rand(1, 1, 1, 64), rand(1, 1, 40000, 64), rand(1, 1, 40000, 64), {}),  # empty splits
            (rand(1, 6, 1, 64), rand(1, 1, 300, 64), rand(1, 1, 300, 64), {}),  # one KV head
            (rand(2, 4, 1, 64), rand(2, 4, 77, 64), rand(2, 4, 77, 64), {}),  # as many as q
            (rand(1, 4, 1, 64), kv_bl[0].transpose(0, 2, 1, 3), kv_bl[1].transpose(0, 2, 1, 3), {}),
            (q, k, v, dict(sinks=sinks)),
            (q, k[:, :, :7], v[:, :, :7], dict(sinks=sinks)),
            (q, k, v, dict(mask=mask)),
            (q2, k, v, dict(mask="causal")),
            (q[..., :48], k[..., :48], v[..., :48], {}),  # rows off 16-byte boundaries
            (q[..., 1:49], k[..., 1:49], v[..., 1:49], {}),
        ]
    d256 = [mx.array(rng.standard_normal((1, 2, n, 256)).astype(np.float16)) for n in (1, 99, 99)]
    cases.append((*d256, {}))  # 32 lanes a key
    return cases


def test_decoding_attention_on_the_gpu_matches_the_cpu():
    rng = np.random.default_rng(5)
    for q, k, v, kw in _attention_cases(rng):
        scale = 1 / np.sqrt(q.shape[-1])
        with mx.stream(mx.gpu):
            got = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, **kw)
            mx.eval(got)
        with mx.stream(mx.cpu):
            want = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, **kw)
            mx.eval(want)
        tol = 2e-5 if q.dtype == mx.float32 else 2e-2
        assert_matches_cpu(got, want, tol, f"{q.dtype} q {q.shape} k {k.shape} {sorted(kw)}")


@pytest.mark.parametrize("dt", [mx.bfloat16, mx.float16, mx.float32])
def test_norms_on_the_gpu_match_the_cpu_for_every_row_length(dt):
    # Rows of 16-byte vectors up to 4 vectors a lane take the register-held kernel (a warp a
    # row up to 32 lanes' worth, then a block); longer rows, rows of other lengths and
    # misaligned weights the scalar one. In place (a donated input) and not.
    rng = np.random.default_rng(3)
    for rows, n in ((1, 2048), (3, 8), (5, 1024), (2, 1032), (4, 4096), (1, 8192), (2, 16384),
                    (7, 1000), (2, 12), (300, 64), (40000, 64), (5000, 2048)):  # fmt: skip
        x = rng.standard_normal((rows, n)).astype(np.float32) * 3 + 1
        w = rng.standard_normal(n + 1).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        xs, ws, bs = mx.array(x).astype(dt), mx.array(w).astype(dt), mx.array(b).astype(dt)
        if rows == 5:  # row-contiguous at an odd offset: off 16-byte boundaries
            flat = mx.concatenate([mx.zeros((1,), dt), xs.reshape(-1)])
            mx.eval(flat)
            xs = flat[1:].reshape(rows, n)
        for weight in (ws[:n], ws[1:], None):
            for fn in (
                lambda t, wt=weight: mx.fast.rms_norm(t, wt, 1e-5),
                lambda t, wt=weight, bt=bs: mx.fast.layer_norm(t, wt, bt, 1e-5),
                lambda t, wt=weight: mx.fast.layer_norm(t, wt, None, 1e-5),
            ):
                with mx.stream(mx.gpu):
                    got = fn(xs)
                    donated = fn(xs + 0)
                    mx.eval(got, donated)
                with mx.stream(mx.cpu):
                    want = fn(xs)
                    mx.eval(want)
                tol = 1e-5 if dt == mx.float32 else 3e-2
                for g in (got, donated):
                    msg = f"{dt} ({rows}, {n}) weight {weight is not None}"
                    assert_matches_cpu(g, want, tol, msg)
