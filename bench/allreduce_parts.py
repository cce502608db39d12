"""Where the time of a 2-rank ``x = all_sum(x); x = x - 1; eval(x)`` step goes, stage by stage.

Run it under the launcher (not collected by pytest; needs mpi4py for the raw MPI rows)::

    python -m fastsync.launch -n 2 bench/allreduce_parts.py
    python -m fastsync.launch -n 2 bench/allreduce_parts.py --sizes 256,4096 --rounds 7

Per size, µs per step on rank 0 (median of rounds [min-max]), both ranks running each loop
at once:

* ``x - 1; eval``: fastsync's round trip for one local op, no collective;
* ``all_sum; eval``: the collective alone, in a lazy graph;
* ``all_sum; - 1; eval``: the issue's step;
* ``raw MPI_Allreduce``: mpi4py's ``Allreduce`` in place on a NumPy buffer;
* ``raw MPI_Allreduce + NumPy op``: the same then ``np.subtract(buf, 1, out=buf)``.

The step costs about the round trip plus the collective plus one more op; the raw rows show
how much of that is MPI itself. Timings are printed, never asserted.
"""

import argparse
import time

import fastsync as mx
from allreduce_common import eval_loop, mpi4py_loops, round_times, sum_then_op_loop
from fastsync import distributed as dist


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="256,4096", help="float32 element counts")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--budget", type=float, default=0.1, help="target seconds per timed round")
    args = p.parse_args()

    group = dist.init(strict=True)
    if group.size() != 2:
        raise SystemExit("run with: python -m fastsync.launch -n 2 bench/allreduce_parts.py")
    try:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    except ImportError:
        MPI = comm = None
    one = mx.array([1.0])

    def barrier():
        mx.eval(dist.all_sum(one))

    for n in [int(s) for s in args.sizes.split(",")]:
        # Same iteration count on both ranks: rank 0's estimate of the whole step.
        probe = sum_then_op_loop(mx, dist.all_sum, n)
        probe(20)
        t0 = time.perf_counter()
        probe(50)
        est = (time.perf_counter() - t0) / 50
        iters = int(dist.all_max(mx.array([max(50, int(args.budget / est))])).item())
        stages = [("x - 1; eval", eval_loop(mx, n, lambda x: x - 1), barrier),
                  ("all_sum; eval", eval_loop(mx, n, dist.all_sum), barrier),
                  ("all_sum; - 1; eval", sum_then_op_loop(mx, dist.all_sum, n), barrier)]
        if comm is not None:
            raw, with_op = mpi4py_loops(n, comm, MPI)
            stages += [("raw MPI_Allreduce", raw, comm.Barrier),
                       ("raw MPI_Allreduce + NumPy op", with_op, comm.Barrier)]
        if group.rank() == 0:
            print(f"{n} float32, 2 ranks, µs per step (median [min-max] of {args.rounds} rounds "
                  f"of {iters})")
        for name, fn, sync in stages:
            us = [t * 1e6 for t in round_times(fn, iters, args.rounds, sync)]
            if group.rank() == 0:
                print(f"  {name:30s} {us[len(us) // 2]:8.2f} [{us[0]:.2f}-{us[-1]:.2f}]")


if __name__ == "__main__":
    main()
