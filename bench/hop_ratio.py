"""The cross-stream rows' ratio measured in one process, the two patterns alternated step by
step (so that a slow phase of the machine slows both): 1,000 dependent adds in one eval, all
on one new CPU stream, or alternating between two. Prints the medians and their ratio.

    python bench/hop_ratio.py [seconds]

For an A/B of two builds, run it alternately under each (LD_LIBRARY_PATH pointing at each
build's libfastsync: a build tree's extension finds its own library by an absolute path).
"""

import gc
import statistics
import sys
import time

import fastsync as mx
from fastsync.bench.workloads import cross_stream


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    one, hop = cross_stream(mx, mx.cpu, pattern="one"), cross_stream(mx, mx.cpu, pattern="hop")
    gc.disable()
    for _ in range(10):
        one()
        hop()
    t_one, t_hop = [], []
    end = time.perf_counter() + secs
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        one()
        t1 = time.perf_counter()
        hop()
        t_one.append(t1 - t0)
        t_hop.append(time.perf_counter() - t1)
    m1, m2 = statistics.median(t_one) * 1e3, statistics.median(t_hop) * 1e3
    print(f"one {m1:.3f} hop {m2:.3f} µs/op, hop/one {m2 / m1:.3f}")


if __name__ == "__main__":
    main()
