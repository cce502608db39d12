"""What the all-reduce benchmarks share: the timing of rounds, and the two workloads written
once for any MLX-like module (fastsync or MLX), so every library runs the same loop.

Imported by bench/distributed_allreduce.py, bench/mlx_allreduce.py and bench/nccl_allreduce.py
(run as scripts: this folder is on their path).
"""

import statistics
import time


def round_times(fn, iters, rounds, barrier, warmup=10):
    """Seconds per iteration of each of `rounds` timed rounds, sorted, after a warm-up of a
    tenth of `iters` (at least `warmup`: connections made, buffers cached)."""
    fn(max(warmup, iters // 10))
    out = []
    for _ in range(rounds):
        barrier()
        t0 = time.perf_counter()
        fn(iters)
        out.append((time.perf_counter() - t0) / iters)
    return sorted(out)


def rounds_of(fn, iters, rounds, barrier, warmup=10):
    """Median and best seconds per iteration over `rounds` timed rounds (round_times)."""
    out = round_times(fn, iters, rounds, barrier, warmup)
    return statistics.median(out), out[0]


def mpi4py_loops(n, comm, MPI):
    """Raw ``MPI_Allreduce`` in place on ``n`` float32 of a NumPy buffer, per iteration, alone
    and followed by NumPy's ``buf - 1`` in place: the peers of ``sum_then_op_loop``."""
    import numpy as np

    buf = np.ones(n, dtype=np.float32)

    def raw(iters):
        for _ in range(iters):
            comm.Allreduce(MPI.IN_PLACE, buf)

    def with_op(iters):
        for _ in range(iters):
            comm.Allreduce(MPI.IN_PLACE, buf)
            np.subtract(buf, 1, out=buf)

    return raw, with_op


def eval_loop(mx, n, f):
    """``x = f(x); eval(x)`` on ``n`` float32 elements, per iteration."""
    x = mx.full((n,), 1.0, dtype=mx.float32)
    mx.eval(x)

    def run(iters):
        nonlocal x
        for _ in range(iters):
            x = f(x)
            mx.eval(x)

    return run


def sum_then_op_loop(mx, all_sum, n):
    """``x = all_sum(x); x = x - 1; eval(x)`` on ``n`` float32 elements, per iteration."""
    return eval_loop(mx, n, lambda x: all_sum(x) - 1)


def chained_sums(mx, all_sum, chain):
    """MLX's all-reduce benchmark: ``chain`` all_sums of a 5x5 int32 array in one eval."""
    x = mx.ones((5, 5), dtype=mx.int32)
    mx.eval(x)

    def run(iters):
        nonlocal x
        for _ in range(iters):
            for _ in range(chain):
                x = all_sum(x)
            mx.eval(x)

    return run
