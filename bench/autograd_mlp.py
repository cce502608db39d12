"""value_and_grad of a 4-layer MLP, per step: fastsync beside MLX and PyTorch.

Each library runs in its own subprocess, so peak memory is its own. Reported per library:
the median step time (forward + backward, gradients evaluated), the library's own
peak-memory counter where it has one (fastsync and MLX: ``get_peak_memory``; PyTorch on
CPU has none) and the process's peak resident set growth over the run (``ru_maxrss``),
which every library has. fastsync's row is followed by the BLAS its CPU products call
(OpenBLAS, or MKL where ``pip install fastsync[mkl]`` put it; FASTSYNC_BLAS chooses).

    python bench/autograd_mlp.py                     # width 1024, batch 256, 4 layers
    python bench/autograd_mlp.py --steps 50 --libs fastsync,mlx
    python bench/autograd_mlp.py --device gpu --libs fastsync,torch   # PyTorch on CUDA

A missing peer is reported as such, never silently skipped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, time
lib, width, batch, layers, steps, warmup = sys.argv[1], *map(int, sys.argv[2:7])
device = sys.argv[7]
import numpy as np
rng = np.random.default_rng(0)
ws = [rng.standard_normal((width, width)).astype(np.float32) / width**0.5 for _ in range(layers)]
x_np = rng.standard_normal((batch, width)).astype(np.float32)
y_np = rng.standard_normal((batch, width)).astype(np.float32)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

if lib in ("fastsync", "mlx"):
    if lib == "fastsync":
        import fastsync as mx
    else:
        import mlx.core as mx
    mx.set_default_device(mx.gpu if device == "gpu" else mx.cpu)
    params = [mx.array(w) for w in ws]
    x, y = mx.array(x_np), mx.array(y_np)
    mx.eval(params, x, y)

    def loss_fn(params, x, y):
        h = x
        for i, w in enumerate(params):
            h = h @ w
            if i < len(params) - 1:
                h = mx.maximum(h, 0.0)
        return mx.mean(mx.square(h - y))

    vg = mx.value_and_grad(loss_fn)

    def step():
        loss, grads = vg(params, x, y)
        mx.eval(loss, grads)
        return loss.item()

    def reset():
        mx.reset_peak_memory()

    def peak():
        return mx.get_peak_memory()
else:
    import torch
    dev = "cuda" if device == "gpu" else "cpu"
    params = [torch.tensor(w, device=dev, requires_grad=True) for w in ws]
    x, y = torch.tensor(x_np, device=dev), torch.tensor(y_np, device=dev)

    def step():
        for p in params:
            p.grad = None
        h = x
        for i, w in enumerate(params):
            h = h @ w
            if i < len(params) - 1:
                h = torch.relu(h)
        loss = torch.mean(torch.square(h - y))
        loss.backward()
        return loss.item()

    def reset():
        if dev == "cuda":
            torch.cuda.reset_peak_memory_stats()

    def peak():
        return torch.cuda.max_memory_allocated() if dev == "cuda" else None

for _ in range(warmup):
    step()
reset()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
version = getattr(sys.modules.get({"fastsync": "fastsync", "mlx": "mlx.core"}.get(lib, "torch")),
                  "__version__", "?")
blas = mx.device_info(mx.cpu).get("blas") if lib == "fastsync" else None
print(json.dumps({"lib": lib, "version": version, "blas": blas,
                  "median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
                  "peak_bytes": peak(), "rss_growth_kib": rss1 - rss0}))
"""


def run(lib: str, a) -> dict:
    cmd = [sys.executable, "-c", CHILD, lib, *map(str, (a.width, a.batch, a.layers, a.steps, 3))]
    cmd.append(a.device)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["failed"])[-1]
        return {"lib": lib, "error": last}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--libs", default="fastsync,mlx,torch")
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    a = ap.parse_args()
    print(
        f"value_and_grad, {a.layers}-layer MLP, width {a.width}, batch {a.batch}, {a.device}, "
        f"{a.steps} steps"
    )
    print(
        f"{'library':<10} {'version':<10} {'median ms':>10} {'min ms':>8} "
        f"{'peak MiB':>9} {'RSS growth MiB':>15}"
    )
    for lib in a.libs.split(","):
        r = run(lib, a)
        if "error" in r:
            print(f"{lib:<10} n/a: {r['error']}")
            continue
        peak = "n/a" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f}"
        print(
            f"{lib:<10} {r['version']:<10} {r['median_ms']:>10.2f} {r['min_ms']:>8.2f} "
            f"{peak:>9} {r['rss_growth_kib'] / 1024:>15.1f}"
        )
        if r.get("blas"):
            print(f"{'':<10} CPU products: {r['blas']}")


if __name__ == "__main__":
    main()
