"""What the eval-time rewrite of maximum(product, 0) saves (src/rewrite.h), per step of the
256x256 pipeline row (x = maximum(x @ w, 0), evaluated each step), on the CPU.

    python bench/relu_epilogue.py              # rewrite off, then on, 3 processes each
    python bench/relu_epilogue.py --n 512 --steps 1000 --repeat 2

Each process runs the loop with the CPU profile on (src/backend/cpu/profile.h) and prints,
per primitive, the compute microseconds per step on the stream's worker and the encoding
microseconds on the calling thread; FASTSYNC_REWRITE=0 runs the graph as built (Matmul, then
Maximum), the default runs one MatmulRelu. Timings are printed, never asserted.
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import json, sys
import fastsync as mx
n, steps = int(sys.argv[1]), int(sys.argv[2])
w = mx.full((n, n), 1.0 / n)
x = mx.ones((n, n))
mx.eval(w, x)
mx.set_default_device(mx.cpu)
for _ in range(steps // 10):
    mx.eval(mx.maximum(mx.matmul(x, w), 0.0))
mx._core._cpu_profile(True)
for _ in range(steps):
    mx.eval(mx.maximum(mx.matmul(x, w), 0.0))
prof = mx._core._cpu_profile(False)
per_step = {k: [c, run * 1e3 / steps, host * 1e3 / steps] for k, (c, run, host) in prof.items()}
print(json.dumps(per_step))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{args.n}x{args.n} float32, {args.steps} steps per process, µs per step")
    print(f"{'rewrite':8} {'primitive':12} {'compute':>9} {'encode':>8} {'step total':>11}")
    for _ in range(args.repeat):
        for flag in ("0", "1"):
            env = dict(os.environ, FASTSYNC_REWRITE=flag)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(args.n), str(args.steps)],
                capture_output=True, text=True, env=env, check=True,
            ).stdout  # fmt: skip
            prof = json.loads(out.strip().splitlines()[-1])
            total = sum(run + host for _, run, host in prof.values())
            for i, (name, (_, run, host)) in enumerate(sorted(prof.items())):
                last = f"{total:11.2f}" if i == len(prof) - 1 else ""
                label = "off" if flag == "0" else "on"
                print(f"{label:8} {name:12} {run:9.2f} {host:8.2f} {last}")


if __name__ == "__main__":
    main()
