"""Where a decode step's time goes: building the graph in Python, encoding it (async_eval),
and waiting for the result, per token, for the Llama generator of fastsync.bench.models;
with the step's node count by primitive. ``--task train``: the same split for a compiled
training step of the training row (building is the compiled function's replay).

    python bench/decode_breakdown.py                     # the CPU row's shape
    python bench/decode_breakdown.py --device gpu        # the GPU row's (Llama-3.2-1B, bf16)
    python bench/decode_breakdown.py --device gpu --task train

Steps are not pipelined here (each is waited for before the next is built), so the three
parts add up to the step's latency; the benchmark's loop overlaps building with the wait.
"""

import argparse
import statistics
import time
from types import SimpleNamespace

import fastsync as mx
import fastsync.nn as nn
from fastsync.bench import models


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--task", choices=["generate", "train"], default="generate")
    a = ap.parse_args()
    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    if a.task == "train":
        return train(a)
    cfg = SimpleNamespace(**models.SHAPES[a.device]["generate"])
    Model, KVCache = models.llama(mx, nn)
    model = Model(cfg)
    model.set_dtype(getattr(mx, cfg.dtype))
    mx.eval(model.parameters())
    caches = [KVCache() for _ in model.blocks]
    y = mx.argmax(model(mx.random.randint(0, cfg.vocab, (1, cfg.prompt)), caches), axis=-1)
    mx.eval(y)
    build, encode, wait = [], [], []
    c0 = mx._core._backend_counters(mx.default_device())
    ops = None
    for i in range(a.steps):
        t0 = time.perf_counter()
        nxt = mx.argmax(model(y[:, None], caches), axis=-1)
        t1 = time.perf_counter()
        if i == 0:
            ops = mx._core._graph_ops([nxt])
        mx.async_eval(nxt)
        t2 = time.perf_counter()
        nxt.item()
        t3 = time.perf_counter()
        build.append(t1 - t0)
        encode.append(t2 - t1)
        wait.append(t3 - t2)
        y = nxt
    c1 = mx._core._backend_counters(mx.default_device())
    report(f"decode step, {a.device} {cfg.dtype}, hidden {cfg.hidden}, {cfg.layers} layers",
           a.steps, build, encode, wait, ops, c0, c1)  # fmt: skip


def train(a):
    """The split for compiled training steps, each waited for before the next is built."""
    import fastsync.optimizers as optim

    cfg = SimpleNamespace(**models.SHAPES[a.device]["train"])
    mx.random.seed(0)
    _, _, step, state = models.train_step(mx, nn, optim, cfg)
    x, y = models.counting_batch(mx, cfg)
    mx.eval(x, y)
    for _ in range(3):
        mx.eval(step(x, y), state)
    build, encode, wait = [], [], []
    c0 = mx._core._backend_counters(mx.default_device())
    ops = None
    for i in range(a.steps):
        t0 = time.perf_counter()
        loss = step(x, y)
        t1 = time.perf_counter()
        if i == 0:
            ops = mx._core._graph_ops([loss])
        mx.async_eval(loss, state)
        t2 = time.perf_counter()
        mx.eval(loss, state)
        t3 = time.perf_counter()
        build.append(t1 - t0)
        encode.append(t2 - t1)
        wait.append(t3 - t2)
    c1 = mx._core._backend_counters(mx.default_device())
    report(f"training step, {a.device} {cfg.dtype}, dims {cfg.dims}, {cfg.layers} layers",
           a.steps, build, encode, wait, ops, c0, c1)  # fmt: skip


def report(what, steps, build, encode, wait, ops, c0, c1):
    med = [statistics.median(v) * 1e3 for v in (build, encode, wait)]
    n = sum(ops.values())
    print(f"{what}: {n} nodes")
    print(
        f"  build {med[0]:.3f} ms  encode {med[1]:.3f} ms  wait {med[2]:.3f} ms  "
        f"= {sum(med):.3f} ms/step ({1e3 / sum(med):.1f} steps/s unpipelined)"
    )
    print(f"  per node: build {med[0] / n * 1e3:.1f} us, encode {med[1] / n * 1e3:.1f} us")
    if c1:
        print("  per step: " + ", ".join(f"{k} {(c1[k] - c0[k]) / steps:.2f}" for k in c1))
    print(
        "  nodes by primitive: "
        + ", ".join(f"{k} {v}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1]))
    )


if __name__ == "__main__":
    main()
