"""2-rank all-reduce latency of fastsync beside MLX (MPI and ring backends) and raw MPI, one table.

    python bench/allreduce_compare.py
    python bench/allreduce_compare.py --sizes 1,256,4096 --rounds 5 --repeat 3

Runs, one after another (each ``--repeat`` times), ``bench/distributed_allreduce.py``
under ``python -m fastsync.launch -n 2`` (fastsync, and raw ``MPI_Allreduce``
through mpi4py when installed), and ``bench/mlx_allreduce.py`` on MLX's MPI
backend (same launcher) and on its ring backend (``mlx.launch``) when MLX is
installed. Prints, per row, the median over repeats of each process's median
round, with the spread over repeats. A peer that fails to start is reported
and left out. Timings are printed, never asserted.
"""

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, out, timeout):
    """Runs `cmd`, which writes its results to `out`; the parsed results, or None."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  timed out: {' '.join(cmd)}", file=sys.stderr)
        return None
    if proc.returncode != 0 or not os.path.exists(out):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        print(f"  failed ({proc.returncode}): {' '.join(cmd)}\n    " + "\n    ".join(tail),
              file=sys.stderr)
        return None
    with open(out) as f:
        return json.load(f)


def rows_of(name, res):
    """(row key, column) -> microseconds from one process's results."""
    out = {}
    if res is None:
        return out
    if name == "fastsync":
        for r in res["sizes"]:
            key = ("loop", r["elements"])
            out[key, "fastsync"] = r["fastsync_us"]
            if "mpi4py_allreduce_us" in r:
                out[key, "raw MPI"] = r["mpi4py_allreduce_us"]
                out[key, "raw MPI + NumPy op"] = r["mpi4py_allreduce_numpy_op_us"]
        c = res.get("chained")
        if c:
            out[("chain", c["chain"]), "fastsync"] = c["fastsync_us"]
            if "mpi4py_allreduce_us" in c:
                out[("chain", c["chain"]), "raw MPI"] = c["mpi4py_allreduce_us"]
    else:
        for r in res["sizes"]:
            out[("loop", r["elements"]), name] = r["us"]
        if res.get("chained"):
            out[("chain", res["chained"]["chain"]), name] = res["chained"]["us"]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1,256,4096")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--budget", type=float, default=0.3)
    p.add_argument("--chain", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3, help="processes per library")
    p.add_argument("--no-ring", action="store_true", help="leave MLX's ring backend out")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--json", help="also write the table here")
    args = p.parse_args()

    common = ["--sizes", args.sizes, "--rounds", str(args.rounds), "--budget", str(args.budget),
              "--chain", str(args.chain)]
    launch = [sys.executable, "-m", "fastsync.launch", "-n", "2"]
    runs = [("fastsync", launch + [os.path.join(HERE, "distributed_allreduce.py")])]
    if importlib.util.find_spec("mlx") is not None:
        runs.append(("MLX mpi", launch + [os.path.join(HERE, "mlx_allreduce.py"), "--backend",
                                          "mpi"]))
        mlx_launch = shutil.which("mlx.launch")
        if mlx_launch and not args.no_ring:
            runs.append(("MLX ring", [mlx_launch, "-n", "2", "--python", sys.executable,
                                      os.path.join(HERE, "mlx_allreduce.py")]))
    else:
        print("MLX not installed: its columns are left out", file=sys.stderr)

    samples = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            for name, cmd in runs:
                out = os.path.join(tmp, f"{name.replace(' ', '_')}-{rep}.json")
                print(f"[{rep + 1}/{args.repeat}] {name}", file=sys.stderr, flush=True)
                res = run_json(cmd + common + ["--json", out], out, args.timeout)
                for k, v in rows_of(name, res).items():
                    samples.setdefault(k, []).append(v)

    cols = ["fastsync", "MLX mpi", "MLX ring", "raw MPI", "raw MPI + NumPy op"]
    cols = [c for c in cols if any(k[1] == c for k in samples)]
    keys = sorted({k[0] for k in samples}, key=lambda k: (k[0] == "chain", k[1]))
    label = {
        "loop": lambda n: f"x = all_sum(x) - 1; eval, {n} float32",
        "chain": lambda n: f"{n} chained all_sum 5x5 int32, per all_sum",
    }
    print(f"2 ranks, µs, median of {args.repeat} processes [min-max]")
    print("| workload | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    table = []
    for k in keys:
        cells, row = [], {"workload": label[k[0]](k[1])}
        for c in cols:
            v = samples.get((k, c))
            if not v:
                cells.append("—")
                continue
            med = statistics.median(v)
            row[c] = {"median": med, "min": min(v), "max": max(v)}
            cells.append(f"{med:.2f} [{min(v):.2f}-{max(v):.2f}]")
        table.append(row)
        print(f"| {row['workload']} | " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=2)


if __name__ == "__main__":
    main()
