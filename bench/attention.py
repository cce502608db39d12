"""fast.scaled_dot_product_attention by each of its paths (FASTSYNC_ATTENTION: the fused
kernel, the composed graph, and on the GPU flash attention), forward and forward+backward,
for training shapes and a decoding step; PyTorch's F.scaled_dot_product_attention beside
them with --torch.

    python bench/attention.py [--device gpu] [--dtype bfloat16] [--torch]
"""

import argparse
import math
import os
import statistics
import time

import fastsync as mx

CASES = {
    "train B8 H8 L128 D32": ((8, 8, 128, 32), (8, 8, 128, 32), "causal"),
    "train B4 H16/4 L512 D64": ((4, 16, 512, 64), (4, 4, 512, 64), "causal"),
    "train B8 H16 L1024 D64": ((8, 16, 1024, 64), (8, 16, 1024, 64), "causal"),
    "prefill B1 H32/8 L512 D64": ((1, 32, 512, 64), (1, 8, 512, 64), "causal"),
    "decode B8 H32/8 Lk2048 D128": ((8, 32, 1, 128), (8, 8, 2048, 128), None),
}


def timeit(fn, reps=20):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def attention(path, scale, mask):
    def f(q, k, v):
        os.environ["FASTSYNC_ATTENTION"] = path  # read when the node is built
        try:
            return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)
        finally:
            del os.environ["FASTSYNC_ATTENTION"]

    return f


def measure(path, qs, ks, mask, dtype):
    q, k, v = (mx.random.normal(s).astype(dtype) for s in (qs, ks, ks))
    mx.eval(q, k, v)
    f = attention(path, 1 / math.sqrt(qs[-1]), mask)
    try:
        fwd = timeit(lambda: mx.eval(f(q, k, v)))
    except ValueError:  # flash attention does not apply to this case
        return None, None
    g = mx.grad(lambda q, k, v: mx.sum(f(q, k, v).astype(mx.float32)), argnums=(0, 1, 2))
    return fwd, timeit(lambda: mx.eval(g(q, k, v)))


def measure_torch(qs, ks, mask, dtype, device):
    import torch
    import torch.nn.functional as F

    dev = "cuda" if device == "gpu" else "cpu"
    dt = getattr(torch, dtype)
    q, k, v = (torch.randn(s, device=dev, dtype=dt, requires_grad=True) for s in (qs, ks, ks))
    gqa = qs[1] != ks[1]

    def fwd():
        return F.scaled_dot_product_attention(q, k, v, is_causal=mask == "causal",
                                              enable_gqa=gqa)  # fmt: skip

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    def run_fwd():
        with torch.no_grad():
            fwd()
        sync()

    def run_both():
        q.grad = k.grad = v.grad = None
        fwd().float().sum().backward()
        sync()

    return timeit(run_fwd), timeit(run_both)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--torch", action="store_true", help="PyTorch's attention beside")
    a = ap.parse_args()
    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    paths = ["fused", "composed"] + (["flash"] if a.device == "gpu" else [])
    cols = [f"{p} {w}" for w in ("fwd", "f+b") for p in paths + (["torch"] if a.torch else [])]
    print(f"attention on {a.device}, {a.dtype}, median ms")
    print(f"{'case':30}" + "".join(f"{c:>15}" for c in cols))
    for name, (qs, ks, mask) in CASES.items():
        res = [measure(p, qs, ks, mask, getattr(mx, a.dtype)) for p in paths]
        if a.torch:
            res.append(measure_torch(qs, ks, mask, a.dtype, a.device))
        row = [r[0] for r in res] + [r[1] for r in res]
        print(f"{name:30}" + "".join(f"{'-' if x is None else f'{x:.3f}':>15}" for x in row))


if __name__ == "__main__":
    main()
