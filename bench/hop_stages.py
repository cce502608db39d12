"""Issue 17's device hop (GPU op -> CPU-stream op -> GPU op, evaluated each iteration) in
stages, each evaluated on its own in the same way, to see where its microseconds go:

    python3 bench/hop_stages.py

Each row is the median over 7 rounds of 300 iterations, in µs per iteration.
"""

import statistics
import time

import fastsync as mx


def per_iter(make, iters=300, rounds=7):
    x0 = mx.ones((16,), dtype=mx.float32)
    mx.eval(x0)
    out = []
    for _ in range(rounds):
        x = x0
        t = time.perf_counter()
        for _ in range(iters):
            x = make(x)
            mx.eval(x)
        out.append((time.perf_counter() - t) / iters * 1e6)
    return statistics.median(out), min(out), max(out)


def main():
    gpu, cpu = mx.gpu, mx.cpu
    stages = {
        "gpu op": lambda x: mx.add(x, 1.0, stream=gpu),
        "cpu op": lambda x: mx.add(x, 1.0, stream=cpu),
        "gpu op, gpu op": lambda x: mx.add(mx.add(x, 1.0, stream=gpu), 1.0, stream=gpu),
        "gpu op -> cpu op": lambda x: mx.add(mx.add(x, 1.0, stream=gpu), 1.0, stream=cpu),
        "cpu op -> gpu op": lambda x: mx.add(mx.add(x, 1.0, stream=cpu), 1.0, stream=gpu),
        "gpu -> cpu -> gpu (the hop)": lambda x: mx.add(
            mx.add(mx.add(x, 1.0, stream=gpu), 1.0, stream=cpu), 1.0, stream=gpu
        ),
    }
    for name, make in stages.items():
        med, lo, hi = per_iter(make)
        print(f"{name:30s} {med:7.2f} µs/iter (min {lo:.2f}, max {hi:.2f})")


if __name__ == "__main__":
    main()
