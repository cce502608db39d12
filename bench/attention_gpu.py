"""Flash attention on the GPU, forward and forward+backward, beside PyTorch's
``scaled_dot_product_attention`` in the same process (and MLX where importable).

    python bench/attention_gpu.py [--shape B,H,L,D] [--dtype bfloat16] [--repeat 50]

Prints ms per call (median) and the TFLOP/s it implies (causal: half the score matrix).
"""

from __future__ import annotations

import argparse
import statistics
import time


def _flops(b, h, n, d, causal, backward):
    f = 4 * b * h * n * n * d * (0.5 if causal else 1.0)
    return f * (3.5 if backward else 1.0)  # forward + backward (2.5x the forward)


def _time(fn, sync, repeat):
    for _ in range(3):
        fn()
    sync()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def mx_fns(mx, shape, dtype, causal):
    """fastsync and MLX share the API: the same code times either module."""
    b, h, n, d = shape
    dt = getattr(mx, dtype)
    q, k, v = (mx.random.normal((b, h, n, d)).astype(dt) for _ in range(3))
    mx.eval(q, k, v)
    mask = "causal" if causal else None
    scale = d**-0.5

    def fwd():
        mx.eval(mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask))

    def loss(q, k, v):
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)
        return out.astype(mx.float32).sum()

    grad = mx.grad(loss, argnums=(0, 1, 2))

    def bwd():
        mx.eval(grad(q, k, v))

    return fwd, bwd, mx.synchronize


def fastsync_fns(shape, dtype, causal):
    import fastsync

    return mx_fns(fastsync, shape, dtype, causal)


def torch_fns(shape, dtype, causal):
    import torch
    import torch.nn.functional as F

    b, h, n, d = shape
    dt = getattr(torch, dtype)
    q, k, v = (
        torch.randn(b, h, n, d, device="cuda", dtype=dt, requires_grad=True) for _ in range(3)
    )

    def fwd():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def bwd():
        q.grad = k.grad = v.grad = None
        F.scaled_dot_product_attention(q, k, v, is_causal=causal).float().sum().backward()

    return fwd, bwd, torch.cuda.synchronize


def mlx_fns(shape, dtype, causal):
    import mlx.core

    return mx_fns(mlx.core, shape, dtype, causal)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shape", default="8,16,1024,64")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--no-causal", action="store_true")
    p.add_argument("--libs", default="fastsync,torch,mlx")
    args = p.parse_args()
    shape = tuple(int(s) for s in args.shape.split(","))
    causal = not args.no_causal
    makers = {"fastsync": fastsync_fns, "torch": torch_fns, "mlx": mlx_fns}
    print(f"shape {shape} {args.dtype} causal={causal}, median of {args.repeat}")
    print("| library | forward ms | TFLOP/s | fwd+bwd ms | TFLOP/s |")
    print("|---|---|---|---|---|")
    for lib in args.libs.split(","):
        try:
            fwd, bwd, sync = makers[lib](shape, args.dtype, causal)
            tf = _time(fwd, sync, args.repeat)
            tb = _time(bwd, sync, args.repeat)
        except Exception as e:  # noqa: BLE001 - a missing peer is reported
            print(f"| {lib} | n/a ({type(e).__name__}: {str(e)[:60]}) | | | |")
            continue
        ff = _flops(*shape, causal, False) / tf / 1e12
        fb = _flops(*shape, causal, True) / tb / 1e12
        print(f"| {lib} | {tf * 1e3:.3f} | {ff:.0f} | {tb * 1e3:.3f} | {fb:.0f} |")


if __name__ == "__main__":
    main()
