"""GPU time per op of the layout kernels a training step leans on: transposing copies (a weight
gradient made dense for the optimizer) and RoPE on a q view of a fused projection; k
independent ops in one eval, median of 7.

    python bench/layout_kernels.py [label]
"""

import statistics
import sys
import time

import fastsync as mx

mx.set_default_device(mx.gpu)
tag = sys.argv[1] if len(sys.argv) > 1 else "fastsync"


def per_op(make, k=40, reps=7):
    mx.eval(make())
    ts = []
    for _ in range(reps):
        outs = [make() for _ in range(k)]
        t0 = time.perf_counter()
        mx.eval(outs)
        ts.append((time.perf_counter() - t0) / k)
        del outs
    return statistics.median(ts) * 1e6


g = mx.random.normal((4096, 1024)).astype(mx.bfloat16)
f = mx.random.normal((4096, 4096))
qkv = mx.random.normal((8, 1024, 3072)).astype(mx.bfloat16)
q = mx.split(qkv, 3, axis=-1)[0].reshape(8, 1024, 16, 64).transpose(0, 2, 1, 3)
mx.eval(g, f, qkv)
rows = {
    "T bf16 4096x1024 us": per_op(lambda: mx.contiguous(g.T)),
    "T f32 4096x4096 us": per_op(lambda: mx.contiguous(f.T), k=10),
    "rope bf16 (8,16,1024,64) view us": per_op(
        lambda: mx.fast.rope(q, 64, traditional=False, base=10000.0, scale=1.0, offset=0)
    ),
}
print(tag, "  ".join(f"{k} {v:.1f}" for k, v in rows.items()), flush=True)
