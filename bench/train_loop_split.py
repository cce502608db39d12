"""Host side of the GPU training row (fastsync.bench.models, compiled steps): per step, the
graph build, the encode (async_eval, throttled by the in-flight cap) and the wait, medians.

    python bench/train_loop_split.py [steps] [split]

`split` calls async_eval before eval, so the encode and the wait are timed apart."""

import statistics as st
import sys
import time
from types import SimpleNamespace

import fastsync as mx
import fastsync.nn as nn
import fastsync.optimizers as optim
from fastsync.bench import models

N = int(sys.argv[1]) if len(sys.argv) > 1 else 30
split = len(sys.argv) > 2 and sys.argv[2] == "split"
mx.set_default_device(mx.gpu)
a = SimpleNamespace(**models.SHAPES["gpu"]["train"])
mx.random.seed(0)
_, _, step, state = models.train_step(mx, nn, optim, a)
batches = [models.counting_batch(mx, a) for _ in range(4)]
mx.eval(batches)
for i in range(5):
    mx.eval(step(*batches[i % 4]), state)
b, e, w, t = [], [], [], []
T0 = time.perf_counter()
for i in range(N):
    t0 = time.perf_counter()
    loss = step(*batches[i % 4])
    t1 = time.perf_counter()
    if split:
        mx.async_eval(loss, state)
    t2 = time.perf_counter()
    mx.eval(loss, state)
    t3 = time.perf_counter()
    for v, d in ((b, t1 - t0), (e, t2 - t1), (w, t3 - t2), (t, t3 - t0)):
        v.append(d)
wall = (time.perf_counter() - T0) / N


def m(v):
    return st.median(v) * 1e3


print(
    f"{'split' if split else 'plain'}: {1 / wall:.2f} steps/s  build {m(b):.2f}  "
    f"async_eval {m(e):.2f}  eval/wait {m(w):.2f}  step {m(t):.2f} ms (medians)"
)
