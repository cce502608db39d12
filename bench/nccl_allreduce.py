"""all_sum over NCCL, one GPU per rank, beside torch.distributed's NCCL all_reduce.

Run it under the launcher with a GPU per rank (not collected by pytest)::

    python -m fastsync.launch -n 2 --gpus bench/nccl_allreduce.py
    python -m fastsync.launch -n 2 --gpus bench/nccl_allreduce.py --sizes 1,4096 --rounds 7
    python -m fastsync.launch -n 2 --gpus bench/nccl_allreduce.py --json nccl.json

For each size (float32 elements; default 1, 4096, 1M and 64M) it times, on
every rank, rounds of iterations of two loops, and reports on rank 0 the
median round's time per iteration (best round beside it):

* ``sync``: ``x = all_sum(x); eval(x)``, a host wait every iteration: the
  latency a step that needs its result sees. PyTorch: ``all_reduce(t)`` then
  ``torch.cuda.synchronize()``.
* ``pipelined``: ``iters`` all_sums encoded back to back, one eval at the end:
  what one collective costs the GPU when nothing waits on the host. PyTorch:
  ``iters`` all_reduce calls, one synchronize.

Bus bandwidth is nccl-tests' ``busbw = 2*(n-1)/n * bytes / time`` for n ranks,
from the pipelined time; the summary line gives it at the largest size (64M
elements, 256 MiB). Arrays hold zeros, so repeated sums stay finite; the
result is checked once at the end.

PyTorch (when it imports with CUDA and NCCL; its column is left out with a
note otherwise) is initialised with ``init_method="env://"``: this script sets
MASTER_ADDR to 127.0.0.1 and MASTER_PORT to a free port rank 0 picks (unless
they are set), and takes rank and world size from Open MPI's
OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE. Timings are printed, never
asserted.
"""

import argparse
import json
import os
import socket
import time

# NVLink multicast off for NCCL and PyTorch, before either starts (the
# launcher sets these too; a bare mpirun may not).
os.environ["NCCL_NVLS_ENABLE"] = "0"
os.environ["TORCH_SYMM_MEM_DISABLE_MULTICAST"] = "1"

# PyTorch first: its libnccl is then the one in the process, which fastsync's
# loader finds already loaded, so both sides run the same NCCL.
try:
    import torch
    import torch.distributed as tdist
except ImportError as e:
    torch = tdist = None
    TORCH_MISSING = str(e)
else:
    TORCH_MISSING = None

import fastsync as mx  # noqa: E402
from allreduce_common import rounds_of  # noqa: E402
from fastsync import distributed as dist  # noqa: E402

MiB = 1 << 20


def fastsync_loops(n):
    with mx.stream(mx.gpu):
        x = mx.zeros((n,), dtype=mx.float32)
    mx.eval(x)
    state = {"x": x}

    def sync(iters):
        x = state["x"]
        for _ in range(iters):
            x = dist.all_sum(x)
            mx.eval(x)
        state["x"] = x

    def pipelined(iters):
        x = state["x"]
        for _ in range(iters):
            x = dist.all_sum(x)
        mx.eval(x)
        state["x"] = x

    def check():
        assert float(state["x"][n - 1].item()) == 0.0, "fastsync all_sum of zeros is not zero"

    return sync, pipelined, check


def torch_loops(n):
    t = torch.zeros(n, dtype=torch.float32, device="cuda")

    def sync(iters):
        for _ in range(iters):
            tdist.all_reduce(t)
            torch.cuda.synchronize()

    def pipelined(iters):
        for _ in range(iters):
            tdist.all_reduce(t)
        torch.cuda.synchronize()

    return sync, pipelined


def init_torch(group):
    """torch.distributed over NCCL on this rank's GPU, or the reason it cannot be."""
    if torch is None:
        return f"PyTorch not available ({TORCH_MISSING})"
    if not torch.cuda.is_available() or not tdist.is_nccl_available():
        return "PyTorch has no CUDA or no NCCL"
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", group.rank()))
    world = int(os.environ.get("OMPI_COMM_WORLD_SIZE", group.size()))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        port = 0
        if group.rank() == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        # Every rank takes rank 0's choice (the others offer 0).
        port = int(dist.all_max(mx.array([port], dtype=mx.int32)).item())
        os.environ["MASTER_PORT"] = str(port)
    torch.cuda.set_device(0)  # the launcher's --gpus shows each rank one GPU
    tdist.init_process_group("nccl", init_method="env://", rank=rank, world_size=world)
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=f"1,4096,{MiB},{64 * MiB}", help="float32 element counts")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--budget", type=float, default=0.3,
                   help="target seconds per timed round (sets the iteration count)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch's columns out")
    p.add_argument("--json", help="also write the results here (rank 0)")
    args = p.parse_args()

    group = dist.init(strict=True, backend="nccl")
    rank, size = group.rank(), group.size()
    if size < 2:
        raise SystemExit("run with: python -m fastsync.launch -n 2 --gpus bench/nccl_allreduce.py")
    torch_note = "--no-torch" if args.no_torch else init_torch(group)
    if torch_note and rank == 0:
        print(f"PyTorch columns left out: {torch_note}")
    with mx.stream(mx.gpu):
        one = mx.zeros((1,), dtype=mx.float32)

    def barrier():
        mx.eval(dist.all_sum(one))

    if not torch_note:
        flag = torch.zeros(1, device="cuda")

    def torch_barrier():
        # A collective, not tdist.barrier(), which may guess a device from the rank.
        tdist.all_reduce(flag)
        torch.cuda.synchronize()

    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        sync, pipelined, check = fastsync_loops(n)
        sync(3)
        t0 = time.perf_counter()
        sync(10)
        est = (time.perf_counter() - t0) / 10
        # The same iteration count on every rank: the largest estimate.
        iters = int(dist.all_max(mx.array([max(10, int(args.budget / est))])).item())
        row = {"elements": n, "bytes": 4 * n, "iters": iters}
        row["fastsync_sync_us"], row["fastsync_sync_best_us"] = (
            v * 1e6 for v in rounds_of(sync, iters, args.rounds, barrier, warmup=5))
        row["fastsync_pipelined_us"], _ = (
            v * 1e6 for v in rounds_of(pipelined, iters, args.rounds, barrier, warmup=5))
        check()
        if not torch_note:
            tsync, tpipe = torch_loops(n)
            row["torch_sync_us"], row["torch_sync_best_us"] = (
                v * 1e6 for v in rounds_of(tsync, iters, args.rounds, torch_barrier, warmup=5))
            row["torch_pipelined_us"], _ = (
                v * 1e6 for v in rounds_of(tpipe, iters, args.rounds, torch_barrier, warmup=5))
        factor = 2 * (size - 1) / size
        for side in ("fastsync", "torch"):
            if f"{side}_pipelined_us" in row:
                # bytes per microsecond / 1e3: GB/s.
                t_us = row[f"{side}_pipelined_us"]
                row[f"{side}_busbw_GBps"] = factor * row["bytes"] / t_us / 1e3
        results.append(row)
        del sync, pipelined

    if rank == 0:
        cols = ["elements", "iters", "fastsync_sync_us", "fastsync_sync_best_us",
                "fastsync_pipelined_us", "fastsync_busbw_GBps"]
        if not torch_note:
            cols += ["torch_sync_us", "torch_sync_best_us", "torch_pipelined_us",
                     "torch_busbw_GBps"]
        print(f"{size} ranks, one GPU each, float32 all_sum per iteration "
              "(median of rounds; best round beside the sync median)")
        print(" | ".join(f"{c:>22}" if i > 1 else f"{c:>9}" for i, c in enumerate(cols)))
        for r in results:
            print(" | ".join(f"{r[c]:>22.2f}" if i > 1 else f"{r[c]:>9}"
                             for i, c in enumerate(cols)))
        big = max(results, key=lambda r: r["elements"])
        line = (f"bus bandwidth at {big['elements']} elements ({big['bytes'] / MiB:.0f} MiB): "
                f"fastsync {big['fastsync_busbw_GBps']:.1f} GB/s")
        if "torch_busbw_GBps" in big:
            line += f", torch.distributed {big['torch_busbw_GBps']:.1f} GB/s"
        print(line)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    if not torch_note:
        tdist.destroy_process_group()


if __name__ == "__main__":
    main()
