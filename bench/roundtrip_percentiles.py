"""Percentiles of the ``y = x + 1; eval(y)`` round trip on a 0-d array, iteration by iteration.

    python3 bench/roundtrip_percentiles.py --device gpu
    python3 bench/roundtrip_percentiles.py --device gpu --rounds 5 --iters 50000

After a warm-up (the device out of its idle clocks), each round times ``--iters`` round trips
one by one and prints p10, p50, p90, p99 and the mean in µs: the comparison runner's row
gives a median of batches, this shows the spread inside them. Timings are printed, never
asserted.
"""

import argparse
import time

import fastsync as mx


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cpu", "gpu"), default="gpu")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--warmup", type=int, default=2000)
    args = p.parse_args()
    mx.set_default_device(mx.gpu if args.device == "gpu" else mx.cpu)
    x = mx.array(1.0, dtype=mx.float32)
    mx.eval(x)

    def round_of(n):
        ts = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            mx.eval(x + 1)
            ts.append(time.perf_counter_ns() - t0)
        ts.sort()
        return ts

    round_of(args.warmup)
    for _ in range(args.rounds):
        ts = round_of(args.iters)

        def q(f, ts=ts):
            return ts[int(f * (len(ts) - 1))] / 1000

        print(f"p10 {q(0.1):.1f}  p50 {q(0.5):.1f}  p90 {q(0.9):.1f}  p99 {q(0.99):.1f}  "
              f"mean {sum(ts) / len(ts) / 1000:.1f} µs", flush=True)


if __name__ == "__main__":
    main()
