"""``compile`` with MLX's call forms: ``compile(fun, inputs=None, outputs=None, shapeless=False)``,
``disable_compile()``, ``enable_compile()``.

The first call with a given input signature (the arguments' tree structure, Python constants,
array dtypes and shapes, or only ranks when ``shapeless``; the arrays of the ``inputs`` state;
the default device) runs the Python function inside a trace (src/replay.h), fuses the graph it
built (chains of elementwise ops become one node, src/fuse.h) and records that graph from the
inputs to the outputs as a tape. Later calls with the signature replay the tape in C++: the
same nodes over the new arrays, no Python from ``fun`` runs, and the arrays the ``outputs``
state names (a model's parameters, an optimizer's state) are written back in place, as MLX
does.

As in MLX: Python side effects of ``fun`` happen when it is traced only; Python scalars among
the arguments are constants (a new value traces again); arrays ``fun`` reads that are neither
arguments nor ``inputs`` state are captured as constants; evaluating or reading an array inside
``fun`` while it is traced raises. Unlike MLX without ``mx.random.state`` in the state, random
draws that use the global key differ between calls: each replay draws fresh keys. Inside a
transform (grad, vmap) ``fun`` runs as written, so the transform sees its graph.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from . import _core

__all__ = ["compile", "disable_compile", "enable_compile"]

# Read and written from the Python threads that call these functions; a bool swap is atomic
# under the GIL, and it only affects calls that start after it.
_enabled = not (os.environ.get("FASTSYNC_DISABLE_COMPILE") or os.environ.get("MLX_DISABLE_COMPILE"))

_CONSTANTS = (int, float, complex, str, bool, bytes, type(None))


class _Recorded:
    """One traced signature: the tape and how to rebuild ``fun``'s result from its outputs."""

    __slots__ = ("tape", "n_keys", "out_spec", "n_out", "n_state")

    def __init__(self, tape, n_keys, out_spec, n_out, n_state):
        self.tape, self.n_keys, self.out_spec = tape, n_keys, out_spec
        self.n_out, self.n_state = n_out, n_state


def compile(  # noqa: A001 (MLX's name)
    fun: Callable, inputs=None, outputs=None, shapeless: bool = False
) -> Callable:
    """A compiled version of ``fun``: traced once per input signature, then replayed.

    ``inputs`` and ``outputs`` name implicit state (trees of arrays, modules, optimizers or
    their state) that ``fun`` reads and updates; ``shapeless`` lets calls with new shapes (same
    ranks and dtypes) replay the recorded graph instead of tracing again.
    """
    if not callable(fun):
        raise TypeError(f"[compile] expects a callable, got {type(fun).__name__}")
    if not isinstance(shapeless, bool):
        raise TypeError("[compile] shapeless must be a bool")
    # Keyed by signature; filled and read under the GIL (a race traces twice, harmlessly).
    cache: dict = {}

    @functools.wraps(fun)
    def compiled(*args, **kwargs):
        if not _enabled or _core._is_transforming():
            return fun(*args, **kwargs)
        arrays: list = []
        spec = _flatten_args((args, kwargs), arrays)
        state, slots = _state(inputs, outputs)
        flat = arrays + state
        key = (
            spec,
            len(state),
            tuple(_core._Tape.signature(flat, shapeless)),
            _core.default_stream(_core.default_device()),
        )
        rec = cache.get(key)
        if rec is None or rec.n_state != len(slots):
            result, rec = _trace(fun, args, kwargs, flat, outputs)
            cache[key] = rec
            return result
        out = rec.tape(flat + _core._global_keys(rec.n_keys), shapeless)
        for (container, k), value in zip(slots, out[rec.n_out :], strict=True):
            container[k] = value
        return _rebuild(rec.out_spec, iter(out[: rec.n_out]))

    return compiled


def _trace(fun, args, kwargs, flat, outputs):
    scope = _core._CompileTrace(flat)
    try:
        result = fun(*args, **kwargs)
    finally:
        keys = scope.close()
    out: list = []
    out_spec = _flatten_result(result, out)
    slots = _state_slots(outputs) if outputs is not None else []
    roots = out + [container[k] for container, k in slots]
    if roots:
        _core._fuse(roots)
    tape = _core._Tape(flat + keys, roots)
    return result, _Recorded(tape, len(keys), out_spec, len(out), len(slots))


def _flatten_args(tree, arrays: list):
    """A hashable description of ``tree`` with its arrays appended to ``arrays``."""
    if isinstance(tree, _core.array):
        arrays.append(tree)
        return "a"
    if isinstance(tree, (list, tuple)):
        return (type(tree).__name__, tuple(_flatten_args(t, arrays) for t in tree))
    if isinstance(tree, dict):
        return ("dict", tuple((k, _flatten_args(v, arrays)) for k, v in tree.items()))
    if isinstance(tree, _CONSTANTS):
        return ("c", type(tree).__name__, tree)
    raise TypeError(
        "[compile] arguments must be trees (lists, tuples, dicts) of arrays and Python "
        f"constants (int, float, str, bool, None); got {type(tree).__name__}. Pass modules and "
        "optimizers through inputs=/outputs= instead."
    )


def _flatten_result(tree, arrays: list):
    """``fun``'s result as a template: arrays become their index in ``arrays``."""
    if isinstance(tree, _core.array):
        arrays.append(tree)
        return _Slot(len(arrays) - 1)
    if isinstance(tree, (list, tuple)):
        items = [_flatten_result(t, arrays) for t in tree]
        return type(tree)(items) if not hasattr(tree, "_fields") else type(tree)(*items)
    if isinstance(tree, dict):
        return {k: _flatten_result(v, arrays) for k, v in tree.items()}
    return tree  # a constant, returned as it was when traced


class _Slot:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _rebuild(spec, values):
    if isinstance(spec, _Slot):
        return next(values)
    if isinstance(spec, (list, tuple)):
        items = [_rebuild(s, values) for s in spec]
        return type(spec)(items) if not hasattr(spec, "_fields") else type(spec)(*items)
    if isinstance(spec, dict):
        return {k: _rebuild(v, values) for k, v in spec.items()}
    return spec


def _state_root(tree):
    # An optimizer (not a container) is named by its state tree.
    if not isinstance(tree, (dict, list, tuple, _core.array)) and hasattr(tree, "state"):
        return tree.state
    return tree


def _state(inputs, outputs) -> tuple:
    """The arrays of the ``inputs`` tree and the slots of the ``outputs`` tree: one walk when
    both name the same tree (``compile(step, inputs=state, outputs=state)``), whose arrays are
    then those the slots hold, in the same order."""
    if outputs is None:
        return _state_arrays(inputs), []
    slots = _state_slots(outputs)
    if inputs is outputs:
        return [container[k] for container, k in slots], slots
    return _state_arrays(inputs), slots


def _state_arrays(tree) -> list:
    """The arrays in an ``inputs`` state tree, in a fixed order."""
    out: list = []
    if tree is not None:
        _collect_arrays(tree, out)
    return out


# Module-level recursion (a nested recursive function is a reference cycle that would hold
# the arrays it gathered until the garbage collector runs).
def _collect_arrays(t, out: list) -> None:
    t = _state_root(t)
    if isinstance(t, _core.array):
        out.append(t)
    elif isinstance(t, dict):
        for v in t.values():
            _collect_arrays(v, out)
    elif isinstance(t, (list, tuple)):
        for v in t:
            _collect_arrays(v, out)


def _state_slots(tree) -> list:
    """(container, key) of each array in an ``outputs`` state tree: where replays write."""
    slots: list = []
    _collect_slots(tree, slots)
    return slots


def _collect_slots(t, slots: list) -> None:
    t = _state_root(t)
    if isinstance(t, dict):
        items = t.items()
    elif isinstance(t, list):
        items = enumerate(t)
    elif isinstance(t, tuple):
        if any(isinstance(v, _core.array) for v in t):
            raise TypeError(
                "[compile] outputs= state must hold its arrays in lists, dicts or modules "
                "(they are updated in place); found a tuple of arrays"
            )
        items = enumerate(t)
    elif isinstance(t, _core.array):
        raise TypeError(
            "[compile] outputs= must be a container (list, dict, module, optimizer) so that "
            "its arrays can be updated in place; got a bare array"
        )
    else:
        return
    for k, v in list(items):
        if isinstance(v, _core.array):
            slots.append((t, k))
        else:
            _collect_slots(v, slots)


def disable_compile() -> None:
    """Make ``compile`` a no-op for calls that follow (also: FASTSYNC_DISABLE_COMPILE=1)."""
    global _enabled
    _enabled = False


def enable_compile() -> None:
    """Undo :func:`disable_compile`."""
    global _enabled
    _enabled = True
