"""Where a decode step's time goes: building the graph in Python, encoding it (async_eval),
and waiting for the result, per token, for the Llama generator of fastsync.bench.models;
with the step's node count by primitive.

    python bench/decode_breakdown.py                     # the CPU row's shape
    python bench/decode_breakdown.py --device gpu        # the GPU row's (Llama-3.2-1B, bf16)

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
    a = ap.parse_args()
    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
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
    med = [statistics.median(v) * 1e3 for v in (build, encode, wait)]
    n = sum(ops.values())
    print(f"decode step, {a.device} {cfg.dtype}, hidden {cfg.hidden}, {cfg.layers} layers: "
          f"{n} nodes")  # fmt: skip
    print(
        f"  build {med[0]:.3f} ms  encode {med[1]:.3f} ms  wait {med[2]:.3f} ms  "
        f"= {sum(med):.3f} ms/token ({1e3 / sum(med):.0f} tok/s unpipelined)"
    )
    print(f"  per node: build {med[0] / n * 1e3:.1f} us, encode {med[1] / n * 1e3:.1f} us")
    if c1:
        print("  per step: " + ", ".join(f"{k} {(c1[k] - c0[k]) / a.steps:.2f}" for k in c1))
    print(
        "  nodes by primitive: "
        + ", ".join(f"{k} {v}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1]))
    )


if __name__ == "__main__":
    main()
