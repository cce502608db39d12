"""A decoder-only transformer (Llama-style) trained on characters, then sampled with a
KV cache. Written against MLX's API: the same code runs on MLX.

    python examples/transformer_lm.py                 # fastsync
    python examples/transformer_lm.py --lib mlx       # the same script on MLX
    python examples/transformer_lm.py --steps 300 --cpu

The only line that differs between the two is the import at the top of main(); the model
uses nn.Module, nn.Embedding/Linear/RMSNorm/RoPE, mx.fast.scaled_dot_product_attention,
nn.value_and_grad, optim.AdamW with a cosine schedule and clip_grad_norm.
"""

import argparse
import math
import time

TEXT = (
    "the quick brown fox jumps over the lazy dog. "
    "a lazy dog sleeps while the quick fox runs. "
    "the fox and the dog are friends now. "
) * 4


def build(mx, nn):
    class Attention(nn.Module):
        def __init__(self, dims, heads, kv_heads):
            super().__init__()
            self.heads, self.kv_heads = heads, kv_heads
            self.head_dim = dims // heads
            self.q_proj = nn.Linear(dims, heads * self.head_dim, bias=False)
            self.k_proj = nn.Linear(dims, kv_heads * self.head_dim, bias=False)
            self.v_proj = nn.Linear(dims, kv_heads * self.head_dim, bias=False)
            self.o_proj = nn.Linear(heads * self.head_dim, dims, bias=False)
            self.rope = nn.RoPE(self.head_dim, traditional=False, base=10000)

        def __call__(self, x, mask=None, cache=None):
            b, n, _ = x.shape
            q = self.q_proj(x).reshape(b, n, self.heads, -1).transpose(0, 2, 1, 3)
            k = self.k_proj(x).reshape(b, n, self.kv_heads, -1).transpose(0, 2, 1, 3)
            v = self.v_proj(x).reshape(b, n, self.kv_heads, -1).transpose(0, 2, 1, 3)
            if cache is not None:
                k_old, v_old = cache
                q = self.rope(q, offset=k_old.shape[2])
                k = mx.concatenate([k_old, self.rope(k, offset=k_old.shape[2])], axis=2)
                v = mx.concatenate([v_old, v], axis=2)
            else:
                q, k = self.rope(q), self.rope(k)
            o = mx.fast.scaled_dot_product_attention(
                q, k, v, scale=1 / math.sqrt(self.head_dim), mask=mask
            )
            return self.o_proj(o.transpose(0, 2, 1, 3).reshape(b, n, -1)), (k, v)

    class MLP(nn.Module):
        def __init__(self, dims, hidden):
            super().__init__()
            self.gate = nn.Linear(dims, hidden, bias=False)
            self.up = nn.Linear(dims, hidden, bias=False)
            self.down = nn.Linear(hidden, dims, bias=False)

        def __call__(self, x):
            return self.down(nn.silu(self.gate(x)) * self.up(x))

    class Block(nn.Module):
        def __init__(self, dims, heads, kv_heads):
            super().__init__()
            self.attn_norm = nn.RMSNorm(dims)
            self.attn = Attention(dims, heads, kv_heads)
            self.mlp_norm = nn.RMSNorm(dims)
            self.mlp = MLP(dims, 4 * dims)

        def __call__(self, x, mask=None, cache=None):
            h, cache = self.attn(self.attn_norm(x), mask, cache)
            x = x + h
            return x + self.mlp(self.mlp_norm(x)), cache

    class LM(nn.Module):
        def __init__(self, vocab, dims=64, layers=2, heads=4, kv_heads=2):
            super().__init__()
            self.embed = nn.Embedding(vocab, dims)
            self.blocks = [Block(dims, heads, kv_heads) for _ in range(layers)]
            self.norm = nn.RMSNorm(dims)

        def __call__(self, tokens, cache=None):
            x = self.embed(tokens)
            mask = "causal" if x.shape[1] > 1 else None
            cache = cache or [None] * len(self.blocks)
            new_cache = []
            for block, c in zip(self.blocks, cache, strict=True):
                x, c = block(x, mask, c)
                new_cache.append(c)
            return self.embed.as_linear(self.norm(x)), new_cache

    return LM


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", choices=["fastsync", "mlx"], default="fastsync")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if args.lib == "mlx":
        import mlx.core as mx
        import mlx.nn as nn
        import mlx.optimizers as optim
    else:
        import fastsync as mx
        import fastsync.nn as nn
        import fastsync.optimizers as optim

    if args.cpu:
        mx.set_default_device(mx.cpu)
    mx.random.seed(args.seed)
    chars = sorted(set(TEXT))
    index = {c: i for i, c in enumerate(chars)}
    data = mx.array([index[c] for c in TEXT])

    model = build(mx, nn)(len(chars))
    mx.eval(model.parameters())
    schedule = optim.cosine_decay(3e-3, args.steps, 3e-4)
    opt = optim.AdamW(learning_rate=schedule, weight_decay=0.01)

    def loss_fn(x, y):
        logits, _ = model(x)
        return nn.losses.cross_entropy(logits, y, reduction="mean")

    step_fn = nn.value_and_grad(model, loss_fn)
    batch, length = 16, 32
    start = time.perf_counter()
    for step in range(args.steps):
        starts = mx.random.randint(0, data.shape[0] - length - 1, (batch,))
        idx = starts[:, None] + mx.arange(length + 1)[None, :]
        seq = data[idx]
        loss, grads = step_fn(seq[:, :-1], seq[:, 1:])
        grads, _ = optim.clip_grad_norm(grads, 1.0)
        opt.update(model, grads)
        mx.eval(loss, model.parameters(), opt.state)
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}")
    print(f"trained {args.steps} steps in {time.perf_counter() - start:.1f} s")

    # Greedy generation with a KV cache: the prompt once, then one token per step.
    prompt = "the quick "
    tokens = mx.array([[index[c] for c in prompt]])
    logits, cache = model(tokens)
    out = []
    for _ in range(length - len(prompt)):  # stay within the trained context
        nxt = mx.argmax(logits[:, -1, :], axis=-1)
        out.append(chars[nxt.item()])
        logits, cache = model(nxt[:, None], cache)
    print("sample:", prompt + "".join(out))


if __name__ == "__main__":
    main()
