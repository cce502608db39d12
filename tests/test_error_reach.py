"""An error inside a CPU task or a GPU kernel spoils exactly the arrays computed from it.

Whatever order the arrays were evaluated in, on whichever streams and devices: the failed
array, its views and everything computed from it raise the error when read; arrays that do
not depend on it read their values, and the stream goes on working. Each test runs with the
CPU and, where there is one, the GPU as the device.
"""

import threading

import fastsync as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# An out-of-range gather index is found by the task that gathers (the index values are data).
OOB = "out of bounds"


def failing(x):
    """x gathered at an index past its end: the task that computes it raises IndexError."""
    return mx.take(x, mx.array([x.size + 3]))


@pytest.fixture
def on_cpu():
    with mx.stream(mx.cpu):
        yield


@pytest.mark.parametrize("bad_first", [False, True])
@pytest.mark.parametrize("how", ["eval", "async_eval"])
def test_a_failed_output_leaves_its_independent_sibling_readable(device, bad_first, how):
    x = mx.arange(6, dtype=mx.float32)
    good = x * 2 + 1
    bad = failing(x) * 3
    pair = [bad, good] if bad_first else [good, bad]
    if how == "eval":
        with pytest.raises(IndexError, match=OOB):
            mx.eval(*pair)
    else:
        mx.async_eval(*pair)
    assert good.tolist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
    assert (good - 1).tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    mx.eval(good)  # evaluating it again does not raise the other's error
    with pytest.raises(IndexError, match=OOB):
        bad.tolist()
    with pytest.raises(IndexError, match=OOB):
        (bad + 1).item()


def test_work_queued_after_a_failure_on_the_same_stream_still_runs(device):
    s = mx.new_stream(device)
    x = mx.arange(8, dtype=mx.float32)
    bad = mx.add(failing(x), 1, stream=s)
    later = [mx.multiply(x, float(k), stream=s) for k in range(5)]  # encoded after `bad`
    with pytest.raises(IndexError, match=OOB):
        mx.eval(bad, *later)
    for k, a in enumerate(later):
        np.testing.assert_array_equal(np.array(a), np.arange(8, dtype=np.float32) * k)


def test_the_error_follows_the_data_across_streams_and_no_further(device):
    s1, s2, s3 = (mx.new_stream(device) for _ in range(3))
    x = mx.arange(4, dtype=mx.float32)
    bad = mx.add(failing(x), 1, stream=s1)
    spoiled_on_s2 = mx.multiply(bad, 2, stream=s2)
    clean_on_s2 = mx.multiply(x, 2, stream=s2)
    spoiled_on_s3 = mx.add(spoiled_on_s2, clean_on_s2, stream=s3)
    clean_on_s3 = mx.add(clean_on_s2, 1, stream=s3)
    mx.async_eval(spoiled_on_s3, clean_on_s3, spoiled_on_s2)
    assert clean_on_s3.tolist() == [1.0, 3.0, 5.0, 7.0]
    assert clean_on_s2.tolist() == [0.0, 2.0, 4.0, 6.0]
    for a in (bad, spoiled_on_s2, spoiled_on_s3):
        with pytest.raises(IndexError, match=OOB):
            np.array(a)
    # Consumed in a later eval, on yet another stream: still spoiled, still contained.
    later = mx.add(spoiled_on_s3, 1, stream=mx.new_stream(device))
    with pytest.raises(IndexError, match=OOB):
        mx.eval(later)
    assert mx.add(clean_on_s3, 1, stream=s1).tolist() == [2.0, 4.0, 6.0, 8.0]
    mx.synchronize()


def test_views_in_place_chains_and_multi_output_ops_of_a_spoiled_array_are_spoiled(device):
    x = mx.arange(12, dtype=mx.float32)
    bad = mx.broadcast_to(failing(x), (12,)) + 0  # a fresh buffer the chain below donates
    chain = ((bad + 1) * 2 - 3).reshape(3, 4)
    view = chain[1:, ::2]
    q, r = mx.divmod(chain, 5)
    parts = mx.split(chain, 3)
    with pytest.raises(IndexError):
        mx.eval(view, q, r, *parts)
    for a in (view, chain.T, q, r, *parts):
        with pytest.raises(IndexError, match=OOB):
            a.tolist()
    # The same shapes from clean data, in one eval beside spoiled ones.
    ok = ((x + 1) * 2 - 3).reshape(3, 4)
    q2, r2 = mx.divmod(ok, 5)
    with pytest.raises(IndexError):
        mx.eval(q2, r2, q + 1)
    ref = ((np.arange(12, dtype=np.float32) + 1) * 2 - 3).reshape(3, 4)
    np.testing.assert_array_equal(np.array(q2), np.floor_divide(ref, 5))
    np.testing.assert_array_equal(np.array(r2), np.mod(ref, 5))


def test_gradients_of_a_spoiled_graph_are_spoiled_and_others_are_not(device):
    x = mx.arange(4, dtype=mx.float32)

    def loss(w):
        return (w * failing(x)).sum()

    g = mx.grad(loss)(mx.ones(4))
    with pytest.raises(IndexError, match=OOB):
        g.tolist()
    g2 = mx.grad(lambda w: (w * x).sum())(mx.ones(4))
    assert g2.tolist() == [0.0, 1.0, 2.0, 3.0]


# Random graphs: values from NumPy, and which outputs raise from the graph's shape.

OPS = ("add", "mul", "max", "neg", "fail")


@st.composite
def graphs(draw, ops=OPS):
    n_streams = draw(st.integers(1, 4))
    n_leaves = draw(st.integers(1, 3))
    nodes = []
    for k in range(draw(st.integers(1, 24))):
        avail = n_leaves + k
        op = draw(st.sampled_from(ops))
        a = draw(st.integers(0, avail - 1))
        b = draw(st.integers(0, avail - 1))
        nodes.append((op, a, b, draw(st.integers(0, n_streams - 1))))
    total = n_leaves + len(nodes)
    outs = draw(st.lists(st.integers(0, total - 1), min_size=1, max_size=6, unique=True))
    mode = draw(st.sampled_from(["eval", "async_eval", "read", "threads"]))
    return n_streams, n_leaves, nodes, outs, mode


def build(n_streams, n_leaves, nodes, devices=(mx.cpu,)):
    rng = np.random.default_rng(len(nodes))
    streams = [mx.new_stream(devices[k % len(devices)]) for k in range(n_streams)]
    refs = [rng.standard_normal(5).astype(np.float32) for _ in range(n_leaves)]
    arrays = [mx.array(r) for r in refs]
    spoiled = [False] * n_leaves
    for op, a, b, s in nodes:
        s = streams[s]
        if op == "add":
            arrays.append(mx.add(arrays[a], arrays[b], stream=s))
            refs.append(refs[a] + refs[b])
        elif op == "mul":
            arrays.append(mx.multiply(arrays[a], arrays[b], stream=s))
            refs.append(refs[a] * refs[b])
        elif op == "max":
            arrays.append(mx.maximum(arrays[a], arrays[b], stream=s))
            refs.append(np.maximum(refs[a], refs[b]))
        elif op == "neg":
            arrays.append(mx.negative(arrays[a], stream=s))
            refs.append(-refs[a])
        else:
            arrays.append(mx.take(arrays[a], mx.array([0, 1, 2, 3, 99]), stream=s))
            refs.append(refs[a])  # never compared: the array is spoiled
        spoiled.append(op == "fail" or spoiled[a] or (op in ("add", "mul", "max") and spoiled[b]))
    return arrays, refs, spoiled


def check(array, ref, spoiled):
    if spoiled:
        with pytest.raises(IndexError, match=OOB):
            np.array(array)
    else:
        np.testing.assert_allclose(np.array(array), ref, rtol=1e-6)


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_random_graphs_with_failures_across_streams(graph):
    run_graph(graph, (mx.cpu,))


@pytest.mark.skipif(not mx.is_available(mx.gpu), reason="no GPU")
@settings(max_examples=120, deadline=None)
@given(graphs())
def test_random_graphs_across_gpu_and_cpu_streams(graph):
    run_graph(graph, (mx.gpu, mx.cpu, mx.gpu))


def run_graph(graph, devices):
    n_streams, n_leaves, nodes, outs, mode = graph
    arrays, refs, spoiled = build(n_streams, n_leaves, nodes, devices)
    picked = [arrays[k] for k in outs]
    if mode == "eval":
        if any(spoiled[k] for k in outs):
            with pytest.raises(IndexError, match=OOB):
                mx.eval(picked)
        else:
            mx.eval(picked)
    elif mode == "async_eval":
        mx.async_eval(picked)
    elif mode == "threads":
        # Each thread evaluates and reads its own share; shares overlap in their graphs.
        errors = []

        def work(share):
            try:
                for k in share:
                    check(arrays[k], refs[k], spoiled[k])
            except BaseException as e:  # noqa: BLE001 - re-raised below, on the test's thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(outs[i::2],)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
    for k in outs:
        check(arrays[k], refs[k], spoiled[k])
    # Every array of the graph, evaluated or not, reads as its dependencies say.
    for a, r, s in zip(arrays, refs, spoiled, strict=True):
        check(a, r, s)


def test_an_op_without_a_task_keeps_its_inputs_until_their_tasks_ran(on_cpu):
    # An empty product dispatches nothing: its input's buffer (written by a queued task,
    # failing or not) must outlive that task all the same (ASan in CI checks the memory).
    x = mx.random.normal((256, 256))
    outs = [mx.exp(x * k) @ mx.zeros((256, 0)) for k in range(8)]
    bad = failing(mx.arange(4, dtype=mx.float32)).reshape(1, 1) @ mx.zeros((1, 0))
    with pytest.raises(IndexError, match=OOB):
        mx.eval(*outs, bad)
    assert all(o.shape == (256, 0) for o in outs) and bad.shape == (1, 0)
    assert (x + 1).shape == (256, 256)
    mx.synchronize()


@pytest.mark.skipif(not mx.is_available(mx.gpu), reason="no GPU")
def test_a_spoiled_cpu_array_stays_spoiled_on_the_gpu():
    x = mx.arange(4, dtype=mx.float32, stream=mx.cpu)
    bad = mx.add(failing(x), 1, stream=mx.cpu)
    with pytest.raises(IndexError):
        mx.eval(bad)
    # A view (no task) of it in a later eval, copied to the GPU while in flight.
    on_gpu = mx.exp(mx.reshape(bad, (1,), stream=mx.cpu), stream=mx.gpu)
    with pytest.raises(IndexError, match=OOB):
        on_gpu.tolist()
    good = mx.exp(mx.reshape(x, (2, 2), stream=mx.cpu), stream=mx.gpu)
    np.testing.assert_allclose(np.array(good), np.exp(np.arange(4.0)).reshape(2, 2), rtol=1e-5)


def test_two_failures_in_one_eval_each_raise_their_own_error(device):
    # On a GPU stream both kernels report before the same point: each keeps its own record.
    x = mx.arange(4, dtype=mx.float32)
    bad_a = mx.take(x, mx.array([10])) + 1
    good = x * 3
    bad_b = mx.take(x, mx.array([20])) + 1
    with pytest.raises(IndexError, match="index (10|20) "):  # the first to run
        mx.eval(bad_a, good, bad_b)
    with pytest.raises(IndexError, match="index 20"):
        bad_b.tolist()
    with pytest.raises(IndexError, match="index 10"):
        bad_a.tolist()
    assert good.tolist() == [0.0, 3.0, 6.0, 9.0]
    both = bad_b + bad_a  # spoiled by the first of its inputs the walk meets
    with pytest.raises(IndexError, match="index (10|20)"):
        both.tolist()


@pytest.mark.skipif(not mx.is_available(mx.gpu), reason="no GPU")
@pytest.mark.parametrize("how", ["eval", "async_eval"])
def test_a_gpu_failure_reaches_cpu_streams_through_the_data_only(how):
    g = mx.new_stream(mx.gpu)
    c = mx.new_stream(mx.cpu)
    x = mx.arange(6, dtype=mx.float32, stream=g)
    bad = mx.add(failing(x), 1, stream=g)
    good = mx.multiply(x, 2, stream=g)
    on_cpu_bad = mx.add(bad, 1, stream=c)  # reads the GPU failure's output on a CPU stream
    on_cpu_good = mx.add(good, 1, stream=c)  # encoded after it, on the same CPU stream
    back = mx.multiply(on_cpu_good, 2, stream=g)
    outs = [on_cpu_bad, on_cpu_good, back]
    if how == "eval":
        with pytest.raises(IndexError, match=OOB):
            mx.eval(*outs)
    else:
        mx.async_eval(*outs)
    assert on_cpu_good.tolist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
    assert back.tolist() == [2.0, 6.0, 10.0, 14.0, 18.0, 22.0]
    for a in (bad, on_cpu_bad, mx.exp(on_cpu_bad, stream=g)):
        with pytest.raises(IndexError, match=OOB):
            a.tolist()
    # The streams go on working.
    assert mx.add(x, 1, stream=c).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    mx.synchronize()


@pytest.mark.skipif(not mx.is_available(mx.gpu), reason="no GPU")
def test_a_gpu_failure_before_many_ops_spoils_only_its_descendants():
    # Hundreds of ops after the failure (several points of the stream's timeline), most
    # independent of it, some computed from it: each reads as its dependencies say.
    x = mx.arange(8, dtype=mx.float32, stream=mx.gpu)
    bad = mx.add(failing(x), 0, stream=mx.gpu)
    clean, spoiled = x, bad
    for k in range(300):
        clean = mx.add(clean, 1, stream=mx.gpu)
        if k % 50 == 0:
            spoiled = mx.add(spoiled, clean, stream=mx.gpu)
    with pytest.raises(IndexError, match=OOB):
        mx.eval(spoiled, clean)
    np.testing.assert_array_equal(np.array(clean), np.arange(8, dtype=np.float32) + 300)
    with pytest.raises(IndexError, match=OOB):
        spoiled.tolist()


@pytest.mark.skipif(not mx.is_available(mx.gpu), reason="no GPU")
def test_an_earlier_gpu_failure_reaches_a_cpu_stream_that_copies_it_in_flight():
    # The failing gather sits behind slow products, so the CPU stream's copy of its output
    # is encoded while that eval is still running on the GPU.
    g = mx.new_stream(mx.gpu)
    m = mx.random.normal((2048, 2048), stream=g)
    for _ in range(8):
        m = mx.matmul(m, m, stream=g) * 1e-3
    x = mx.arange(4, dtype=mx.float32, stream=g) + m[0, 0] * 0
    bad = mx.add(failing(x), 1, stream=g)
    good = mx.multiply(x, 2, stream=g)
    mx.async_eval(bad, good)
    on_cpu = mx.add(bad, 1, stream=mx.cpu)
    clean = mx.add(good, 1, stream=mx.cpu)
    with pytest.raises(IndexError, match=OOB):
        mx.eval(on_cpu)
    assert clean.tolist() == [1.0, 3.0, 5.0, 7.0]


@pytest.mark.skipif(not mx.is_available(mx.gpu), reason="no GPU")
def test_a_long_loop_of_async_evals_that_can_fail_settles_as_it_goes():
    # Each step gathers (an op that can fail) from the last step's output, nothing is read
    # until the end: the chain of evals waiting on each other is settled as the GPU gets
    # past them, so reading the end neither recurses through every step nor finds them all
    # alive. A gather that fails beside one step spoils only itself.
    g = mx.new_stream(mx.gpu)
    idx = mx.array([0, 1, 2, 3])
    y = mx.zeros((4,), stream=g)
    bad = None
    for k in range(20000):
        y = mx.add(mx.take(y, idx, stream=g), 1, stream=g)
        if k == 15000:
            bad = mx.take(y, mx.array([9]), stream=g)
            mx.async_eval(bad, y)
        else:
            mx.async_eval(y)
    assert y.tolist() == [20000.0] * 4
    with pytest.raises(IndexError, match=OOB):
        bad.tolist()
