"""Where an iteration of issue 17's synchronization rows spends its microseconds: the loop
of a row run under ``fastsync.trace``, cut into iterations, and every span of the median
iteration listed with its start (from the iteration's first encode) and length, on every
track (the host thread's encodes and waits, each stream's work, signals and waits).

    python3 bench/row_timeline.py [hop|eval256|async256] [--device gpu] [--iters 300]

A span that recurs within an iteration is listed once per occurrence, in order. The first
line gives the loop's time per iteration with and without the recorder (its overhead).
"""

import argparse
import collections
import os
import statistics
import tempfile
import time

import fastsync as mx
from fastsync import _trace_view as tv


def rows(dev):
    """name -> (setup returning the loop body, ops an iteration encodes)."""

    def hop():
        x = mx.ones((16,), dtype=mx.float32)
        mx.eval(x)

        def body():
            nonlocal x
            y = mx.add(x, 1.0, stream=dev)
            z = mx.add(y, 1.0, stream=mx.cpu)
            x = mx.add(z, 1.0, stream=dev)
            mx.eval(x)

        return body

    def pipeline(asynchronous):
        def make():
            w = mx.full((256, 256), 1.0 / 256, dtype=mx.float32, stream=dev)
            x = mx.ones((256, 256), dtype=mx.float32, stream=dev)
            mx.eval(w, x)

            def body():
                nonlocal x
                x = mx.maximum(mx.matmul(x, w, stream=dev), 0.0, stream=dev)
                (mx.async_eval if asynchronous else mx.eval)(x)

            return body

        return make

    return {
        "hop": (hop, 3),
        "eval256": (pipeline(False), 2),
        "async256": (pipeline(True), 2),
    }


def per_iter(body, iters):
    t = time.perf_counter()
    for _ in range(iters):
        body()
    mx.synchronize()
    return (time.perf_counter() - t) / iters * 1e6


def iterations(trace, ops):
    """The trace's spans cut at every `ops`-th encode span (an iteration's first op): a
    list of iterations, each a list of (track, category, name, start, duration) relative
    to its start."""
    names = tv.tracks(trace)
    spans = sorted(
        (e for e in trace["traceEvents"] if e["ph"] == "X"), key=lambda e: e["ts"]
    )
    starts = [e["ts"] for e in spans if e.get("cat") == "encode"][::ops]
    out = [[] for _ in starts]
    k = 0
    for e in spans:
        while k + 1 < len(starts) and e["ts"] >= starts[k + 1]:
            k += 1
        if e["ts"] < starts[0]:
            continue
        track = names.get(e["tid"], str(e["tid"]))
        out[k].append((track, e.get("cat", ""), e["name"], e["ts"] - starts[k], e["dur"]))
    return out[:-1]  # the last one may lack its tail


def median_iteration(its):
    """(track, category, name, occurrence) -> (median start, median length, share of
    iterations that had it), in the order of their median start."""
    seen = collections.defaultdict(list)
    for it in its:
        count = collections.Counter()
        for track, cat, name, start, dur in it:
            key = (track, cat, name, count[(track, cat, name)])
            count[(track, cat, name)] += 1
            seen[key].append((start, dur))
    table = []
    for key, v in seen.items():
        share = len(v) / len(its)
        if share < 0.5:
            continue  # rare: not part of a typical iteration
        table.append(
            (statistics.median(s for s, _ in v), statistics.median(d for _, d in v), share, key)
        )
    return sorted(table)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("row", choices=["hop", "eval256", "async256"])
    ap.add_argument("--device", default="gpu", choices=["gpu", "cpu"])
    ap.add_argument("--iters", type=int, default=300)
    args = ap.parse_args()
    dev = mx.gpu if args.device == "gpu" else mx.cpu
    make, ops = rows(dev)[args.row]
    body = make()
    per_iter(body, 50)  # warm: allocations, graph caches
    plain = statistics.median(per_iter(body, args.iters) for _ in range(3))
    path = os.path.join(tempfile.mkdtemp(), "row.json")
    with mx.trace(path):
        traced = per_iter(body, args.iters)
    its = iterations(tv.load(path), ops)
    lengths = [max(s + d for *_, s, d in it) for it in its if it]
    print(
        f"{args.row} on {args.device}: {plain:.2f} µs/iter untraced, {traced:.2f} traced; "
        f"{len(its)} iterations, median span of one {statistics.median(lengths):.2f} µs"
    )
    print(f"{'track':28s} {'category':10s} {'span':28s} {'start':>8s} {'length':>8s}")
    for start, dur, share, (track, cat, name, n) in median_iteration(its):
        label = name if n == 0 else f"{name} #{n + 1}"
        note = "" if share > 0.95 else f"  ({share:.0%} of iterations)"
        print(f"{track:28s} {cat:10s} {label:28s} {start:8.2f} {dur:8.2f}{note}")


if __name__ == "__main__":
    main()
