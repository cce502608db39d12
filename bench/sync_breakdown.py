"""Where the microseconds of the synchronization rows go (issue 17's table): per
iteration, building the graph in Python, encoding it (``async_eval``) and waiting for it
(``eval`` of what is already encoded), for each pattern of ``python -m fastsync.bench``'s
a./b./c./d. rows. Medians over ``--reps`` repetitions, in µs per op (per iteration for the
round trips).

    python bench/sync_breakdown.py --device gpu
    python bench/sync_breakdown.py --device cpu

Encoding runs ahead of the device, so "wait" is what the device still had to do once the
host was done: with a launch-bound chain it is the last kernels' tail, with a round trip
the full device latency of the work just encoded.
"""

import argparse
import statistics
import time

import fastsync as mx


def stages(build, reps, per):
    b, e, w = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        y = build()
        t1 = time.perf_counter()
        mx.async_eval(y)
        t2 = time.perf_counter()
        mx.eval(y)
        t3 = time.perf_counter()
        b.append(t1 - t0)
        e.append(t2 - t1)
        w.append(t3 - t2)
    return [statistics.median(v) * 1e6 / per for v in (b, e, w)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="gpu")
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    dev = mx.gpu if a.device == "gpu" else mx.cpu
    mx.set_default_device(dev)
    x = mx.ones((16,))
    s = mx.array(1.0)
    mx.eval(x, s)
    s1, s2 = mx.new_stream(dev), mx.new_stream(dev)

    def chain(n, streams):
        def build():
            y = x
            for i in range(n):
                y = mx.add(y, 1.0, stream=streams[i % len(streams)])
            return y

        return build

    def device_hop():
        y = mx.add(x, 1.0, stream=dev)
        z = mx.add(y, 1.0, stream=mx.cpu)
        return mx.add(z, 1.0, stream=dev)

    w = mx.full((256, 256), 1.0 / 256)
    m = mx.ones((256, 256))
    mx.eval(w, m)

    rows = [
        ("a. eval(s + 1), 0-d", lambda: s + 1, 1),
        ("b. 1000 adds, one stream", chain(1000, (s1,)), 1000),
        ("c. 1000 adds, two streams", chain(1000, (s1, s2)), 1000),
        ("c. gpu -> cpu -> gpu", device_hop, 1),
        ("d. maximum(m @ w, 0)", lambda: mx.maximum(m @ w, 0.0), 1),
    ]
    print(f"device {a.device}, medians of {a.reps}, µs per op (per iteration for 1-op rows)")
    print(f"{'pattern':30s} {'build':>8s} {'encode':>8s} {'wait':>8s} {'total':>8s}  graphs/rep")
    for name, build, per in rows:
        if a.device == "cpu" and "gpu" in name:
            continue
        stages(build, 3, per)  # warm-up
        before = mx._core._backend_counters(dev).get("graph_launches", 0)
        b, e, wt = stages(build, a.reps, per)
        graphs = (mx._core._backend_counters(dev).get("graph_launches", 0) - before) / a.reps
        print(f"{name:30s} {b:8.2f} {e:8.2f} {wt:8.2f} {b + e + wt:8.2f}  {graphs:.1f}")


if __name__ == "__main__":
    main()
