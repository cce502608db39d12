"""Issue 19's figures, fastsync beside PyTorch and MLX (where importable) in one run.

Rows: a 2048x2048 float32 svd, inv and cholesky (CPU), a 2**20-point complex64 FFT, and a
ResNet-style 3x3 conv2d forward+backward (batch 32, 64 -> 64 channels, 56x56, padding 1).
Each cell is the median of --repeat timed runs after one warm-up run; "speed-up" is the best
peer's time over fastsync's (> 1: fastsync faster).

Each library runs in its own process unless --same-process is given: PyTorch's libtorch_cpu
exports MKL's BLAS and LAPACK symbols (sgemm_, sgesdd_, ...) to the whole process, and a library
imported beside it whose own LAPACK binds lazily (MLX's Linux wheel ships reference LAPACK and
BLAS) may end up running PyTorch's MKL instead of its own.

    python bench/linalg_fft_conv.py --device cpu [--quick] [--repeat 3] [--only conv,fft]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def _time(fn, sync, repeat):
    fn()
    sync()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t)
    return statistics.median(out), min(out), max(out)


def fastsync_rows(dev, sizes):
    import fastsync as mx

    d = mx.gpu if dev == "gpu" else mx.cpu
    cpu = mx.cpu
    rng = np.random.default_rng(0)
    n = sizes["n"]
    a = mx.array(rng.standard_normal((n, n)).astype(np.float32))
    spd = mx.array(
        (lambda m: m @ m.T + n * np.eye(n, dtype=np.float32))(
            rng.standard_normal((n, n)).astype(np.float32)
        )
    )
    sig = mx.array(
        (rng.standard_normal(sizes["fft"]) + 1j * rng.standard_normal(sizes["fft"])).astype(
            np.complex64
        )
    )
    b, hw, c = sizes["conv"]
    x = mx.array(rng.standard_normal((b, hw, hw, c)).astype(np.float32), dtype=mx.float32)
    w = mx.array(rng.standard_normal((c, 3, 3, c)).astype(np.float32) * 0.05)
    if dev == "gpu":
        sig, x, w = (mx.array(v) + 0 for v in (sig, x, w))
    mx.eval(a, spd, sig, x, w)
    grad = mx.value_and_grad(
        lambda x, w: mx.conv2d(x, w, padding=1, stream=d).sum(), argnums=(0, 1)
    )
    rows = {
        "svd": lambda: mx.eval(mx.linalg.svd(a, stream=cpu)),
        "inv": lambda: mx.eval(mx.linalg.inv(a, stream=cpu)),
        "cholesky": lambda: mx.eval(mx.linalg.cholesky(spd, stream=cpu)),
        "fft": lambda: mx.eval(mx.fft.fft(sig, stream=d)),
        "conv": lambda: mx.eval(grad(x, w)),
    }
    return rows, lambda: mx.synchronize()


def torch_rows(dev, sizes, tf32=True):
    import torch

    # PyTorch's default lets cuDNN run float32 convolutions in TF32 (fastsync's does not).
    torch.backends.cudnn.allow_tf32 = tf32

    d = "cuda" if dev == "gpu" else "cpu"
    g = torch.Generator().manual_seed(0)
    n = sizes["n"]
    a = torch.randn(n, n, generator=g)
    m = torch.randn(n, n, generator=g)
    spd = m @ m.T + n * torch.eye(n)
    sig = torch.randn(sizes["fft"], dtype=torch.complex64, generator=g).to(d)
    b, hw, c = sizes["conv"]
    x = torch.randn(b, c, hw, hw, generator=g).to(d).contiguous(memory_format=torch.channels_last)
    w = (torch.randn(c, c, 3, 3, generator=g) * 0.05).to(d)
    x.requires_grad_(True)
    w.requires_grad_(True)

    def conv():
        x.grad = w.grad = None
        torch.nn.functional.conv2d(x, w, padding=1).sum().backward()

    rows = {
        "svd": lambda: torch.linalg.svd(a),
        "inv": lambda: torch.linalg.inv(a),
        "cholesky": lambda: torch.linalg.cholesky(spd),
        "fft": lambda: torch.fft.fft(sig),
        "conv": conv,
    }
    sync = torch.cuda.synchronize if d == "cuda" else (lambda: None)
    return rows, sync


def mlx_rows(dev, sizes):
    import mlx.core as mx

    d = mx.gpu if dev == "gpu" else mx.cpu
    rng = np.random.default_rng(0)
    n = sizes["n"]
    a = mx.array(rng.standard_normal((n, n)).astype(np.float32))
    m = rng.standard_normal((n, n)).astype(np.float32)
    spd = mx.array(m @ m.T + n * np.eye(n, dtype=np.float32))
    sig = mx.array(
        (rng.standard_normal(sizes["fft"]) + 1j * rng.standard_normal(sizes["fft"])).astype(
            np.complex64
        )
    )
    b, hw, c = sizes["conv"]
    x = mx.array(rng.standard_normal((b, hw, hw, c)).astype(np.float32))
    w = mx.array(rng.standard_normal((c, 3, 3, c)).astype(np.float32) * 0.05)
    mx.eval(a, spd, sig, x, w)
    grad = mx.value_and_grad(
        lambda x, w: mx.conv2d(x, w, padding=1, stream=d).sum(), argnums=(0, 1)
    )
    rows = {
        "svd": lambda: mx.eval(mx.linalg.svd(a, stream=mx.cpu)),
        "inv": lambda: mx.eval(mx.linalg.inv(a, stream=mx.cpu)),
        "cholesky": lambda: mx.eval(mx.linalg.cholesky(spd, stream=mx.cpu)),
        "fft": lambda: mx.eval(mx.fft.fft(sig, stream=d)),
        "conv": lambda: mx.eval(grad(x, w)),
    }
    return rows, lambda: mx.synchronize()


LABELS = {
    "svd": "svd 2048^2 float32 (CPU)",
    "inv": "inv 2048^2 float32 (CPU)",
    "cholesky": "cholesky 2048^2 float32 (CPU)",
    "fft": "fft 2^20 complex64",
    "conv": "conv2d 3x3 fwd+bwd (32, 56, 56, 64->64)",
}


def time_library(lib, maker, args, sizes, only, results):
    try:
        extra = {"tf32": args.tf32 != "off"} if lib == "torch" else {}
        rows, sync = maker(args.device, sizes, **extra)
    except Exception as e:  # noqa: BLE001 - a missing peer is reported, not fatal
        for r in only:
            results[r][lib] = f"n/a ({type(e).__name__}: {str(e)[:60]})"
        return
    for r in only:
        try:
            results[r][lib] = _time(rows[r], sync, args.repeat)
        except Exception as e:  # noqa: BLE001
            results[r][lib] = f"n/a ({type(e).__name__}: {str(e)[:60]})"


def results_of_child(lib, results, only):
    """Times one library in a child process (same arguments, --libs lib --json)."""
    argv = [a for a in sys.argv[1:]]
    cmd = [sys.executable, os.path.abspath(__file__), *argv, "--libs", lib, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    lines = proc.stdout.strip().splitlines()
    try:
        child = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1][:60]
        for r in only:
            results[r][lib] = f"n/a (child process: {why})"
        return
    for r in only:
        v = child[r][lib]
        results[r][lib] = tuple(v) if isinstance(v, list) else v


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--only", default="", help="comma-separated rows: svd,inv,cholesky,fft,conv")
    p.add_argument("--libs", default="fastsync,torch,mlx")
    p.add_argument(
        "--same-process",
        action="store_true",
        help="run all libraries in this process (their BLAS symbols may interpose)",
    )
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child's output
    p.add_argument(
        "--tf32",
        choices=["default", "on", "off"],
        default="default",
        help="TF32 for float32 GPU convolutions: each library's default (PyTorch, MLX on, "
        "fastsync off), or the same setting for all (fastsync: FASTSYNC_TF32=1)",
    )
    args = p.parse_args()
    if args.tf32 == "on":
        os.environ["FASTSYNC_TF32"] = "1"  # read at fastsync's first GPU product
    if args.tf32 != "default":
        os.environ["MLX_ENABLE_TF32"] = "1" if args.tf32 == "on" else "0"  # MLX's default: on

    sizes = {"n": 2048, "fft": 2**20, "conv": (32, 56, 64)}
    if args.quick:
        sizes = {"n": 256, "fft": 2**14, "conv": (2, 16, 8)}
    only = [r for r in args.only.split(",") if r] or list(LABELS)
    if args.device == "gpu":
        only = [r for r in only if r in ("fft", "conv")]
    makers = {"fastsync": fastsync_rows, "torch": torch_rows, "mlx": mlx_rows}
    results: dict[str, dict[str, tuple | str]] = {r: {} for r in only}
    libs = [lib for lib in args.libs.split(",") if lib]
    if not args.same_process and len(libs) > 1:
        for lib in libs:
            results_of_child(lib, results, only)
    else:
        for lib in libs:
            time_library(lib, makers[lib], args, sizes, only, results)
    if args.json:
        print(json.dumps(results))
        return
    tf32 = {
        "default": "each library's default (PyTorch's cuDNN and MLX on, fastsync off)",
        "on": "on for all",
        "off": "off for all",
    }[args.tf32]
    print(f"device: {args.device}, median of {args.repeat} (min-max), ms; TF32: {tf32}")
    print("| row | " + " | ".join(libs) + " | speed-up vs best peer |")
    print("|---" * (len(libs) + 2) + "|")
    for r in only:
        cells, peer_best = [], None
        for lib in libs:
            v = results[r].get(lib)
            if isinstance(v, tuple):
                d = 3 if v[0] < 1e-3 else 2  # sub-millisecond rows to the microsecond
                cells.append(f"{v[0] * 1e3:.{d}f} ({v[1] * 1e3:.{d}f}-{v[2] * 1e3:.{d}f})")
                if lib != "fastsync":
                    peer_best = v[0] if peer_best is None else min(peer_best, v[0])
            else:
                cells.append(str(v))
            mine = results[r].get("fastsync")
        speed = f"{peer_best / mine[0]:.2f}x" if isinstance(mine, tuple) and peer_best else "-"
        print(f"| {LABELS[r]} | " + " | ".join(cells) + f" | {speed} |")


if __name__ == "__main__":
    main()
