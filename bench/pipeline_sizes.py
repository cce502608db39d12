"""The ``d.pipeline`` workload of ``python -m fastsync.bench`` (dependent steps
``x = maximum(x @ w, 0)``) at one size, in the modes given, in this one process and in that
order: the order matters where a mode leaves thread pools behind for the next one.

    python bench/pipeline_sizes.py 64 generate async eval

Prints each mode's µs per step: the 1st, 4th, 7th, 10th and 13th of 15 sorted loops.
"""

import sys
import time

import fastsync as mx
from fastsync.bench.workloads import pipeline


def main():
    n = int(sys.argv[1])
    for mode in sys.argv[2:] or ["eval", "async", "generate"]:
        step = pipeline(mx, n=n, steps=200, mode=mode)
        for _ in range(5):
            step()
        times = []
        for _ in range(15):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) / 200 * 1e6)
        times.sort()
        print(mode, n, [round(v, 1) for v in times[::3]])


if __name__ == "__main__":
    main()
