"""Views of arrays already evaluated are made when they are written, not by an eval
(transforms.h, view_now): `w.T` of a weight, `x[1:]` or a reshape of an evaluated array
shares its buffer at once and adds no node to the graph, while a view of pending work, a
reshape that must copy, and every view inside a transform or a compile trace stay nodes.
A view of host data the GPU has not read yet stays a node too (its eval moves the data).
The views still wait for work in flight, carry their input's error, keep their values when
the input is later updated in place, and compute what NumPy computes. Each test runs with the
CPU and, where there is one, the GPU as the device.
"""

import fastsync as mx
import numpy as np
import pytest

OOB = "out of bounds"


def nodes(*arrays):
    return mx._core._graph_ops(list(arrays))


VIEWS = {
    "transpose": (lambda a: a.T, lambda a: a.T),
    "axes": (lambda a: mx.transpose(a, (1, 0, 2)), lambda a: a.transpose(1, 0, 2)),
    "slice": (lambda a: a[1:, ::2], lambda a: a[1:, ::2]),
    "negative step": (lambda a: a[::-1, :, 1:], lambda a: a[::-1, :, 1:]),
    "index": (lambda a: a[2], lambda a: a[2]),
    "new axis": (lambda a: a[None, :, 0], lambda a: a[None, :, 0]),
    "reshape": (lambda a: a.reshape(6, 20), lambda a: a.reshape(6, 20)),
    "split axis": (lambda a: a.reshape(2, 3, 4, 5), lambda a: a.reshape(2, 3, 4, 5)),
    "broadcast": (
        lambda a: mx.broadcast_to(a[:, :1], (6, 4, 5)),
        lambda a: np.broadcast_to(a[:, :1], (6, 4, 5)),
    ),
    "swapaxes": (lambda a: mx.swapaxes(a, 0, 2), lambda a: np.swapaxes(a, 0, 2)),
    "diagonal": (lambda a: mx.diagonal(a, axis1=0, axis2=1), lambda a: np.diagonal(a, 0, 0, 1)),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_view_of_an_evaluated_array_is_made_at_once(device, name):
    fs, ref = VIEWS[name]
    host = np.random.default_rng(0).standard_normal((6, 4, 5)).astype(np.float32)
    x = mx.array(host) * 1  # computed on the device, in its memory
    mx.eval(x)
    v = fs(x)
    assert nodes(v) == {}, nodes(v)
    np.testing.assert_array_equal(np.array(v), ref(host))
    # A view of a view, and arithmetic on it, match too.
    np.testing.assert_allclose(np.array(fs(x) * 2 + 1), ref(host) * 2 + 1, rtol=1e-6)


def test_views_of_pending_work_stay_nodes(device):
    x = mx.ones((4, 6)) + 1
    assert "Transpose" in nodes(x.T)
    assert "Slice" in nodes(x[1:])
    np.testing.assert_array_equal(np.array(x.T[1:]), np.full((5, 4), 2.0, np.float32))


def test_a_view_of_host_data_on_the_gpu_stays_a_node():
    if not mx.is_available(mx.gpu):
        pytest.skip("no GPU")
    x = mx.array(np.arange(6, dtype=np.float32))  # host memory until a GPU op reads it
    v = mx.transpose(x[None], stream=mx.gpu)
    assert "Transpose" in nodes(v)
    assert np.array(v).tolist() == [[float(i)] for i in range(6)]


def test_a_reshape_that_must_copy_stays_a_node(device):
    host = np.arange(24, dtype=np.float32).reshape(4, 6)
    x = mx.array(host)
    mx.eval(x)
    merged = x.T.reshape(-1)  # merging the axes of a transposed view needs a copy
    assert "Reshape" in nodes(merged)
    np.testing.assert_array_equal(np.array(merged), host.T.reshape(-1))


def test_a_view_of_work_in_flight_waits_for_it(device):
    s1, s2 = mx.new_stream(device), mx.new_stream(device)
    x = mx.zeros((64, 32))
    for _ in range(200):
        x = mx.add(x, 1, stream=s1)
    mx.async_eval(x)  # encoded: the view below is made while the work may still run
    v = x.T[::2]
    assert nodes(v) == {}
    y = mx.multiply(v, 2, stream=s2)  # another stream reads it
    np.testing.assert_array_equal(np.array(y), np.full((16, 64), 400.0, np.float32))
    np.testing.assert_array_equal(np.array(v), np.full((16, 64), 200.0, np.float32))


def test_a_view_of_a_failed_array_raises_its_error(device):
    x = mx.arange(6, dtype=mx.float32)
    bad = mx.take(x, mx.array([9])) * 3
    mx.async_eval(bad)
    v = bad.reshape(1, 1)[0]
    with pytest.raises(IndexError, match=OOB):
        v.tolist()
    with pytest.raises(IndexError, match=OOB):
        (v + 1).item()
    assert (x[1:] + 1).tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]  # the rest still works


def test_a_view_keeps_its_values_when_the_array_is_updated_in_place(device):
    x = mx.arange(12, dtype=mx.float32).reshape(3, 4)
    mx.eval(x)
    row = x[1]
    x[1] = 100.0  # an in-place update may not write into the view's buffer
    x = x + 0
    assert row.tolist() == [4.0, 5.0, 6.0, 7.0]
    assert x[1].tolist() == [100.0] * 4


def test_transforms_differentiate_through_views_of_evaluated_inputs(device):
    host = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    w = mx.array(host)
    c = mx.array(np.arange(12, dtype=np.float32).reshape(4, 3))
    mx.eval(w, c)
    g = mx.grad(lambda w: (w.T * c).sum() + (w[1:] ** 2).sum())(w)
    want = c.tolist()
    want = np.array(want, np.float32).T.copy()
    want[1:] += 2 * host[1:]
    np.testing.assert_allclose(np.array(g), want, rtol=1e-5)
    _, jv = mx.jvp(lambda w: (w.T.reshape(12),), (w,), (mx.ones_like(w),))
    np.testing.assert_array_equal(np.array(jv[0]), np.ones(12, np.float32))
    batched = mx.vmap(lambda r: r[::-1] * 2)(w)
    np.testing.assert_allclose(np.array(batched), host[:, ::-1] * 2, rtol=1e-6)


def test_a_compiled_function_reads_each_call_s_inputs_through_its_views(device):
    f = mx.compile(lambda a, b: a.T[1:] + b.reshape(2, 3))
    rng = np.random.default_rng(2)
    for _ in range(3):  # traced once, then replayed with new inputs
        a, b = (
            rng.standard_normal((3, 3)).astype(np.float32),
            rng.standard_normal(6).astype(np.float32),
        )
        xa, xb = mx.array(a), mx.array(b)
        mx.eval(xa, xb)
        np.testing.assert_allclose(np.array(f(xa, xb)), a.T[1:] + b.reshape(2, 3), rtol=1e-6)


def test_views_of_pending_work_on_other_streams_read_the_finished_data(device):
    # The eval makes a view of an array it produced itself, without its stream's encoder
    # (transforms.cpp, view_in_place): the view takes its input's stream position, so
    # readers on the view's own stream, on a third stream and on the producer's stream
    # all wait for the long work that wrote the data, in one eval and in a later one.
    s1, s2, s3 = (mx.new_stream(device) for _ in range(3))
    x = mx.zeros((64, 32))
    for _ in range(300):
        x = mx.add(x, 1, stream=s1)
    v = mx.transpose(x, stream=s2)[::2]  # a view node on s2 of s1's work
    r = mx.reshape(v, (-1,), stream=s3)  # a copy: v is not contiguous
    # A view on its producer's stream that only another stream reads: the producer's fence
    # must be raised for it.
    y = mx.zeros((512, 256))
    for _ in range(300):
        y = mx.add(y, 2, stream=s1)
    u = mx.multiply(mx.transpose(y, stream=s1), 5, stream=s3)
    w = mx.reshape(x, (2, 32, 32), stream=s2)  # a copy-free reshape on s2
    reads = [
        mx.multiply(v, 2, stream=s2),
        mx.multiply(v, 3, stream=s3),
        mx.multiply(v, 4, stream=s1),
        mx.add(w[1], 1, stream=s3),
        r,
    ]
    mx.eval(reads, v, u)
    np.testing.assert_array_equal(np.array(u), np.full((256, 512), 3000.0, np.float32))
    want = np.full((16, 64), 300.0, np.float32)
    for got, k in zip(reads[:3], (2, 3, 4), strict=True):
        np.testing.assert_array_equal(np.array(got), want * k)
    np.testing.assert_array_equal(np.array(reads[3]), np.full((32, 32), 301.0, np.float32))
    np.testing.assert_array_equal(np.array(r), want.reshape(-1))
    later = mx.add(v, 1, stream=s3)  # a view an earlier eval returned, read on a third stream
    mx.async_eval(later)
    np.testing.assert_array_equal(np.array(later), want + 1)


def test_a_view_inside_an_eval_carries_its_input_s_error(device):
    x = mx.arange(6, dtype=mx.float32)
    bad = mx.take(x, mx.array([9])) * 3
    v = bad.reshape(1, 1).T
    ok = x.reshape(2, 3).T + 1
    mx.async_eval(v, ok)
    with pytest.raises(IndexError, match=OOB):
        (v + 1).item()
    np.testing.assert_array_equal(np.array(ok), np.arange(6).reshape(2, 3).T + 1.0)


def test_random_graphs_of_views_across_streams_match_numpy(device):
    rng = np.random.default_rng(7)
    streams = [mx.new_stream(device) for _ in range(3)]
    views = [
        (lambda a, s: mx.transpose(a, stream=s), np.transpose),
        (lambda a, s: mx.reshape(a, (-1,), stream=s).reshape(a.shape), lambda a: a),
        (lambda a, s: mx.swapaxes(a, 0, 1, stream=s)[::-1], lambda a: a.swapaxes(0, 1)[::-1]),
        (lambda a, s: mx.broadcast_to(a[:1], a.shape, stream=s),
         lambda a: np.broadcast_to(a[:1], a.shape)),
    ]  # fmt: skip
    for trial in range(20):
        base = rng.standard_normal((8, 8)).astype(np.float32)
        pool = [(mx.array(base), base)]
        for _ in range(40):
            a, na = pool[rng.integers(len(pool))]
            s = streams[rng.integers(3)]
            if rng.random() < 0.5:
                f, nf = views[rng.integers(len(views))]
                pool.append((f(a, s), nf(na)))
            else:
                b, nb = pool[rng.integers(len(pool))]
                pool.append((mx.add(mx.multiply(a, 0.5, stream=s), b, stream=s), na * 0.5 + nb))
        picks = [pool[i] for i in rng.choice(len(pool), 6, replace=False)]
        mx.eval([p[0] for p in picks])
        for got, want in picks:
            np.testing.assert_allclose(np.array(got), want, rtol=1e-5, err_msg=str(trial))


def test_ops_that_may_donate_never_overwrite_what_a_view_made_in_place_shares(device):
    # The view the eval makes in place owns its buffer like any array: an op on another
    # stream that could take its input's buffer (the input dropped by Python, read by
    # nothing else it knows of) must not overwrite what the view still shows.
    s1, s2 = mx.new_stream(device), mx.new_stream(device)
    for _ in range(20):
        a = mx.ones((256, 128))
        x = mx.add(a, 1, stream=s1)
        v = mx.transpose(x, stream=s2)
        y = mx.exp(x, stream=s1)  # x's last reader on s1: a candidate for donation
        r = mx.multiply(v, 2, stream=s2)
        e = mx.exp(v, stream=s2)  # v's last reader: another candidate
        z = mx.add(y, x, stream=s1)
        del a, x
        mx.eval(r, e, z, v)
        np.testing.assert_array_equal(np.array(v), np.full((128, 256), 2.0, np.float32))
        np.testing.assert_array_equal(np.array(r), np.full((128, 256), 4.0, np.float32))
        np.testing.assert_allclose(np.array(e), np.full((128, 256), np.exp(2.0)), rtol=1e-6)
        np.testing.assert_allclose(np.array(z), np.full((256, 128), np.exp(2.0) + 2), rtol=1e-6)


def test_gradients_through_views_of_intermediates_on_other_streams(device):
    s1, s2 = mx.new_stream(device), mx.new_stream(device)
    w = mx.array(np.arange(12, dtype=np.float32).reshape(3, 4) / 10)

    def f(w):
        h = mx.multiply(w, w, stream=s1)
        t = mx.transpose(h, stream=s2)  # a view of s1's work, in the traced graph
        return mx.sum(mx.multiply(t, 3, stream=s2), stream=s1)

    g = mx.grad(f)(w)
    np.testing.assert_allclose(np.array(g), 6 * np.array(w), rtol=1e-6)
