"""fast.scaled_dot_product_attention (fused) beside the same attention composed of ops,
forward and forward+backward, for a training shape and a decoding step.

    python bench/attention.py [--device gpu]
"""

import argparse
import math
import statistics
import time

import fastsync as mx


def composed(q, k, v, scale, mask):
    b, hq, lq, d = q.shape
    hk, lk = k.shape[1], k.shape[2]
    qg = (q * scale).reshape(b, hk, hq // hk, lq, d)
    s = qg @ mx.expand_dims(k, 2).swapaxes(-1, -2)
    if mask == "causal":
        keep = (mx.arange(lq).reshape(lq, 1) + (lk - lq)) >= mx.arange(lk).reshape(1, lk)
        s = mx.where(keep, s, -math.inf)
    p = mx.softmax(s.astype(mx.float32), axis=-1).astype(v.dtype)
    return (p @ mx.expand_dims(v, 2)).reshape(b, hq, lq, v.shape[-1])


def fused(q, k, v, scale, mask):
    return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)


def timeit(fn, reps=30):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    a = ap.parse_args()
    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    cases = {
        "train B8 H8 L128 D32": ((8, 8, 128, 32), (8, 8, 128, 32), "causal"),
        "train B4 H16/4 L512 D64": ((4, 16, 512, 64), (4, 4, 512, 64), "causal"),
        "decode B8 H32/8 Lk2048 D128": ((8, 32, 1, 128), (8, 8, 2048, 128), None),
    }
    print(f"attention on {a.device}, median ms")
    print(f"{'case':30} {'fused fwd':>10} {'composed':>10} {'fused f+b':>10} {'composed':>10}")
    for name, (qs, ks, mask) in cases.items():
        row = measure(qs, ks, mask)
        print(f"{name:30} {row[0]:>10.3f} {row[1]:>10.3f} {row[2]:>10.3f} {row[3]:>10.3f}")


def measure(qs, ks, mask):
    q, k, v = mx.random.normal(qs), mx.random.normal(ks), mx.random.normal(ks)
    mx.eval(q, k, v)
    scale = 1 / math.sqrt(qs[-1])
    row = []
    for impl in (fused, composed):
        row.append(timeit(lambda impl=impl: mx.eval(impl(q, k, v, scale, mask))))
    for impl in (fused, composed):

        def loss(q, k, v, impl=impl):
            return mx.sum(impl(q, k, v, scale, mask))

        g = mx.grad(loss, argnums=(0, 1, 2))
        row.append(timeit(lambda g=g: mx.eval(g(q, k, v))))
    return row


if __name__ == "__main__":
    main()
