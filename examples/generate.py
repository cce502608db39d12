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

# The model and the decode loop, written against MLX's API (fastsync's benchmark rows use
# the same code): llama(mx, nn) -> (Model, KVCache); generate(...) is the pipelined loop.
from fastsync.bench.models import generate, llama


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
    Model, KVCache = llama(mx, nn)
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
    r = generate(mx, model, caches, prompt, a.tokens, sample)
    tokens, prompt_tps, gen_tps = r["tokens"], r["prompt tok/s"], r["generation tok/s"]
    peak = mx.get_peak_memory() / 2**20
    print(
        f"{a.lib} {a.device} {a.dtype}: prompt {a.prompt} tokens at {prompt_tps:.1f} tok/s, "
        f"generation {a.tokens} tokens at {gen_tps:.1f} tok/s, peak memory {peak:.1f} MiB"
    )
    print("first tokens:", tokens[:12])


if __name__ == "__main__":
    main()
