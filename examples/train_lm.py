"""Train a decoder-only transformer language model with AdamW on synthetic tokens (a
learnable pattern, so the loss visibly falls), with ``compile`` on the step. Written
against MLX's API: the same script runs on MLX (`--lib mlx`).

    python examples/train_lm.py                        # CPU: 4 layers, dim 256, context 128
    python examples/train_lm.py --device gpu --dtype bfloat16 --layers 12 --dims 1024 \\
        --heads 16 --mlp 4096 --context 1024 --batch 8

The data: each sequence counts up by a random stride modulo the vocabulary, so the next
token is predictable from the two before it. Prints the loss as it falls, then steps/s,
tokens/s and the peak memory over the timed steps.
"""

import argparse
import time

# The model, the synthetic task and the compiled AdamW step, written against MLX's API
# (fastsync's benchmark rows use the same code).
from fastsync.bench.models import counting_batch, train_step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", choices=["fastsync", "mlx"], default="fastsync")
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()

    if a.lib == "mlx":
        import mlx.core as mx
        import mlx.nn as nn
        import mlx.optimizers as optim
    else:
        import fastsync as mx
        import fastsync.nn as nn
        import fastsync.optimizers as optim

    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    mx.random.seed(a.seed)
    _, _, step, state = train_step(mx, nn, optim, a, compiled=not a.no_compile)

    warmup = min(5, a.steps // 4)
    losses = []
    start = None
    for i in range(a.steps):
        if i == warmup:
            mx.eval(state)
            mx.reset_peak_memory()
            start = time.perf_counter()
        loss = step(*counting_batch(mx, a))
        mx.eval(loss, state)
        losses.append(loss.item())
        if i % 20 == 0 or i == a.steps - 1:
            print(f"step {i:4d}  loss {losses[-1]:.3f}")
    elapsed = time.perf_counter() - start
    timed = a.steps - warmup
    peak = mx.get_peak_memory() / 2**20
    print(
        f"{a.lib} {a.device} {a.dtype}: {timed / elapsed:.2f} steps/s, "
        f"{timed * a.batch * a.context / elapsed:.0f} tokens/s, peak memory {peak:.1f} MiB"
    )


if __name__ == "__main__":
    main()
