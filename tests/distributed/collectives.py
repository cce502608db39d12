"""Every collective over 2 ranks; run by tests/test_distributed.py through
``python -m fastsync.launch -n 2``. Prints ``PASS <section> rank=<r>`` per
section; any failure raises, which aborts the job."""

import threading

import fastsync as mx
import numpy as np
from fastsync import distributed as dist

group = dist.init(strict=True)
rank, size = group.rank(), group.size()
assert size == 2, f"expected 2 ranks, got {size}"
other = 1 - rank

DTYPES = [mx.bool_, mx.int8, mx.int16, mx.int32, mx.int64, mx.uint8, mx.uint16, mx.uint32,
          mx.uint64, mx.float16, mx.bfloat16, mx.float32, mx.float64]
SHAPES = [(), (1,), (25,), (3, 4, 5), (0,), (2, 0, 3)]


def passed(section):
    print(f"PASS {section} rank={rank}", flush=True)


def data(r, shape, dtype):
    """Rank r's input: small integers, exact in every dtype (bool: a pattern)."""
    n = int(np.prod(shape, dtype=np.int64))
    base = np.arange(n, dtype=np.int64).reshape(shape)
    if dtype == mx.bool_:
        return (base % (2 + r)) == 0
    return ((base * (r + 1) + 3 * r) % 11).astype(np.float64)


def to_fs(values, dtype):
    return mx.array(values.astype(np.float32) if values.dtype != np.bool_ else values).astype(dtype)


def to_np(a):
    if a.dtype in (mx.float16, mx.bfloat16):
        a = a.astype(mx.float32)
    return np.array(a)


def expect(name, got, want):
    got_np = to_np(got)
    want = np.asarray(want)
    assert got_np.shape == want.shape, f"{name}: shape {got_np.shape} != {want.shape}"
    assert np.array_equal(got_np.astype(np.float64), want.astype(np.float64)), (
        f"{name}: got {got_np.ravel()[:8]} want {want.ravel()[:8]}")


# all_sum / all_max / all_min over every dtype and shape.
for dtype in DTYPES:
    for shape in SHAPES:
        mine, theirs = data(rank, shape, dtype), data(other, shape, dtype)
        x = to_fs(mine, dtype)
        lo, hi = (mine, theirs) if rank == 0 else (theirs, mine)
        if dtype == mx.bool_:
            want_sum, want_max, want_min = lo | hi, lo | hi, lo & hi
        else:
            want_sum, want_max, want_min = lo + hi, np.maximum(lo, hi), np.minimum(lo, hi)
        s, mx_, mn = dist.all_sum(x), dist.all_max(x), dist.all_min(x)
        mx.eval(s, mx_, mn)
        tag = f"{dtype} {shape}"
        assert s.dtype == dtype and s.shape == x.shape, tag
        expect("all_sum " + tag, s, want_sum)
        expect("all_max " + tag, mx_, want_max)
        expect("all_min " + tag, mn, want_min)
passed("reduce_dtypes")

# Around the size up to which a reduction's values travel with its agreement
# check (128 bytes: then one exchange is the whole reduction) and past it: the same
# sums either way, in every width, and the result is the same on both ranks.
for dtype, width in [(mx.float32, 4), (mx.int8, 1), (mx.float16, 2), (mx.int64, 8)]:
    for n in (128 // width - 1, 128 // width, 128 // width + 1, 1024 // width):
        mine, theirs = data(rank, (n,), dtype), data(other, (n,), dtype)
        lo, hi = (mine, theirs) if rank == 0 else (theirs, mine)
        x = to_fs(mine, dtype)
        s, mx_, mn = dist.all_sum(x), dist.all_max(x), dist.all_min(x)
        tag = f"{dtype} ({n},)"
        expect("all_sum " + tag, s, lo + hi)
        expect("all_max " + tag, mx_, np.maximum(lo, hi))
        expect("all_min " + tag, mn, np.minimum(lo, hi))
        # Reduced in place (a donated input) too.
        expect("all_sum in place " + tag, dist.all_sum(to_fs(mine, dtype) * 1), lo + hi)
# Rounding is the same on both ranks: a sum of values that do not add exactly.
r = np.random.default_rng(rank).standard_normal(200).astype(np.float32)
s = np.array(dist.all_sum(mx.array(r)))
both = np.array(dist.all_gather(mx.array(s)))
assert np.array_equal(both[:200], both[200:]), "ranks got different sums"
passed("carry_boundary")

# Non-contiguous inputs are packed first: a transpose, a strided slice and a
# broadcast.
base = mx.array(np.arange(12, dtype=np.float32).reshape(3, 4) + rank)
for name, view in [("transpose", mx.transpose(base)), ("slice", base[:, ::2]),
                   ("broadcast", mx.broadcast_to(mx.array([1.0, 2.0]) * (rank + 1), (3, 2)))]:
    want = to_np(view) * 0
    for r in range(2):
        b = np.arange(12, dtype=np.float32).reshape(3, 4) + r
        want = want + {"transpose": b.T, "slice": b[:, ::2],
                       "broadcast": np.broadcast_to(np.array([1.0, 2.0]) * (r + 1), (3, 2))}[name]
    expect("all_sum " + name, dist.all_sum(view), want)
    gathered = dist.all_gather(view)
    both = []
    for r in range(2):
        b = np.arange(12, dtype=np.float32).reshape(3, 4) + r
        both.append({"transpose": b.T, "slice": b[:, ::2],
                     "broadcast": np.broadcast_to(np.array([1.0, 2.0]) * (r + 1), (3, 2))}[name])
    expect("all_gather " + name, gathered, np.concatenate(both))
passed("noncontiguous")

# all_gather over every dtype and shape (0-d gathers into shape (2,)).
for dtype in DTYPES:
    for shape in SHAPES:
        x = to_fs(data(rank, shape, dtype), dtype)
        g = dist.all_gather(x)
        parts = [data(r, shape, dtype) for r in range(2)]
        want = np.stack(parts) if shape == () else np.concatenate(parts)
        assert g.dtype == dtype, dtype
        expect(f"all_gather {dtype} {shape}", g, want)
passed("gather_dtypes")

# Large arrays (> 16 MiB): several MPI segments, and the donated in-place path.
n = 5 * 1024 * 1024  # 20 MiB of float32
big = mx.full((n,), float(rank + 1), dtype=mx.float32)
s = dist.all_sum(big)
del big  # donatable: reduced in place
assert float(mx.sum(s).item()) == 3.0 * n
gathered = dist.all_gather(mx.full((n // 2,), float(rank), dtype=mx.float32))
gs = np.array(gathered)
assert gs.shape == (n,) and gs[: n // 2].sum() == 0 and gs[n // 2:].sum() == n // 2
passed("large")

# Split: one color with keys reversing the order, then one group per rank.
rev = group.split(0, key=size - 1 - rank)
assert rev.size() == 2 and rev.rank() == 1 - rank, (rev.rank(), rev.size())
order = dist.all_gather(mx.array([rank]), group=rev)
expect("split gather", order, [1, 0])
expect("split sum", dist.all_sum(mx.array([rank + 1.0]), group=rev), [3.0])
alone = group.split(rank)
assert alone.size() == 1 and alone.rank() == 0
x = mx.array([5.0 + rank])
expect("singleton sum", dist.all_sum(x, group=alone), [5.0 + rank])
expect("singleton gather", dist.all_gather(x, group=alone), [5.0 + rank])
passed("split")

# Point to point: rank 0 sends first, then the other way; several dtypes,
# 0-d, non-contiguous and large arrays; recv and recv_like.
for dtype in [mx.bool_, mx.int8, mx.uint64, mx.float16, mx.bfloat16, mx.float32, mx.float64]:
    for shape in [(), (7,), (2, 3)]:
        values = data(0, shape, dtype)
        if rank == 0:
            mx.eval(dist.send(to_fs(values, dtype), 1))
            back = dist.recv(shape, dtype, 1)
            expect(f"recv {dtype} {shape}", back, data(1, shape, dtype))
        else:
            got = dist.recv_like(to_fs(values, dtype), 0)
            expect(f"recv_like {dtype} {shape}", got, values)
            mx.eval(dist.send(to_fs(data(1, shape, dtype), dtype), 0))
if rank == 0:
    mx.eval(dist.send(mx.transpose(mx.array(np.arange(6, dtype=np.float32).reshape(2, 3))), 1))
    mx.eval(dist.send(mx.full((n,), 7.0), 1))
else:
    expect("recv transposed", dist.recv((3, 2), mx.float32, 0), np.arange(6.0).reshape(2, 3).T)
    got = dist.recv((n,), mx.float32, 0)
    assert float(mx.sum(got).item()) == 7.0 * n
passed("send_recv")

# async_eval of a collective, then local work while it runs; and a
# collective on its own stream feeding work on the default stream.
x = mx.full((1 << 20,), 1.0 + rank)
y = dist.all_sum(x)
mx.async_eval(y)
local = mx.sum(mx.exp(mx.zeros((1 << 18,))))
assert float(local.item()) == float(1 << 18)
assert float(mx.sum(y).item()) == 3.0 * (1 << 20)
s2 = mx.new_stream(mx.cpu)
z = dist.all_max(mx.array([float(rank), 10.0 - rank]), stream=s2) * 2
expect("stream all_max", z, [2.0, 20.0])
passed("async")

# The benchmark's chain: each step's input is donated to the next.
x = mx.full((4096,), 1.0 + rank)
for _ in range(200):
    x = dist.all_sum(x)
    x = x * 0.5
    mx.eval(x)
expect("chain", x, np.full(4096, 1.5, dtype=np.float32))
passed("chain")

# Two Python threads, each with its own stream and its own communicator over
# the same processes (MPI_THREAD_MULTIPLE: the workers call MPI at once).
# All of a thread's work stays on its stream: were the multiply on a stream
# both threads share, each process could queue the threads' steps in another
# order there, and the two collectives could wait on each other across ranks.
groups = [group.split(0), group.split(0)]
streams = [mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)]
errors = []


def work(i):
    try:
        with mx.stream(streams[i]):
            x = mx.full((1000,), float(i + 1))
            for _ in range(100):
                x = dist.all_sum(x, group=groups[i]) * 0.5
                mx.eval(x)
        assert x.tolist()[0] == float(i + 1), x.tolist()[0]
    except Exception as e:  # re-raised below, on the main thread
        errors.append(e)


threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors
passed("threads")

# Gradients through collectives: an all_sum passes its cotangent through, an all_gather
# hands each rank its own block, an all_max routes to the rank whose value won.
x = mx.array([1.0 + rank, 5.0 - 3 * rank])
g_sum = mx.grad(lambda a: (dist.all_sum(a, group=group) * a).sum())(x)
total = np.array([1.0, 5.0]) + np.array([2.0, 2.0])
assert np.allclose(np.array(g_sum), total + np.array(x)), np.array(g_sum)
weights = mx.array([1.0, 2.0, 3.0, 4.0])
g_gather = mx.grad(lambda a: (dist.all_gather(a, group=group) * weights).sum())(x)
assert np.array(g_gather).tolist() == [1.0 + 2 * rank, 2.0 + 2 * rank], np.array(g_gather)
g_max = mx.grad(lambda a: dist.all_max(a, group=group).sum())(x)
wins = [rank == 1, rank == 0]  # ranks hold [1, 5] and [2, 2]
assert np.array(g_max).tolist() == [float(w) for w in wins], np.array(g_max)
passed("grad")
