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
import math
import time
from functools import partial


def build(mx, nn, a):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = a.heads
            self.attn_norm, self.mlp_norm = nn.RMSNorm(a.dims), nn.RMSNorm(a.dims)
            self.qkv = nn.Linear(a.dims, 3 * a.dims, bias=False)
            self.out = nn.Linear(a.dims, a.dims, bias=False)
            self.rope = nn.RoPE(a.dims // a.heads)
            self.gate = nn.Linear(a.dims, a.mlp, bias=False)
            self.up = nn.Linear(a.dims, a.mlp, bias=False)
            self.down = nn.Linear(a.mlp, a.dims, bias=False)

        def __call__(self, x):
            b, n, d = x.shape
            q, k, v = mx.split(self.qkv(self.attn_norm(x)), 3, axis=-1)
            q, k, v = (t.reshape(b, n, self.heads, -1).transpose(0, 2, 1, 3) for t in (q, k, v))
            q, k = self.rope(q), self.rope(k)
            o = mx.fast.scaled_dot_product_attention(
                q, k, v, scale=1 / math.sqrt(d // self.heads), mask="causal"
            )
            x = x + self.out(o.transpose(0, 2, 1, 3).reshape(b, n, d))
            h = self.mlp_norm(x)
            return x + self.down(nn.silu(self.gate(h)) * self.up(h))

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(a.vocab, a.dims)
            self.blocks = [Block() for _ in range(a.layers)]
            self.norm = nn.RMSNorm(a.dims)

        def __call__(self, tokens):
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.embed.as_linear(self.norm(x))

    return LM()


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
    model = build(mx, nn, a)
    model.set_dtype(getattr(mx, a.dtype))
    mx.eval(model.parameters())
    opt = optim.AdamW(learning_rate=optim.cosine_decay(a.lr, a.steps, a.lr / 10))

    def batch():
        start = mx.random.randint(0, a.vocab, (a.batch, 1))
        stride = mx.random.randint(1, 8, (a.batch, 1))
        seq = (start + stride * mx.arange(a.context + 1)) % a.vocab
        return seq[:, :-1], seq[:, 1:]

    def loss_fn(x, y):
        logits = model(x).astype(mx.float32)
        return nn.losses.cross_entropy(logits, y, reduction="mean")

    value_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, opt.state]

    def step(x, y):
        loss, grads = value_and_grad(x, y)
        opt.update(model, grads)
        return loss

    if not a.no_compile:
        step = partial(mx.compile, inputs=state, outputs=state)(step)

    warmup = min(5, a.steps // 4)
    losses = []
    start = None
    for i in range(a.steps):
        if i == warmup:
            mx.eval(state)
            mx.reset_peak_memory()
            start = time.perf_counter()
        loss = step(*batch())
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
