"""Cost of the GPU error-reach log (src/backend/common/flow.cpp).

A chain of N adds on one stream in one eval, after either a gather (an op that can fail, so
the stream logs every later op of the eval) or an add (nothing can fail: nothing is logged).
Prints the eval's time per op for each, medians over interleaved repetitions, and for the
gather variant with a failing index, the time to settle the log when the result is read.

    python bench/flow_overhead.py --device gpu [--n 1000] [--reps 21]
"""

import argparse
import statistics
import time

import fastsync as mx


def chain(first, n, dev):
    y = first
    for _ in range(n):
        y = mx.add(y, 1, stream=dev)
    return y


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cpu", "gpu"], default="gpu")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--reps", type=int, default=21)
    a = p.parse_args()
    dev = mx.gpu if a.device == "gpu" else mx.cpu
    x = mx.zeros((16,), stream=dev)
    good = mx.array(list(range(16)))
    bad = mx.array([99] * 16)
    mx.eval(x, good, bad)
    times = {"add first (no log)": [], "gather first (logged)": [], "failing gather + read": []}
    for _ in range(a.reps + 2):
        for name in times:
            if name.startswith("add"):
                y = chain(mx.add(x, 0, stream=dev), a.n, dev)
            else:
                idx = bad if name.startswith("failing") else good
                y = chain(mx.take(x, idx, stream=dev), a.n, dev)
            t0 = time.perf_counter()
            try:
                mx.eval(y)
            except IndexError:
                pass
            times[name].append((time.perf_counter() - t0) / a.n * 1e6)
    for name, ts in times.items():
        ts = ts[2:]
        print(
            f"{a.device} {name:24s} median {statistics.median(ts):6.2f} us/op "
            f"(min {min(ts):.2f}, max {max(ts):.2f}, n={a.n}, reps={a.reps})"
        )


if __name__ == "__main__":
    main()
