"""Every NCCL collective over 2 ranks, one GPU each, checked against NumPy.

Run by tests/test_nccl.py through ``python -m fastsync.launch -n 2 --gpus``.
Prints ``PASS <section> rank=<r>`` per section; any failure raises, which
aborts the job. Collectives run on GPU streams; inputs come from the host,
from GPU ops on the same or another stream, and from a CPU stream still in
flight, so the driver's events (not host waits) must order them.
"""

import os

# Before fastsync (and NCCL) start: NVLink multicast stays off even when this
# script is started without the launcher, which sets it too.
os.environ["NCCL_NVLS_ENABLE"] = "0"

import fastsync as mx  # noqa: E402
import numpy as np  # noqa: E402
from fastsync import distributed as dist  # noqa: E402

group = dist.init(strict=True, backend="nccl")
rank, size = group.rank(), group.size()
assert size == 2, f"expected 2 ranks, got {size}"
assert "backend=nccl" in repr(group), repr(group)
other = 1 - rank

REDUCE_DTYPES = [mx.bool_, mx.int8, mx.uint8, mx.int32, mx.uint32, mx.int64, mx.uint64,
                 mx.float16, mx.bfloat16, mx.float32, mx.float64]
ALL_DTYPES = REDUCE_DTYPES + [mx.int16, mx.uint16]
SHAPES = [(), (1,), (25,), (3, 4, 5), (0,), (2, 0, 3), (1000,)]


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


def raises(exc, fn, *words):
    try:
        fn()
    except exc as e:
        text = str(e)
        assert all(w in text for w in words), f"{words} not all in: {text}"
        return
    raise AssertionError(f"no {exc.__name__} raised (wanted {words})")


# all_sum / all_max / all_min over every dtype NCCL reduces, inputs from the host.
for dtype in REDUCE_DTYPES:
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

# all_gather moves bytes: every dtype, int16 and uint16 included.
for dtype in ALL_DTYPES:
    for shape in SHAPES:
        x = to_fs(data(rank, shape, dtype), dtype)
        g = dist.all_gather(x)
        parts = [data(r, shape, dtype) for r in range(2)]
        want = np.stack(parts) if shape == () else np.concatenate(parts)
        assert g.dtype == dtype, dtype
        expect(f"all_gather {dtype} {shape}", g, want)
passed("gather_dtypes")

# Strided inputs are packed on the GPU first: a transpose, a strided slice
# and a broadcast, made on the GPU stream.
with mx.stream(mx.gpu):
    base = mx.array(np.arange(12, dtype=np.float32).reshape(3, 4)) + rank
    views = {"transpose": mx.transpose(base), "slice": base[:, ::2],
             "broadcast": mx.broadcast_to(mx.array([1.0, 2.0]) * (rank + 1), (3, 2))}


def view_of(name, r):
    b = np.arange(12, dtype=np.float32).reshape(3, 4) + r
    return {"transpose": b.T, "slice": b[:, ::2],
            "broadcast": np.broadcast_to(np.array([1.0, 2.0]) * (r + 1), (3, 2))}[name]


for name, view in views.items():
    expect("all_sum " + name, dist.all_sum(view), view_of(name, 0) + view_of(name, 1))
    expect("all_gather " + name, dist.all_gather(view),
           np.concatenate([view_of(name, 0), view_of(name, 1)]))
passed("noncontiguous")

# Ordering by events: GPU producers and consumers on the default GPU stream
# and on another one, and a CPU-stream producer still in flight.
with mx.stream(mx.gpu):
    a = mx.full((4096,), rank + 1.0) * 2.0
    t = dist.all_sum(a) + 1.0
expect("gpu chain", t, np.full(4096, 7.0))
s2 = mx.new_stream(mx.gpu)
y = dist.all_max(mx.multiply(mx.array([float(rank), 10.0 - rank]), 1.0, stream=mx.gpu),
                 stream=s2)
z = mx.multiply(y, 2.0, stream=mx.gpu)
expect("other gpu stream", z, [2.0, 20.0])
host = mx.exp(mx.zeros((1 << 20,)), stream=mx.cpu)
summed = dist.all_sum(host)
mx.async_eval(summed)
assert float(mx.sum(summed).item()) == 2.0 * (1 << 20)
passed("ordering")

# The benchmark's chains: evaluated each step (the input donated to the
# next), and pipelined (one eval for many collectives).
with mx.stream(mx.gpu):
    x = mx.full((4096,), 1.0 + rank)
    for _ in range(200):
        x = dist.all_sum(x) * 0.5
        mx.eval(x)
    expect("chain", x, np.full(4096, 1.5, dtype=np.float32))
    x = mx.full((1 << 16,), 1.0 + rank)
    for _ in range(50):
        x = dist.all_sum(x) * 0.5
    expect("pipelined", x, np.full(1 << 16, 1.5, dtype=np.float32))
passed("chain")

# Large arrays: 64 MiB reduced (donated, in place), 32 MiB gathered.
n = 16 * 1024 * 1024
with mx.stream(mx.gpu):
    big = mx.full((n,), float(rank + 1), dtype=mx.float32)
    s = dist.all_sum(big)
    del big
    assert (np.array(s) == 3.0).all()
    gathered = dist.all_gather(mx.full((n // 2,), float(rank), dtype=mx.float32))
gs = np.array(gathered)
assert gs.shape == (n,) and gs[: n // 2].sum() == 0 and gs[n // 2:].sum() == n // 2
passed("large")

# Point to point, in matching order on both ranks (NCCL's send waits for the
# peer's recv on the GPU): rank 0 sends first, then the other way.
for dtype in [mx.bool_, mx.int8, mx.int16, mx.uint64, mx.float16, mx.bfloat16, mx.float32,
              mx.float64]:
    for shape in [(), (7,), (2, 3), (0,)]:
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
    assert (np.array(got) == 7.0).all()
passed("send_recv")

# Split: one color with keys reversing the order (a new NCCL communicator),
# then one group per rank (identities).
rev = group.split(0, key=size - 1 - rank)
assert rev.size() == 2 and rev.rank() == 1 - rank, (rev.rank(), rev.size())
assert "backend=nccl" in repr(rev), repr(rev)
expect("split gather", dist.all_gather(mx.array([rank]), group=rev), [1, 0])
expect("split sum", dist.all_sum(mx.array([rank + 1.0]), group=rev), [3.0])
alone = group.split(rank)
assert alone.size() == 1 and alone.rank() == 0
expect("singleton sum", dist.all_sum(mx.array([5.0 + rank]), group=alone), [5.0 + rank])
passed("split")

# Argument errors, raised when the op is built.
raises(ValueError, lambda: dist.all_sum(mx.array([1.0]), stream=mx.cpu), "[all_sum]", "GPU")
raises(TypeError, lambda: dist.all_sum(mx.array([1], dtype=mx.int16)), "[all_sum]", "int16")
raises(TypeError, lambda: dist.all_max(mx.array([1], dtype=mx.uint16)), "[all_max]", "uint16")
passed("errors")

# The MPI group beside the NCCL one: its collectives stay on the CPU.
mpi = dist.init(backend="mpi")
assert "backend=mpi" in repr(mpi), repr(mpi)
expect("mpi beside nccl", dist.all_sum(mx.array([rank + 1.0]), group=mpi), [3.0])
# Both names of the NCCL world answer with the group made first.
assert "backend=nccl" in repr(dist.init(backend="nccl")) and "backend=nccl" in repr(dist.init())
passed("mpi_beside")
