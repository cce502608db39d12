"""Token generation with a Llama-style decoder: a prompt, then greedy or sampled tokens,
with a KV cache that grows in blocks and a pipelined decode loop. Written against MLX's
API: the same script runs on MLX (`--lib mlx`).

    python examples/generate.py                               # CPU-sized model, random weights
    python examples/generate.py --device gpu --dtype bfloat16 --hidden 2048 --layers 16 \\
        --heads 32 --kv-heads 8 --mlp 8192 --vocab 128256 --prompt 512 --tokens 512
    python examples/generate.py --weights model.safetensors   # names as this model's

The decode loop builds step n+1 and hands it to async_eval before it reads token n, so the
host prepares the next graph while the device computes (as MLX's LM tooling does). Prints
the prompt's and the generation's tokens per second and the peak memory.
"""

import argparse
import math
import time

BLOCK = 256  # the KV cache grows by this many positions


def build(mx, nn):
    class KVCache:
        """Keys and values of one layer, preallocated in blocks of BLOCK positions."""

        def __init__(self):
            self.keys = self.values = None
            self.offset = 0

        def update(self, k, v):
            n = k.shape[2]
            if self.keys is None or self.offset + n > self.keys.shape[2]:
                grow = BLOCK * ((n + BLOCK - 1) // BLOCK)
                shape = (k.shape[0], k.shape[1], grow)
                new_k = mx.zeros((*shape, k.shape[3]), dtype=k.dtype)
                new_v = mx.zeros((*shape, v.shape[3]), dtype=v.dtype)
                if self.keys is not None:
                    new_k = mx.concatenate([self.keys[..., : self.offset, :], new_k], axis=2)
                    new_v = mx.concatenate([self.values[..., : self.offset, :], new_v], axis=2)
                self.keys, self.values = new_k, new_v
            self.keys[..., self.offset : self.offset + n, :] = k
            self.values[..., self.offset : self.offset + n, :] = v
            self.offset += n
            return self.keys[..., : self.offset, :], self.values[..., : self.offset, :]

    class Attention(nn.Module):
        def __init__(self, dims, heads, kv_heads):
            super().__init__()
            self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dims // heads
            self.q_proj = nn.Linear(dims, heads * self.head_dim, bias=False)
            self.k_proj = nn.Linear(dims, kv_heads * self.head_dim, bias=False)
            self.v_proj = nn.Linear(dims, kv_heads * self.head_dim, bias=False)
            self.o_proj = nn.Linear(heads * self.head_dim, dims, bias=False)
            self.rope = nn.RoPE(self.head_dim, traditional=False, base=500000)

        def __call__(self, x, cache):
            b, n, _ = x.shape
            q = self.q_proj(x).reshape(b, n, self.heads, -1).transpose(0, 2, 1, 3)
            k = self.k_proj(x).reshape(b, n, self.kv_heads, -1).transpose(0, 2, 1, 3)
            v = self.v_proj(x).reshape(b, n, self.kv_heads, -1).transpose(0, 2, 1, 3)
            q, k = self.rope(q, offset=cache.offset), self.rope(k, offset=cache.offset)
            k, v = cache.update(k, v)
            o = mx.fast.scaled_dot_product_attention(
                q, k, v, scale=1 / math.sqrt(self.head_dim), mask="causal" if n > 1 else None
            )
            return self.o_proj(o.transpose(0, 2, 1, 3).reshape(b, n, -1))

    class Block(nn.Module):
        def __init__(self, dims, heads, kv_heads, mlp):
            super().__init__()
            self.attn_norm, self.mlp_norm = nn.RMSNorm(dims), nn.RMSNorm(dims)
            self.attn = Attention(dims, heads, kv_heads)
            self.gate = nn.Linear(dims, mlp, bias=False)
            self.up = nn.Linear(dims, mlp, bias=False)
            self.down = nn.Linear(mlp, dims, bias=False)

        def __call__(self, x, cache):
            x = x + self.attn(self.attn_norm(x), cache)
            h = self.mlp_norm(x)
            return x + self.down(nn.silu(self.gate(h)) * self.up(h))

    class Model(nn.Module):
        def __init__(self, a):
            super().__init__()
            self.embed = nn.Embedding(a.vocab, a.hidden)
            self.blocks = [Block(a.hidden, a.heads, a.kv_heads, a.mlp) for _ in range(a.layers)]
            self.norm = nn.RMSNorm(a.hidden)

        def __call__(self, tokens, caches):
            x = self.embed(tokens)
            for block, cache in zip(self.blocks, caches, strict=True):
                x = block(x, cache)
            return self.embed.as_linear(self.norm(x[:, -1:, :]))[:, -1, :]

    return Model, KVCache


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", choices=["fastsync", "mlx"], default="fastsync")
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=768)
    ap.add_argument("--vocab", type=int, default=10000)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", default=None, help="a .safetensors file with this model's names")
    a = ap.parse_args()

    if a.lib == "mlx":
        import mlx.core as mx
        import mlx.nn as nn
    else:
        import fastsync as mx
        import fastsync.nn as nn

    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    mx.random.seed(a.seed)
    Model, KVCache = build(mx, nn)
    model = Model(a)
    if a.weights:
        model.load_weights(a.weights)
    model.set_dtype(getattr(mx, a.dtype))
    mx.eval(model.parameters())
    caches = [KVCache() for _ in model.blocks]
    prompt = mx.random.randint(0, a.vocab, (1, a.prompt))

    def sample(logits):
        if a.temperature == 0:
            return mx.argmax(logits, axis=-1)
        return mx.random.categorical(logits * (1 / a.temperature))

    mx.reset_peak_memory()
    start = time.perf_counter()
    y = sample(model(prompt, caches))
    mx.async_eval(y)
    tokens = []
    first = None
    for _ in range(a.tokens):
        next_y = sample(model(y[:, None], caches))  # step n+1 is built ...
        mx.async_eval(next_y)  # ... and running before token n is read
        tokens.append(y.item())
        if first is None:
            first = time.perf_counter()
        y = next_y
    end = time.perf_counter()
    prompt_tps = a.prompt / (first - start)
    gen_tps = (a.tokens - 1) / (end - first)
    peak = mx.get_peak_memory() / 2**20
    print(
        f"{a.lib} {a.device} {a.dtype}: prompt {a.prompt} tokens at {prompt_tps:.1f} tok/s, "
        f"generation {a.tokens} tokens at {gen_tps:.1f} tok/s, peak memory {peak:.1f} MiB"
    )
    print("first tokens:", tokens[:12])


if __name__ == "__main__":
    main()
