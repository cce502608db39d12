"""One of issue 17's synchronization patterns in a loop for a fixed time, for a native
profiler (the device machine has no perf; py-spy's wheel is carried in .whl):

    py-spy record --native -r 2000 -f raw -o prof.txt -- python3 bench/sync_loops.py mm 5

Patterns: ``roundtrip`` (eval(s + 1), 0-d), ``hop`` (GPU op -> CPU-stream op -> GPU op,
one eval), ``chain`` (1,000 dependent adds, one eval), ``mm`` (50 steps of
maximum(y @ w, 0) on (256, 256), async_eval each; ``mmeach``: eval each; ``mmone``: one
eval of the 50, whose time per step is near the GPU's), ``streamhop`` / ``streamone`` (1,000
dependent adds in one eval, alternating between two new GPU streams / on one new GPU
stream: the cross-stream rows). Prints µs per iteration.
"""

import sys
import time

import fastsync as mx
from fastsync.bench.workloads import cross_stream


def patterns():
    dev = mx.gpu
    mx.set_default_device(dev)
    x = mx.ones((16,))
    s = mx.array(1.0)
    w = mx.full((256, 256), 1.0 / 256)
    m = mx.ones((256, 256))
    mx.eval(x, s, w, m)

    def roundtrip():
        mx.eval(s + 1)

    def hop():
        y = mx.add(x, 1.0, stream=dev)
        z = mx.add(y, 1.0, stream=mx.cpu)
        mx.eval(mx.add(z, 1.0, stream=dev))

    def chain():
        y = x
        for _ in range(1000):
            y = mx.add(y, 1.0)
        mx.eval(y)

    def steps(run_each):
        def loop():
            y = m
            for _ in range(50):
                y = mx.maximum(y @ w, 0.0)
                if run_each:
                    run_each(y)
            mx.eval(y)

        return loop

    return {
        "roundtrip": roundtrip,
        "hop": hop,
        "chain": chain,
        "mm": steps(mx.async_eval),
        "mmeach": steps(mx.eval),
        "mmone": steps(None),
        "streamhop": cross_stream(mx, dev, pattern="hop"),
        "streamone": cross_stream(mx, dev, pattern="one"),
    }


def main():
    name, secs = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    f = patterns()[name]
    for _ in range(20):
        f()
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < secs:
        f()
        n += 1
    dt = time.perf_counter() - t0
    print(f"{name}: {n} iters, {dt / n * 1e6:.2f} us/iter")


if __name__ == "__main__":
    main()
