"""Kernel by kernel, where a GPU model row's step goes, for fastsync and MLX side by side.
CUPTI, through PyTorch's profiler, records every kernel launched in the process (fastsync's,
MLX's, cuBLAS's), so both libraries are measured by the same clock without touching their
code.

    python bench/kernel_profile.py --task generate --libs fastsync,mlx
    python bench/kernel_profile.py --task train --libs fastsync,mlx,torch --top 15

Per library: the step's wall time (unprofiled; decode steps pipelined as the benchmark runs
them), the kernels' summed time per step and the GPU's idle share, then the kernels that take
the most time, with their calls and microseconds per step. Needs PyTorch with CUDA.
"""

import argparse
import importlib
import statistics
import time
from types import SimpleNamespace

import torch
from fastsync.bench import models
from torch.profiler import ProfilerActivity, profile


def namespaces(lib):
    if lib == "fastsync":
        import fastsync as mx
        import fastsync.nn as nn
        import fastsync.optimizers as optim
    else:
        mx = importlib.import_module("mlx.core")
        nn = importlib.import_module("mlx.nn")
        optim = importlib.import_module("mlx.optimizers")
    mx.set_default_device(mx.gpu)
    return mx, nn, optim


def decode_step(mx, nn, cfg):
    """one(): a pipelined decode step (build n+1, async_eval it, read n)."""
    model, KVCache = models.llama_model(mx, nn, cfg)
    caches = [KVCache() for _ in model.blocks]
    prompt = mx.random.randint(0, cfg.vocab, (1, cfg.prompt))
    y = mx.argmax(model(prompt, caches), axis=-1)
    mx.async_eval(y)
    box = [y]

    def one():
        nxt = mx.argmax(model(box[0][:, None], caches), axis=-1)
        mx.async_eval(nxt)
        box[0].item()
        box[0] = nxt

    return one


def train_step(mx, nn, optim, cfg):
    _, _, step, state = models.train_step(mx, nn, optim, cfg)
    x, y = models.counting_batch(mx, cfg)
    mx.eval(x, y)

    def one():
        mx.eval(step(x, y), state)

    return one


class TorchNS:
    """Just enough of a namespace for main(): PyTorch's training row through its runner."""

    @staticmethod
    def synchronize():
        torch.cuda.synchronize()


def torch_train_step(cfg):
    """one(): a PyTorch eager step of the same LM (the benchmark's runner, one step a call)."""
    return models.torch_train_runner(torch, dict(vars(cfg), steps=1, warmup=0), "cuda")


def counters(mx):
    """fastsync's CUDA graph counters (launches, instantiations, ops captured); {} for MLX."""
    if not hasattr(mx, "_core"):
        return {}
    return {k: v for k, v in mx._core._backend_counters(mx.gpu).items() if k.startswith("graph")}


def kernel_name(name, width):
    return name if len(name) <= width else name[: width - 1] + "…"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=["generate", "train"], default="generate")
    ap.add_argument("--libs", default="fastsync,mlx")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    cfg = SimpleNamespace(**models.SHAPES["gpu"][a.task])
    for lib in a.libs.split(","):
        if lib == "torch":
            if a.task != "train":
                raise SystemExit("kernel_profile: --libs torch profiles --task train only")
            mx, one = TorchNS, torch_train_step(cfg)
        else:
            mx, nn, optim = namespaces(lib)
            mx.random.seed(0)
            one = (
                decode_step(mx, nn, cfg) if a.task == "generate" else train_step(mx, nn, optim, cfg)
            )
        for _ in range(4):
            one()
        mx.synchronize()
        walls = []
        before = counters(mx)
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(a.steps):
                one()
            mx.synchronize()
            walls.append((time.perf_counter() - t0) / a.steps * 1e3)
        graphs = {k: (v - before[k]) / (3 * a.steps) for k, v in counters(mx).items()}
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(a.steps):
                one()
            mx.synchronize()
            torch.cuda.synchronize()
        rows = [(e.key, e.count, e.device_time_total) for e in prof.key_averages()]
        rows = [r for r in rows if r[2] > 0]
        rows.sort(key=lambda r: -r[2])
        total = sum(r[2] for r in rows) / a.steps / 1e3
        wall = statistics.median(walls)
        runs = ", ".join(f"{w:.3f}" for w in walls)
        idle = max(0.0, 1 - total / wall)
        print(f"\n== {lib}: {a.task} step, wall {wall:.3f} ms (runs {runs}); "
              f"kernels {total:.3f} ms/step, GPU idle {idle:.0%}")  # fmt: skip
        if graphs:
            print("per step: " + ", ".join(f"{k} {v:.1f}" for k, v in graphs.items()))
        print(f"{'kernel':72} {'calls':>6} {'us/step':>9}")
        for key, count, t in rows[: a.top]:
            print(f"{kernel_name(key, 72):72} {count / a.steps:6.1f} {t / a.steps:9.1f}")


if __name__ == "__main__":
    main()
