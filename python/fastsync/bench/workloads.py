"""The benchmark workloads, written once against an ``mlx.core``-style namespace ``mx``.

Each builder takes ``(mx, dev, **params)``, prepares its inputs (evaluated, so that setup is
not timed) and returns a zero-argument *step*: the thing that is timed. ``fastsync`` and
``mlx.core`` are passed in as they are; PyTorch and NumPy go through the adapters in
:mod:`fastsync.bench.adapters`. :data:`WORKLOADS` lists every measured row with its unit,
parameters (full and ``--quick``), the namespace features it needs and which libraries are
peers for it. A library that lacks a needed feature gets "n/a (not implemented)", so a row
starts measuring by itself once the op lands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Step = Callable[[], Any]

MIB = 1024 * 1024

# -- a. eval round trip ---------------------------------------------------------------------


def roundtrip_eval(mx, dev=None) -> Step:
    """``y = x + 1; eval(y)`` on a 0-d float32 array."""
    x = mx.array(1.0, dtype=mx.float32)
    mx.eval(x)

    def step():
        y = x + 1
        mx.eval(y)
        return y

    return step


def roundtrip_item(mx, dev=None) -> Step:
    """``(x + 1).item()`` on a 0-d float32 array (evaluation plus the read back)."""
    x = mx.array(1.0, dtype=mx.float32)
    mx.eval(x)

    def step():
        return (x + 1).item()

    return step


# -- b. dispatch ----------------------------------------------------------------------------


def _small(mx, size):
    x = mx.arange(size, dtype=mx.float32)
    mx.eval(x)
    return x


def chain_one_eval(mx, dev=None, ops=1000, size=16) -> Step:
    """``ops`` dependent tiny adds, evaluated once at the end."""
    x = _small(mx, size)

    def step():
        y = x
        for _ in range(ops):
            y = mx.add(y, 1.0)
        mx.eval(y)
        return y

    return step


def chain_eval_each(mx, dev=None, ops=1000, size=16) -> Step:
    """``ops`` dependent tiny adds, each one evaluated."""
    x = _small(mx, size)

    def step():
        y = x
        for _ in range(ops):
            y = mx.add(y, 1.0)
            mx.eval(y)
        return y

    return step


# -- c. cross-stream ------------------------------------------------------------------------


def cross_stream(mx, dev=None, ops=1000, size=16, pattern="hop") -> Step:
    """``ops`` dependent tiny adds in one eval, alternating between two new streams
    (``pattern="hop"``) or all on one new stream (``pattern="one"``, the baseline)."""
    x = _small(mx, size)
    s1 = mx.new_stream(dev)
    s2 = mx.new_stream(dev) if pattern == "hop" else s1
    streams = (s1, s2)

    def step():
        y = x
        for i in range(ops):
            y = mx.add(y, 1.0, stream=streams[i & 1])
        mx.eval(y)
        return y

    return step


def device_hop(mx, dev=None, iters=100, size=16) -> Step:
    """Per iteration: a GPU op, then a CPU-stream op on its result, then a GPU op on that,
    evaluated each iteration (the data crosses devices twice)."""
    x0 = _small(mx, size)

    def step():
        x = x0
        for _ in range(iters):
            y = mx.add(x, 1.0, stream=dev)
            z = mx.add(y, 1.0, stream=mx.cpu)
            x = mx.add(z, 1.0, stream=dev)
            mx.eval(x)
        return x

    return step


# -- d. async pipeline ----------------------------------------------------------------------


def pipeline(mx, dev=None, n=256, steps=200, mode="eval") -> Step:
    """``steps`` dependent steps ``x = maximum(x @ w, 0)`` on (n, n) float32.

    ``mode``: ``"eval"`` evaluates every step; ``"async"`` calls ``async_eval`` every step
    and evaluates the last; ``"generate"`` is the generation pattern: ``async_eval`` step k+1,
    then read step k (``x[0, 0].item()``). ``w`` averages each row so values stay at 1.
    """
    w = mx.full((n, n), 1.0 / n, dtype=mx.float32)
    x0 = mx.ones((n, n), dtype=mx.float32)
    mx.eval(w, x0)

    def f(x):
        return mx.maximum(mx.matmul(x, w), 0.0)

    if mode == "eval":

        def step():
            x = x0
            for _ in range(steps):
                x = f(x)
                mx.eval(x)
            return x

    elif mode == "async":

        def step():
            x = x0
            for _ in range(steps):
                x = f(x)
                mx.async_eval(x)
            mx.eval(x)
            return x

    elif mode == "generate":

        def step():
            x = f(x0)
            mx.async_eval(x)
            for _ in range(steps - 1):
                nxt = f(x)
                mx.async_eval(nxt)
                x[0, 0].item()
                x = nxt
            return x[0, 0].item()

    else:
        raise ValueError(f"unknown pipeline mode {mode!r}")
    return step


# -- e. memory bound ------------------------------------------------------------------------


def memory_acc(mx, dev=None, n=1000, size=2048, gen="full") -> Step:
    """One eval of ``acc = acc + g(i)`` for i < n, ``g`` a fresh (size, size) float32 array:
    ``mx.random.uniform`` (``gen="uniform"``) or ``mx.full`` with a varying scalar
    (``gen="full"``, the variant every library has)."""
    shape = (size, size)
    if gen == "uniform":

        def make(i):
            return mx.random.uniform(shape=shape)

    else:

        def make(i):
            return mx.full(shape, float(i % 8) * 0.25, dtype=mx.float32)

    def step():
        acc = mx.zeros(shape, dtype=mx.float32)
        for i in range(n):
            acc = acc + make(i)
        mx.eval(acc)
        return acc

    return step


# -- f. compute kernels ---------------------------------------------------------------------


def kernel_add(mx, dev=None, n=4 * MIB) -> Step:
    """float32 ``a + b`` of ``n`` elements (reads 2, writes 1 array)."""
    a = mx.full((n,), 1.5, dtype=mx.float32)
    b = mx.full((n,), 2.5, dtype=mx.float32)
    mx.eval(a, b)

    def step():
        c = mx.add(a, b)
        mx.eval(c)
        return c

    return step


def kernel_sum(mx, dev=None, n=16 * MIB) -> Step:
    """float32 full reduction ``sum(a)`` of ``n`` elements."""
    a = mx.full((n,), 0.5, dtype=mx.float32)
    mx.eval(a)

    def step():
        s = mx.sum(a)
        mx.eval(s)
        return s

    return step


def kernel_softmax(mx, dev=None, rows=4096, cols=1024) -> Step:
    """``softmax(x, axis=-1)`` on (rows, cols) float32."""
    x = mx.reshape(mx.arange(rows * cols, dtype=mx.float32), (rows, cols))
    x = mx.multiply(x, 1.0 / (rows * cols))
    mx.eval(x)

    def step():
        y = mx.softmax(x, axis=-1)
        mx.eval(y)
        return y

    return step


def kernel_matmul(mx, dev=None, n=1024) -> Step:
    """float32 (n, n) @ (n, n)."""
    a = mx.full((n, n), 0.5, dtype=mx.float32)
    b = mx.full((n, n), 1.0 / n, dtype=mx.float32)
    mx.eval(a, b)

    def step():
        c = mx.matmul(a, b)
        mx.eval(c)
        return c

    return step


def kernel_transpose_copy(mx, dev=None, n=4096) -> Step:
    """``transpose(x) + 0`` on (n, n) float32: a strided read, a contiguous write."""
    x = mx.full((n, n), 1.0, dtype=mx.float32)
    mx.eval(x)

    def step():
        y = mx.transpose(x) + 0
        mx.eval(y)
        return y

    return step


# -- the registry ---------------------------------------------------------------------------

LAZY = frozenset({"fastsync", "mlx"})
ML = frozenset({"fastsync", "mlx", "torch"})
ALL = frozenset({"fastsync", "mlx", "torch", "numpy"})


@dataclass(frozen=True)
class Workload:
    """One measured row (or, with ``kind="memory"``, two rows: peak and RSS)."""

    name: str
    unit: str
    better: str  # "lower" or "higher"
    build: Callable[..., Step]
    params: dict = field(default_factory=dict)  # the full run
    quick: dict = field(default_factory=dict)  # overrides for --quick (and the pytest suites)
    convert: Callable[[float, dict], float] | None = None  # seconds per step -> unit value
    needs: tuple[str, ...] = ()  # namespace features, e.g. "matmul", "random.uniform"
    peers: frozenset = ML  # libraries this row applies to
    group: str = ""  # rows of one group are sampled round-robin (interleaved)
    kind: str = "time"  # "time", "memory" or "ratio"
    ratio_of: tuple[str, str] = ()  # kind="ratio": (numerator row, denominator row)
    gpu: bool = True  # has a GPU variant (runs under --device gpu)
    cpu: bool = True  # has a CPU variant (runs under --device cpu)
    doc: str = ""

    def resolved(self, quick: bool) -> dict:
        return {**self.params, **self.quick} if quick else dict(self.params)


def _us_per(count_key: str | None):
    def conv(sec: float, p: dict) -> float:
        return sec * 1e6 / (p[count_key] if count_key else 1)

    return conv


def _ms(sec: float, p: dict) -> float:
    return sec * 1e3


def _gbps(nbytes: Callable[[dict], float]):
    def conv(sec: float, p: dict) -> float:
        return nbytes(p) / sec / 1e9

    return conv


def _gflops(sec: float, p: dict) -> float:
    return 2.0 * p["n"] ** 3 / sec / 1e9


def _memory_rows(gen: str, needs: tuple[str, ...], doc: str) -> Workload:
    return Workload(
        f"e.memory acc+={gen} 2048^2", "MiB", "lower", memory_acc,
        params={"n": 1000, "size": 2048, "gen": gen}, quick={"n": 40},
        needs=needs, kind="memory", doc=doc,
    )


WORKLOADS: list[Workload] = [
    Workload("a.roundtrip eval(x+1) 0-d", "µs/iter", "lower", roundtrip_eval,
             convert=_us_per(None), peers=ALL,
             doc="y = x + 1; eval(y) on a 0-d float32 array"),
    Workload("a.roundtrip (x+1).item() 0-d", "µs/iter", "lower", roundtrip_item,
             convert=_us_per(None), peers=ALL,
             doc="(x + 1).item() on a 0-d float32 array"),
    Workload("b.dispatch 1000 adds, one eval", "µs/op", "lower", chain_one_eval,
             params={"ops": 1000, "size": 16}, convert=_us_per("ops"), peers=ALL,
             doc="1,000 dependent adds on 16 float32, evaluated once"),
    Workload("b.dispatch 1000 adds, eval each", "µs/op", "lower", chain_eval_each,
             params={"ops": 1000, "size": 16}, quick={"ops": 200}, convert=_us_per("ops"),
             peers=ALL, doc="dependent adds on 16 float32, evaluated after every op"),
    Workload("c.cross-stream hop (2 streams)", "µs/op", "lower", cross_stream,
             params={"ops": 1000, "size": 16, "pattern": "hop"}, convert=_us_per("ops"),
             needs=("new_stream",), group="cross", peers=ML,
             doc="1,000 dependent adds alternating between two new streams, one eval"),
    Workload("c.cross-stream one stream", "µs/op", "lower", cross_stream,
             params={"ops": 1000, "size": 16, "pattern": "one"}, convert=_us_per("ops"),
             needs=("new_stream",), group="cross", peers=ML,
             doc="the same 1,000 adds all on one new stream (baseline)"),
    Workload("c.cross-stream hop/one", "x", "lower", cross_stream, kind="ratio",
             ratio_of=("c.cross-stream hop (2 streams)", "c.cross-stream one stream"),
             group="cross", peers=ML,
             doc="per-sample ratio of the two rows above (target: CPU <= 1.1, GPU <= 1.3)"),
    Workload("c.device hop gpu->cpu->gpu", "µs/iter", "lower", device_hop,
             params={"iters": 200}, quick={"iters": 50}, convert=_us_per("iters"),
             group="cross", peers=ML, cpu=False,
             doc="GPU op -> CPU-stream op -> GPU op, eval each iteration (target <= 15 µs)"),
]

for _n, _steps, _quick_steps in ((64, 200, 20), (256, 200, 10)):
    for _mode, _label in (("eval", "eval each"), ("async", "async_eval each"),
                          ("generate", "generate")):
        WORKLOADS.append(Workload(
            f"d.pipeline {_n}^2 {_label}", "µs/step", "lower", pipeline,
            params={"n": _n, "steps": _steps, "mode": _mode}, quick={"steps": _quick_steps},
            convert=_us_per("steps"), needs=("matmul",), group=f"pipeline{_n}", peers=ALL,
            doc=f"{_steps} dependent steps x = maximum(x @ w, 0), {_n}x{_n} float32, "
                f"mode {_mode}"))

WORKLOADS += [
    _memory_rows("full", (), "acc = acc + full((2048,2048), varying scalar) x N, one eval"),
    _memory_rows("uniform", ("random.uniform",),
                 "acc = acc + random.uniform((2048,2048)) x N, one eval"),
    Workload("f.add 4M float32", "GB/s", "higher", kernel_add, params={"n": 4 * MIB},
             convert=_gbps(lambda p: 3 * 4 * p["n"]), peers=ALL,
             doc="a + b, bytes = 3 x 4 x n (two reads, one write)"),
    Workload("f.sum 16M float32", "GB/s", "higher", kernel_sum, params={"n": 16 * MIB},
             convert=_gbps(lambda p: 4 * p["n"]), peers=ALL, doc="sum(a), bytes = 4 x n"),
    Workload("f.softmax (4096,1024)", "ms", "lower", kernel_softmax,
             params={"rows": 4096, "cols": 1024}, convert=_ms, needs=("softmax",),
             peers=ALL, doc="softmax(x, axis=-1); NumPy: exp(x - max) / sum"),
    Workload("f.matmul 1024^2", "GFLOP/s", "higher", kernel_matmul, params={"n": 1024},
             convert=_gflops, needs=("matmul",), peers=ALL, doc="flops = 2 n^3"),
    Workload("f.matmul 2048^2", "GFLOP/s", "higher", kernel_matmul, params={"n": 2048},
             convert=_gflops, needs=("matmul",), peers=ALL, doc="flops = 2 n^3"),
    Workload("f.transpose copy (4096,4096)", "GB/s", "higher", kernel_transpose_copy,
             params={"n": 4096}, convert=_gbps(lambda p: 2 * 4 * p["n"] ** 2), peers=ALL,
             doc="transpose(x) + 0, bytes = 2 x 4 x n^2"),
]


def _model_build(*_args, **_kw):
    raise LookupError("a model row is run by the runner (fastsync.bench.models.runner_for)")


# Issue 15's headline rows: the same model and loop on each library (fastsync.bench.models
# gives the shapes per device; --quick keeps the models and shortens the runs).
WORKLOADS += [
    Workload("model.generate", "", "higher", _model_build, params={"task": "generate"},
             kind="model",
             peers=frozenset({"fastsync", "mlx", "torch"}),
             doc="Llama-style decoder, greedy generation with a KV cache: prompt and "
                 "generation tokens/s, peak memory (CPU: hidden 256, 4 layers, prompt 128, "
                 "512 tokens, float32; GPU: Llama-3.2-1B shape, prompt 512, 512 tokens, "
                 "bfloat16)"),
    Workload("model.train", "", "higher", _model_build, params={"task": "train"},
             kind="model",
             peers=frozenset({"fastsync", "mlx", "torch"}),
             doc="decoder-only LM, AdamW, compiled step (PyTorch eager): steps/s, tokens/s, "
                 "peak memory (CPU: 4 layers, dim 256, context 128, batch 4, float32; GPU: 12 "
                 "layers, dim 1024, context 1024, batch 8, bfloat16)"),
]  # fmt: skip


def by_name(name: str) -> Workload:
    for w in WORKLOADS:
        if w.name == name:
            return w
    raise KeyError(name)


def select(only: list[str] | None) -> list[Workload]:
    """Workloads whose name contains any of ``only`` (all when empty). A ratio row pulls in
    the rows it is computed from."""
    if not only:
        return list(WORKLOADS)
    keep = {w.name for w in WORKLOADS if any(o.lower() in w.name.lower() for o in only)}
    for w in WORKLOADS:
        if w.kind == "ratio" and w.name in keep:
            keep.update(w.ratio_of)
    return [w for w in WORKLOADS if w.name in keep]


def missing(lib, w: Workload) -> str | None:
    """Why ``w`` cannot run on ``lib`` (a :class:`fastsync.bench.libs.Lib`), or None."""
    from .libs import has_feature

    if lib.name not in w.peers:
        return f"{lib.name} is not a peer for this workload"
    if lib.device == "gpu" and not w.gpu:
        return "no GPU variant of this workload"
    if lib.device == "cpu" and not w.cpu:
        return "a GPU-only workload"
    for feat in w.needs:
        if not has_feature(lib.ns, feat):
            if feat == "new_stream":
                return f"not implemented: {lib.name} ({lib.device}) has no streams"
            return f"not implemented: {lib.name} has no mx.{feat}"
    if w.kind == "ratio":
        for dep in w.ratio_of:
            reason = missing(lib, by_name(dep))
            if reason:
                return reason
    return None


def prepare(lib, w: Workload, quick: bool = True) -> Step:
    """Build ``w``'s step for ``lib``; raise ``LookupError(reason)`` when it is n/a."""
    reason = missing(lib, w)
    if reason:
        raise LookupError(reason)
    if w.kind == "ratio":
        raise LookupError("a ratio row is computed from two other rows, not run")
    return w.build(lib.ns, lib.dev, **w.resolved(quick))
