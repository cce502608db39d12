"""Soak: a million async_evals of small graphs whose results are dropped.

Usage: python bench/soak.py [--n 1000000] [--device cpu|gpu] [--streams 2] [--report 100000]

Each iteration builds a small graph (a few elementwise ops over fresh and long-lived
inputs, on one of several streams, one in 16 with an error planted in it), async_evals it and
drops the result before it is computed; one in 64 reads its result back instead. Prints RSS
and fastsync's active and cache memory every --report iterations and at the end, and exits 1
if the process grew: RSS by more than --rss-slack MiB, or active memory at all, from the
first report (after warm-up) to the last. tests/test_soak.py runs a short version.
"""

import argparse
import gc
import resource
import sys
import time

import fastsync as mx


def rss_mib():
    """The current resident set size, from /proc (ru_maxrss is the peak, not the current)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settle():
    """Waits for all work in flight, including work whose errors nobody read."""
    gc.collect()
    try:
        mx.synchronize()
    except (RuntimeError, IndexError):
        pass  # the planted errors of dropped graphs surface here, once


def one(i, base, streams):
    s = streams[i % len(streams)]
    x = mx.full((64,), float(i % 7), stream=s)
    y = mx.add(mx.multiply(x, base, stream=s), 1.0, stream=s)
    if i % 16 == 5:
        y = mx.take(y, mx.array([0, 1000]), stream=s)  # fails in its task
    y = mx.maximum(y, 0.5, stream=s)
    if i % 64 == 0 and i % 16 != 5:
        return y.sum().item()
    mx.async_eval(y)
    return None


def snapshot():
    return rss_mib(), mx.get_active_memory() / 2**20, mx.get_cache_memory() / 2**20


def run(n, device, n_streams, report, warmup=2000):
    dev = mx.gpu if device == "gpu" else mx.cpu
    streams = [mx.new_stream(dev) for _ in range(n_streams)]
    base = mx.full((64,), 2.0, stream=streams[0])
    mx.eval(base)
    for i in range(warmup):
        one(i, base, streams)
    settle()
    first = snapshot()
    t0 = time.perf_counter()
    for i in range(warmup, warmup + n):
        one(i, base, streams)
        if (i - warmup + 1) % report == 0:
            settle()
            r, act, cache = snapshot()
            print(
                f"{i + 1:9d} iterations  rss {r:8.1f} MiB  active {act:7.3f} MiB  "
                f"cache {cache:7.3f} MiB",
                flush=True,
            )
    settle()
    last = snapshot()
    rate = n / (time.perf_counter() - t0)
    return first, last, rate


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--report", type=int, default=100_000)
    p.add_argument("--rss-slack", type=float, default=16.0, help="MiB of RSS growth allowed")
    a = p.parse_args(argv)
    first, last, rate = run(a.n, a.device, a.streams, a.report)
    print(f"start: rss {first[0]:.1f} MiB, active {first[1]:.3f} MiB, cache {first[2]:.3f} MiB")
    print(f"end:   rss {last[0]:.1f} MiB, active {last[1]:.3f} MiB, cache {last[2]:.3f} MiB")
    print(f"{a.n} iterations at {rate:,.0f} per second")
    grew = last[0] - first[0] > a.rss_slack or last[1] > first[1]
    print("GREW" if grew else "OK: memory ends where it started")
    return 1 if grew else 0


if __name__ == "__main__":
    sys.exit(main())
