"""Tasks (CPU) / kernels (GPU) of a transformer block's training step, before and after
compile's fusion, the time to build the step's graph (Python running the step, or compile
replaying its recorded graph) and the step time each way.

    python bench/compile_counts.py                  # CPU
    python bench/compile_counts.py --device gpu

The count is the graph's unevaluated nodes when the step's outputs are evaluated: each is
one task on a CPU stream, one or more kernels on a GPU stream. Both graphs compute the same
values (tests/test_compile.py checks it).
"""

import argparse
import statistics
import time

import fastsync as mx
import fastsync.nn as nn
import fastsync.optimizers as optim
from fastsync.utils import tree_flatten


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args()
    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    mx.random.seed(0)
    block = nn.TransformerEncoderLayer(a.dims, 8, mlp_dims=4 * a.dims, activation=nn.gelu)
    opt = optim.AdamW(1e-4)
    x = mx.random.normal((a.batch, a.seq, a.dims))
    mask = nn.MultiHeadAttention.create_additive_causal_mask(a.seq)
    mx.eval(block.parameters(), x, mask)
    vg = nn.value_and_grad(block, lambda x: mx.mean(block(x, mask) ** 2))

    def step(x):
        loss, grads = vg(x)
        opt.update(block, grads)
        return loss

    state = [block.state, opt.state]
    compiled = mx.compile(step, inputs=state, outputs=state)

    def roots(loss):
        return [loss, *(v for _, v in tree_flatten(block.parameters())),
                *(v for _, v in tree_flatten(opt.state) if isinstance(v, mx.array))]  # fmt: skip

    results = {}
    for name, fn in (("eager", step), ("compiled", compiled)):
        loss = fn(x)
        count = mx._core._graph_nodes(roots(loss))
        mx.eval(roots(loss))
        times, builds = [], []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            loss = fn(x)
            builds.append(time.perf_counter() - t0)
            mx.eval(roots(loss))
            times.append(time.perf_counter() - t0)
        results[name] = (count, statistics.median(builds) * 1e3, statistics.median(times) * 1e3)
    print(f"transformer block training step (dims {a.dims}, seq {a.seq}, batch {a.batch}, "
          f"{a.device}): value_and_grad + AdamW")  # fmt: skip
    print(f"{'':10} {'nodes':>6} {'build ms':>9} {'step ms':>8}   (medians)")
    for name, (count, build, ms) in results.items():
        print(f"{name:10} {count:>6} {build:>9.2f} {ms:>8.2f}")


if __name__ == "__main__":
    main()
