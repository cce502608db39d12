"""Transforms over a Module's parameters: value_and_grad, checkpoint, average_gradients."""

from __future__ import annotations

import functools
from collections.abc import Callable

from .. import _core, _transforms
from ..utils import tree_flatten, tree_map, tree_unflatten
from .layers.base import Module

_array = _core.array


def _swapped_in(model: Module, params, fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` with ``params`` placed in ``model``; the model's own trainable
    parameters are back in place afterwards (the placed arrays are the transform's tracers,
    which must not outlive it inside the model)."""
    saved = model.trainable_parameters()
    model.update(params)
    try:
        return fn(*args, **kwargs)
    finally:
        model.update(saved)


def value_and_grad(model: Module, fn: Callable):
    """A function returning ``(fn(*args), gradients)``, gradients taken with respect to
    ``model.trainable_parameters()`` (a tree of the same shape)."""

    def inner(params, *args, **kwargs):
        return _swapped_in(model, params, fn, *args, **kwargs)

    vg = _transforms.value_and_grad(inner)

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        return vg(model.trainable_parameters(), *args, **kwargs)

    return wrapped


def checkpoint(module: Module, fn: Callable | None = None):
    """``fn`` (default: calling ``module``) with its intermediates recomputed in the backward
    pass; gradients still reach the module's trainable parameters."""
    fn = fn or module.__call__

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        where = [i for i, a in enumerate(args) if isinstance(a, _array)]

        def inner(params, *arrays):
            full = list(args)
            for i, a in zip(where, arrays, strict=True):
                full[i] = a
            return _swapped_in(module, params, fn, *full, **kwargs)

        return _transforms.checkpoint(inner)(
            module.trainable_parameters(), *(args[i] for i in where)
        )

    return wrapped


def average_gradients(
    gradients,
    group=None,
    all_reduce_size: int = 32 * 1024**2,
    communication_type=None,
    communication_stream=None,
):
    """The mean of ``gradients`` over the processes of ``group`` (a no-op for one process).

    Small arrays are concatenated into messages of about ``all_reduce_size`` bytes (0 sends
    each array on its own); ``communication_type`` casts them for the transfer.
    """
    from .. import distributed

    group = group or distributed.init()
    n = group.size()
    if n == 1:
        return gradients
    stream = {} if communication_stream is None else {"stream": communication_stream}

    def reduce(x):
        dt = x.dtype
        if communication_type is not None:
            x = x.astype(communication_type)
        return (distributed.all_sum(x, group=group, **stream) / n).astype(dt)

    if all_reduce_size <= 0:
        return tree_map(reduce, gradients)
    flat = tree_flatten(gradients)
    if not flat:
        return gradients
    out, batch, size = {}, [], 0

    def flush():
        nonlocal batch, size
        if not batch:
            return
        if len(batch) == 1:
            k, g = batch[0]
            out[k] = reduce(g)
        else:
            dt = batch[0][1].dtype
            big = reduce(_core.concatenate([g.reshape(-1).astype(dt) for _, g in batch]))
            offset = 0
            for k, g in batch:
                out[k] = big[offset : offset + g.size].reshape(g.shape).astype(g.dtype)
                offset += g.size
        batch, size = [], 0

    for k, g in flat:
        if batch and (g.dtype != batch[0][1].dtype or size + g.nbytes > all_reduce_size):
            flush()
        batch.append((k, g))
        size += g.nbytes
    flush()
    return tree_unflatten([(k, out[k]) for k, _ in flat])
