"""``compile`` with MLX's call forms: ``compile(fun, inputs=None, outputs=None, shapeless=False)``,
``disable_compile()``, ``enable_compile()``.

A compiled function runs the Python function on each call (so it returns what MLX's
compiled function returns, composes with the transforms, and updates the state it names in
``inputs`` / ``outputs``, a model or an optimizer, in place), then rewrites the graph it
built before anything is evaluated: chains of elementwise ops of one floating dtype whose
intermediate results nothing else holds become one fused node (src/fuse.h), one task on the
CPU and one kernel on the GPU. Inside a transform (grad, vmap) the graph is left as built.

Not done yet, and so not claimed: the Python function is not traced once and replayed (no
per-signature cache, ``shapeless`` has nothing to relax), and fusion stops at reductions,
matmuls and dtype changes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from . import _core
from .utils import tree_flatten

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
        out = fun(*args, **kwargs)
        if _enabled:
            roots = _arrays(out)
            if outputs is not None:
                roots += _arrays(outputs)
            if roots:
                _core._fuse(roots)
        return out

    return compiled


def _arrays(tree) -> list:
    """The arrays in ``tree`` (arrays, lists, tuples, dicts, modules, optimizer states)."""
    if isinstance(tree, _core.array):
        return [tree]
    state = getattr(tree, "state", None)
    if state is not None and not isinstance(tree, (dict, list, tuple)):
        tree = state  # an optimizer: its state tree
    return [v for _, v in tree_flatten(tree) if isinstance(v, _core.array)]


def disable_compile() -> None:
    """Make ``compile`` a no-op for calls that follow (also: FASTSYNC_DISABLE_COMPILE=1)."""
    global _enabled
    _enabled = False


def enable_compile() -> None:
    """Undo :func:`disable_compile`."""
    global _enabled
    _enabled = True
