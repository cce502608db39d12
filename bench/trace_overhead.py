"""What a timeline trace costs: the 1,000-op chain of the dispatch benchmark (1,000
dependent adds on 16 float32, one eval) with no trace, then inside ``fastsync.trace``
(recording every encode, run, signal, wait, allocation and free; the file is written after
the timed runs). Prints microseconds per op, medians over the runs, and the ratio.

    python bench/trace_overhead.py [--device cpu|gpu] [--runs 30] [--ops 1000]

Issue target: recording costs at most 20 % on this chain; with no trace the per-op cost is
that of a build without tracing (compare ``python -m fastsync.bench --only b.dispatch``
before and after).
"""

import argparse
import os
import statistics
import tempfile
import time

import fastsync as mx


def chain_us_per_op(x, ops):
    t0 = time.perf_counter()
    y = x
    for _ in range(ops):
        y = y + 1
    mx.eval(y)
    return (time.perf_counter() - t0) / ops * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--ops", type=int, default=1000)
    a = ap.parse_args()
    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    x = mx.zeros(16)
    mx.eval(x)
    for _ in range(3):  # warm up: workers, allocator cache
        chain_us_per_op(x, a.ops)
    # Interleaved, so drift on a shared machine hits both alike.
    off, on = [], []
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "chain.json")
        for _ in range(a.runs):
            off.append(chain_us_per_op(x, a.ops))
            with mx.trace(path):
                on.append(chain_us_per_op(x, a.ops))
        size = os.path.getsize(path)
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(f"device {a.device}, {a.ops} adds, one eval, median of {a.runs} runs")
    print(f"  no trace      {m_off:7.2f} us/op  (spread {min(off):.2f}-{max(off):.2f})")
    print(f"  trace on      {m_on:7.2f} us/op  (spread {min(on):.2f}-{max(on):.2f})")
    print(f"  overhead      {100 * (m_on / m_off - 1):+6.1f} %  (trace file {size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
