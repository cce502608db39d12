"""The model workloads: a Llama-style decoder generating tokens with a KV cache, and a
decoder-only language model trained with AdamW.

Written once against MLX's API (``mx``, ``nn``, ``optim`` namespaces), so the same code runs
on fastsync and on MLX (``examples/generate.py`` and ``examples/train_lm.py`` are its command
lines); and by hand for PyTorch eager, with the same shapes, dtypes, initialisation scheme and
token counts: ``F.scaled_dot_product_attention``, a preallocated KV cache and
``inference_mode`` for generation. Each ``*_runner`` builds its model once and returns
``run()``, which measures one whole generation (or a series of training steps) and returns
its figures: what :mod:`fastsync.bench.runner` repeats for a model row.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

BLOCK = 256  # the fastsync/MLX KV cache grows by this many positions

#: Issue 15's shapes. ``vocab`` for training is the synthetic task's (train_lm's default).
SHAPES = {
    "cpu": {
        "generate": dict(hidden=256, layers=4, heads=8, kv_heads=4, mlp=768, vocab=10000,
                         prompt=128, tokens=512, dtype="float32"),
        "train": dict(layers=4, dims=256, heads=4, mlp=1024, vocab=1024, context=128, batch=4,
                      steps=8, warmup=2, dtype="float32"),
    },
    "gpu": {
        "generate": dict(hidden=2048, layers=16, heads=32, kv_heads=8, mlp=8192, vocab=128256,
                         prompt=512, tokens=512, dtype="bfloat16"),
        "train": dict(layers=12, dims=1024, heads=16, mlp=4096, vocab=1024, context=1024,
                      batch=8, steps=20, warmup=5, dtype="bfloat16"),
    },
}  # fmt: skip


# -- MLX's API: fastsync and MLX ------------------------------------------------------------


def llama(mx, nn):
    """(Model, KVCache) classes of a Llama-style decoder over namespaces ``mx`` and ``nn``:
    RMSNorm, RoPE, grouped-query attention through ``fast.scaled_dot_product_attention``,
    a SwiGLU MLP and tied embeddings. ``Model(cfg)`` takes ``hidden``, ``layers``, ``heads``,
    ``kv_heads``, ``mlp`` and ``vocab``; it returns the last position's logits."""

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


def llama_model(mx, nn, a):
    """(model, KVCache): the decoder above with ``a``'s shape, random weights in ``a.dtype``,
    evaluated; and its cache class."""
    Model, KVCache = llama(mx, nn)
    model = Model(a)
    model.set_dtype(getattr(mx, a.dtype))
    mx.eval(model.parameters())
    return model, KVCache


def generate(mx, model, caches, prompt, tokens, sample) -> dict:
    """The pipelined decode loop (step n+1 is built and handed to ``async_eval`` before token
    n is read, as MLX's LM tooling does); returns the tokens and the prompt's and the
    generation's tokens per second."""
    start = time.perf_counter()
    y = sample(model(prompt, caches))
    mx.async_eval(y)
    out, first = [], None
    for _ in range(tokens):
        next_y = sample(model(y[:, None], caches))
        mx.async_eval(next_y)
        out.append(y.item())
        if first is None:
            first = time.perf_counter()
        y = next_y
    end = time.perf_counter()
    return {"tokens": out, "prompt tok/s": prompt.shape[1] / (first - start),
            "generation tok/s": (tokens - 1) / (end - first)}  # fmt: skip


def generate_runner(mx, nn, cfg: dict, seed: int = 0):
    """``run()`` generating ``cfg["tokens"]`` greedy tokens after a random prompt."""
    a = SimpleNamespace(**cfg)
    mx.random.seed(seed)
    model, KVCache = llama_model(mx, nn, a)
    prompt = mx.random.randint(0, a.vocab, (1, a.prompt))
    mx.eval(prompt)

    def run(warm: bool = False) -> dict:
        caches = [KVCache() for _ in model.blocks]
        mx.reset_peak_memory()
        tokens = min(a.tokens, 8) if warm else a.tokens
        r = generate(mx, model, caches, prompt, tokens, lambda lg: mx.argmax(lg, axis=-1))
        r["peak MiB"] = mx.get_peak_memory() / 2**20
        return r

    return run


def transformer_lm(mx, nn, a):
    """A decoder-only LM over namespaces ``mx`` and ``nn`` (pre-norm blocks: fused QKV,
    RoPE, causal ``fast.scaled_dot_product_attention``, SwiGLU MLP; tied embeddings)."""

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


def counting_batch(mx, a):
    """A batch of the synthetic task: each sequence counts up by a random stride modulo the
    vocabulary, so the next token is predictable from the two before it."""
    start = mx.random.randint(0, a.vocab, (a.batch, 1))
    stride = mx.random.randint(1, 8, (a.batch, 1))
    seq = (start + stride * mx.arange(a.context + 1)) % a.vocab
    return seq[:, :-1], seq[:, 1:]


def train_step(mx, nn, optim, a, compiled: bool = True):
    """(model, optimizer, step, state) for the LM above with AdamW on a cosine schedule;
    ``step(x, y)`` returns the loss and updates the state in place (compiled by default)."""
    model = transformer_lm(mx, nn, a)
    model.set_dtype(getattr(mx, a.dtype))
    mx.eval(model.parameters())
    total = getattr(a, "steps", 100)
    lr = getattr(a, "lr", 1e-3)
    opt = optim.AdamW(learning_rate=optim.cosine_decay(lr, total, lr / 10))

    def loss_fn(x, y):
        logits = model(x).astype(mx.float32)
        return nn.losses.cross_entropy(logits, y, reduction="mean")

    value_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, opt.state]

    def step(x, y):
        loss, grads = value_and_grad(x, y)
        opt.update(model, grads)
        return loss

    if compiled:
        step = mx.compile(step, inputs=state, outputs=state)
    return model, opt, step, state


def train_runner(mx, nn, optim, cfg: dict, seed: int = 0):
    """``run()`` timing ``steps`` compiled training steps after ``warmup`` ones."""
    a = SimpleNamespace(**cfg)
    mx.random.seed(seed)
    _, _, step, state = train_step(mx, nn, optim, a)
    batches = [counting_batch(mx, a) for _ in range(4)]
    mx.eval(batches)

    def run(warm: bool = False) -> dict:
        for i in range(a.warmup):
            mx.eval(step(*batches[i % 4]), state)
        if warm:
            return {}
        mx.reset_peak_memory()
        t0 = time.perf_counter()
        for i in range(a.steps):
            loss = step(*batches[i % 4])
            mx.eval(loss, state)
        elapsed = time.perf_counter() - t0
        return {"steps/s": a.steps / elapsed,
                "tokens/s": a.steps * a.batch * a.context / elapsed,
                "peak MiB": mx.get_peak_memory() / 2**20, "loss": loss.item()}  # fmt: skip

    return run


# -- PyTorch eager --------------------------------------------------------------------------


def _torch_rope(torch, head_dim, base, max_len, device):
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim)
    t = torch.arange(max_len, device=device).float()
    freqs = torch.outer(t, inv)
    return freqs.cos(), freqs.sin()


def _torch_apply_rope(torch, x, cos, sin):
    # Non-traditional RoPE (rotate the two halves), as nn.RoPE(traditional=False).
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c, s = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1)


def torch_generate_runner(torch, cfg: dict, device: str, seed: int = 0):
    """PyTorch eager generation with the same model, a KV cache preallocated to prompt +
    tokens, ``F.scaled_dot_product_attention`` (GQA) and ``inference_mode``."""
    import torch.nn.functional as F
    from torch import nn

    a = SimpleNamespace(**cfg)
    torch.manual_seed(seed)
    dtype = getattr(torch, a.dtype)
    dev = torch.device(device)
    head_dim = a.hidden // a.heads
    max_len = a.prompt + a.tokens
    cos, sin = _torch_rope(torch, head_dim, 500000.0, max_len, dev)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(a.hidden, a.heads * head_dim, bias=False)
            self.k_proj = nn.Linear(a.hidden, a.kv_heads * head_dim, bias=False)
            self.v_proj = nn.Linear(a.hidden, a.kv_heads * head_dim, bias=False)
            self.o_proj = nn.Linear(a.heads * head_dim, a.hidden, bias=False)

        def forward(self, x, cache, pos):
            b, n, _ = x.shape
            q = self.q_proj(x).view(b, n, a.heads, head_dim).transpose(1, 2)
            k = self.k_proj(x).view(b, n, a.kv_heads, head_dim).transpose(1, 2)
            v = self.v_proj(x).view(b, n, a.kv_heads, head_dim).transpose(1, 2)
            q = _torch_apply_rope(torch, q, cos[pos : pos + n], sin[pos : pos + n])
            k = _torch_apply_rope(torch, k, cos[pos : pos + n], sin[pos : pos + n])
            kc, vc = cache
            kc[:, :, pos : pos + n] = k
            vc[:, :, pos : pos + n] = v
            o = F.scaled_dot_product_attention(
                q, kc[:, :, : pos + n], vc[:, :, : pos + n], is_causal=n > 1, enable_gqa=True
            )
            return self.o_proj(o.transpose(1, 2).reshape(b, n, -1))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm = nn.RMSNorm(a.hidden, eps=1e-5)
            self.mlp_norm = nn.RMSNorm(a.hidden, eps=1e-5)
            self.attn = Attention()
            self.gate = nn.Linear(a.hidden, a.mlp, bias=False)
            self.up = nn.Linear(a.hidden, a.mlp, bias=False)
            self.down = nn.Linear(a.mlp, a.hidden, bias=False)

        def forward(self, x, cache, pos):
            x = x + self.attn(self.attn_norm(x), cache, pos)
            h = self.mlp_norm(x)
            return x + self.down(F.silu(self.gate(h)) * self.up(h))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(a.vocab, a.hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(a.layers))
            self.norm = nn.RMSNorm(a.hidden, eps=1e-5)

        def forward(self, tokens, caches, pos):
            x = self.embed(tokens)
            for block, cache in zip(self.blocks, caches, strict=True):
                x = block(x, cache, pos)
            return self.norm(x[:, -1, :]) @ self.embed.weight.T

    model = Model().to(device=dev, dtype=dtype).eval()
    prompt = torch.randint(0, a.vocab, (1, a.prompt), device=dev)
    cuda = dev.type == "cuda"

    def run(warm: bool = False) -> dict:
        tokens = min(a.tokens, 8) if warm else a.tokens
        with torch.inference_mode():
            shape = (1, a.kv_heads, max_len, head_dim)
            caches = [
                (torch.zeros(shape, dtype=dtype, device=dev),
                 torch.zeros(shape, dtype=dtype, device=dev))
                for _ in model.blocks
            ]  # fmt: skip
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            y = model(prompt, caches, 0).argmax(-1)
            out = [y.item()]
            first = time.perf_counter()
            for i in range(1, tokens):
                y = model(y[:, None], caches, a.prompt + i - 1).argmax(-1)
                out.append(y.item())
            end = time.perf_counter()
        r = {"tokens": out, "prompt tok/s": a.prompt / (first - start),
             "generation tok/s": (tokens - 1) / (end - first)}  # fmt: skip
        if cuda:
            r["peak MiB"] = torch.cuda.max_memory_allocated() / 2**20
        return r

    return run


def torch_train_runner(torch, cfg: dict, device: str, seed: int = 0):
    """PyTorch eager training of the same LM: AdamW on the same cosine schedule,
    ``F.scaled_dot_product_attention(is_causal=True)``, parameters in the row's dtype."""
    import torch.nn.functional as F
    from torch import nn

    a = SimpleNamespace(**cfg)
    torch.manual_seed(seed)
    dtype = getattr(torch, a.dtype)
    dev = torch.device(device)
    head_dim = a.dims // a.heads
    cos, sin = _torch_rope(torch, head_dim, 10000.0, a.context, dev)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm = nn.RMSNorm(a.dims, eps=1e-5)
            self.mlp_norm = nn.RMSNorm(a.dims, eps=1e-5)
            self.qkv = nn.Linear(a.dims, 3 * a.dims, bias=False)
            self.out = nn.Linear(a.dims, a.dims, bias=False)
            self.gate = nn.Linear(a.dims, a.mlp, bias=False)
            self.up = nn.Linear(a.dims, a.mlp, bias=False)
            self.down = nn.Linear(a.mlp, a.dims, bias=False)

        def forward(self, x):
            b, n, d = x.shape
            q, k, v = self.qkv(self.attn_norm(x)).split(d, dim=-1)
            q, k, v = (t.view(b, n, a.heads, head_dim).transpose(1, 2) for t in (q, k, v))
            q = _torch_apply_rope(torch, q, cos[:n], sin[:n])
            k = _torch_apply_rope(torch, k, cos[:n], sin[:n])
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.out(o.transpose(1, 2).reshape(b, n, d))
            h = self.mlp_norm(x)
            return x + self.down(F.silu(self.gate(h)) * self.up(h))

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(a.vocab, a.dims)
            self.blocks = nn.ModuleList(Block() for _ in range(a.layers))
            self.norm = nn.RMSNorm(a.dims, eps=1e-5)

        def forward(self, tokens):
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.norm(x) @ self.embed.weight.T

    model = LM().to(device=dev, dtype=dtype)
    lr = getattr(a, "lr", 1e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, getattr(a, "steps", 100), lr / 10)
    batches = []
    for _ in range(4):
        start = torch.randint(0, a.vocab, (a.batch, 1), device=dev)
        stride = torch.randint(1, 8, (a.batch, 1), device=dev)
        seq = (start + stride * torch.arange(a.context + 1, device=dev)) % a.vocab
        batches.append((seq[:, :-1], seq[:, 1:]))
    cuda = dev.type == "cuda"

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).float().reshape(-1, a.vocab), y.reshape(-1))
        loss.backward()
        opt.step()
        sched.step()
        return loss

    def run(warm: bool = False) -> dict:
        for i in range(a.warmup):
            step(*batches[i % 4])
        if warm:
            return {}
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        for i in range(a.steps):
            loss = step(*batches[i % 4])
            loss_value = loss.item()  # a step ends when its loss is read, as in the others
        elapsed = time.perf_counter() - t0
        r = {"steps/s": a.steps / elapsed, "tokens/s": a.steps * a.batch * a.context / elapsed,
             "loss": loss_value}  # fmt: skip
        if cuda:
            r["peak MiB"] = torch.cuda.max_memory_allocated() / 2**20
        return r

    return run


# -- the benchmark rows ----------------------------------------------------------------------

#: Per task: (figure, unit, better) for each row a model workload reports.
METRICS = {
    "generate": (("prompt tok/s", "tok/s", "higher"), ("generation tok/s", "tok/s", "higher"),
                 ("peak MiB", "MiB", "lower")),
    "train": (("steps/s", "steps/s", "higher"), ("tokens/s", "tok/s", "higher"),
              ("peak MiB", "MiB", "lower")),
}  # fmt: skip

#: --quick: the same models, fewer tokens and steps.
QUICK = {"generate": dict(prompt=32, tokens=24), "train": dict(steps=3, warmup=2)}


def shapes(task: str, device: str, quick: bool) -> dict:
    cfg = dict(SHAPES[device][task])
    if quick:
        cfg.update(QUICK[task])
    return cfg


def runner_for(task: str, lib, quick: bool):
    """``run()`` for ``task`` ("generate" or "train") on a bench library (libs.Lib)."""
    import importlib

    cfg = shapes(task, lib.device, quick)
    if lib.name in ("fastsync", "mlx"):
        root = "fastsync" if lib.name == "fastsync" else "mlx"
        nn = importlib.import_module(f"{root}.nn")
        if task == "generate":
            return generate_runner(lib.ns, nn, cfg)
        return train_runner(lib.ns, nn, importlib.import_module(f"{root}.optimizers"), cfg)
    if lib.name == "torch":
        import torch

        device = "cuda" if lib.device == "gpu" else "cpu"
        if task == "generate":
            return torch_generate_runner(torch, cfg, device)
        return torch_train_runner(torch, cfg, device)
    raise LookupError(f"{lib.name} is not a peer for the model workloads")
