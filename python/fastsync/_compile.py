"""``compile`` with MLX's call forms: ``compile(fun, inputs=None, outputs=None, shapeless=False)``,
``disable_compile()``, ``enable_compile()``.

fastsync does not fuse yet: a compiled function runs its ops as written, so it returns
what MLX's compiled function returns, its gradients compose, and state it updates
(``inputs`` / ``outputs``, such as a model and an optimizer) is updated in place. What
compiling would add, one kernel for a chain of elementwise ops, is the open part of the
compile work (issue "[4 of 10]"); ``compiled.__fastsync_fused__`` is False until then.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

__all__ = ["compile", "disable_compile", "enable_compile"]

# Read and written from the Python threads that call these functions; a bool swap is atomic
# under the GIL, and it only affects calls that start after it.
_enabled = not (os.environ.get("FASTSYNC_DISABLE_COMPILE") or os.environ.get("MLX_DISABLE_COMPILE"))


def compile(  # noqa: A001 (MLX's name)
    fun: Callable, inputs=None, outputs=None, shapeless: bool = False
) -> Callable:
    """A compiled version of ``fun``.

    ``inputs`` and ``outputs`` name implicit state (trees of arrays, modules, optimizer
    state) that ``fun`` reads and updates; ``shapeless`` allows calls with new shapes
    without recompiling. See the module's docstring for what fastsync does with them.
    """
    if not callable(fun):
        raise TypeError(f"[compile] expects a callable, got {type(fun).__name__}")
    if not isinstance(shapeless, bool):
        raise TypeError("[compile] shapeless must be a bool")

    @functools.wraps(fun)
    def compiled(*args, **kwargs):
        return fun(*args, **kwargs)

    compiled.__fastsync_fused__ = False
    return compiled


def disable_compile() -> None:
    """Make ``compile`` a no-op for calls that follow (also: FASTSYNC_DISABLE_COMPILE=1)."""
    global _enabled
    _enabled = False


def enable_compile() -> None:
    """Undo :func:`disable_compile`."""
    global _enabled
    _enabled = True
