"""Timeline traces: ``with fastsync.trace("run.json"):`` (or ``FASTSYNC_TRACE=path`` for a
whole program) records what every stream and thread did and waited for, and writes Chrome
trace-event JSON that the Perfetto UI (https://ui.perfetto.dev) opens.

One track per stream (its tasks: run spans of the compute, signal and wait spans of the
fences and events; on a GPU stream the kernels, timed by CUDA events) and one per host
thread (encode spans of each op, waits for results, throttle stalls), allocation and free
points with their bytes, a bytes-in-use counter per allocator, and an arrow from each signal
to every wait it released. ``python -m fastsync.trace run.json --png out.png`` draws a static
picture of it.
"""

import atexit
import contextlib
import os
import sys

from . import _core

__all__ = ["trace"]

# mlx.core.trace is the sum along a diagonal; fastsync.trace is both: given an array it is
# that op, given a path it records a timeline.
_diagonal_trace = _core.trace


def trace(a, *args, **kwargs):
    """``trace(path)``: a timeline recorder; ``trace(a, offset=0, axis1=0, axis2=1, dtype=None,
    *, stream=None)``: the sum along a diagonal of ``a`` (as ``mlx.core.trace``).

    ``with fastsync.trace("run.json"):`` records the block's work: on exit it is waited for
    (so its compute is in the trace) and the file is written (the recorder's ``path``). One
    trace records at a time: starting a second raises ``RuntimeError``. The recorder is also
    a decorator. ``FASTSYNC_TRACE=path`` records a whole program.
    """
    if isinstance(a, (str, os.PathLike)):
        return _Recorder(a, *args, **kwargs)
    return _diagonal_trace(a, *args, **kwargs)


class _Recorder(contextlib.ContextDecorator):
    """A timeline trace of the work inside the block, written to ``path`` on exit."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def __enter__(self):
        _core._trace_start(self.path)  # RuntimeError: one recording already, or an unwritable path
        return self

    def __exit__(self, *exc):
        try:
            _core.synchronize()
        finally:
            self.path = _core._trace_stop()
        return False


def _start_from_environment():
    # FASTSYNC_TRACE=path: the whole program, written at exit.
    path = os.environ.get("FASTSYNC_TRACE")
    if not path:
        return
    _core._trace_start(path)

    def finish():
        try:
            _core.synchronize()
        except Exception:  # an error the program already saw must not stop the write
            pass
        try:
            _core._trace_stop()
        except Exception as e:
            print(f"fastsync: could not write the trace {path}: {e}", file=sys.stderr)

    atexit.register(finish)
