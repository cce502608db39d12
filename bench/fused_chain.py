"""A long elementwise chain (GELU-like, 16 ops) over a large array: eager (one kernel or task
per op) against compile's fused node, whose GPU kernel is generated and compiled by NVRTC
(or interpreted, with FASTSYNC_FUSED_KERNELS=interpreted), so the two fused forms can be
timed against each other too.

    python bench/fused_chain.py [--device gpu] [--size 16777216] [--dtype float32]
"""

import argparse
import statistics
import time

import fastsync as mx


def chain(x, b):
    y = x * 1.702 + b
    y = y * mx.sigmoid(y)
    y = mx.tanh(y * 0.5) * y + mx.exp(-mx.abs(x)) * 0.25
    return mx.maximum(y, -3.0) * mx.minimum(y, 3.0) - mx.sqrt(mx.abs(b) + 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--size", type=int, default=1 << 24)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--iters", type=int, default=30)
    a = ap.parse_args()
    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    dt = getattr(mx, a.dtype)
    x = mx.random.normal((a.size,)).astype(dt)
    b = mx.random.normal((a.size,)).astype(dt)
    mx.eval(x, b)
    info = mx.device_info(mx.gpu).get("fused_kernels", "") if a.device == "gpu" else "cpu"
    print(f"{a.size} x {a.dtype} on {a.device} (fused kernels: {info})")
    for name, fn in (("eager", chain), ("compiled", mx.compile(chain))):
        mx.eval(fn(x, b))
        times = []
        for _ in range(a.iters):
            t0 = time.perf_counter()
            mx.eval(fn(x, b))
            times.append(time.perf_counter() - t0)
        nodes = mx._core._graph_nodes([fn(x, b)])
        print(f"{name:9} nodes {nodes:3d}  median {statistics.median(times) * 1e3:8.3f} ms")


if __name__ == "__main__":
    main()
