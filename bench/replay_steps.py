"""Step by step, the 256² loop of issue 17's d. rows (x = maximum(x @ w, 0), float32 on the
GPU), evaluated each step or handed to async_eval: each step's host time, the loop's time
per step, and how the steps' launches went (graph replays, instantiations, runs of replays
combined into one graph: see src/backend/cuda/call_graphs.h). Three rounds of 2,000 steps per mode:

    python3 bench/replay_steps.py
"""

import time

import fastsync as mx
import numpy as np


def counters():
    c = mx._core._backend_counters(mx.gpu)
    return (
        c["call_graph_replays"],
        c["call_graph_instantiations"],
        c["call_graph_runs"],
        c["graph_launches"],
    )


def main(n=256, steps=2000, rounds=3):
    mx.set_default_device(mx.gpu)
    w = mx.full((n, n), 1.0 / n, dtype=mx.float32)
    x0 = mx.ones((n, n), dtype=mx.float32)
    mx.eval(w, x0)
    for mode in ("eval", "async"):
        run = mx.eval if mode == "eval" else mx.async_eval
        for rnd in range(rounds):
            x = x0
            c0 = counters()
            ts = []
            t_all = time.perf_counter()
            for _ in range(steps):
                t = time.perf_counter()
                x = mx.maximum(mx.matmul(x, w), 0.0)
                run(x)
                ts.append(time.perf_counter() - t)
            mx.eval(x)
            per_step = (time.perf_counter() - t_all) / steps * 1e6
            d = [b - a for a, b in zip(c0, counters(), strict=True)]
            p = np.percentile(np.array(ts) * 1e6, [10, 50, 90, 99])
            print(
                f"{mode} round {rnd}: {per_step:.2f} us/step; p10/50/90/99 "
                f"{p[0]:.1f}/{p[1]:.1f}/{p[2]:.1f}/{p[3]:.1f}; "
                f"replays {d[0]} instantiations {d[1]} combined runs {d[2]} "
                f"captured-run graphs {d[3]}"
            )


if __name__ == "__main__":
    main()
