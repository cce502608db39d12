"""The function transforms with MLX's Python call forms.

The C++ core differentiates functions of flat lists of arrays (``_core._vjp``,
``_core._jvp``, ``_core._custom_function``); this module adds what Python callers pass:
positional and keyword arguments, trees of arrays (dicts, lists, tuples), ``argnums`` and
``argnames``, auxiliary outputs, and the checks that turn misuse into clear errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from . import _core
from .utils import _children, _is_node, _rebuild, tree_flatten, tree_map

__all__ = [
    "vjp",
    "jvp",
    "grad",
    "value_and_grad",
    "custom_function",
    "checkpoint",
    "vmap",
]

_array = _core.array


def _leaves(tree):
    return [leaf for _, leaf in tree_flatten(tree)]


def _replace_leaves(tree, leaves):
    """``tree`` with its leaves replaced, in order, by ``leaves``."""
    it = iter(leaves)
    return tree_map(lambda _: next(it), tree)


def _fill_in_place(tree, it, records: list):
    """``tree`` with its leaves replaced by ``next(it)``, in order.

    Lists and dicts are changed in place (each change recorded for :func:`_restore`),
    as MLX does: a function that mutates its argument sees and keeps its own changes.
    Tuples are rebuilt.
    """
    if isinstance(tree, (list, dict)):
        for key, child in _children(tree):
            new = _fill_in_place(child, it, records) if _is_node(child) else next(it)
            if new is not child:
                tree[key] = new
                records.append((tree, key, child, new))
        return tree
    if isinstance(tree, tuple):
        values = [_fill_in_place(c, it, records) if _is_node(c) else next(it) for c in tree]
        return _rebuild(tree, values)
    return next(it)


def _restore(records: list):
    """Undo :func:`_fill_in_place` where the function left the placed value."""
    for container, key, original, placed in reversed(records):
        if container[key] is placed:
            container[key] = original


def _array_leaves(op: str, tree, what: str) -> list:
    leaves = _leaves(tree)
    for leaf in leaves:
        if not isinstance(leaf, _array):
            raise ValueError(f"[{op}] {what} must contain only arrays, got {type(leaf).__name__}")
    return leaves


def _outputs_as_list(op: str, out) -> list:
    if isinstance(out, _array):
        return [out]
    if isinstance(out, (list, tuple)) and all(isinstance(o, _array) for o in out):
        return list(out)
    raise ValueError(f"[{op}] the function must return an array or a list of arrays")


def _as_arrays(op: str, seq, what: str) -> list:
    if isinstance(seq, _array) or not isinstance(seq, Sequence):
        raise ValueError(f"[{op}] {what} must be a list or tuple of arrays")
    out = []
    for x in seq:
        if isinstance(x, _array):
            out.append(x)
        elif isinstance(x, (int, float, complex, bool)):
            out.append(_core.array(x))
        else:
            raise ValueError(f"[{op}] {what} must be arrays, got {type(x).__name__}")
    return out


def vjp(fun: Callable, primals: Sequence, cotangents: Sequence):
    """Outputs of ``fun(*primals)`` and the vector-Jacobian products with ``cotangents``.

    ``fun`` returns an array or a list of arrays; one cotangent per output. Returns
    ``(outputs, vjps)``, two lists.
    """
    primals = _as_arrays("vjp", primals, "primals")
    cotangents = _as_arrays("vjp", cotangents, "cotangents")
    outs, grads = _core._vjp(lambda xs: _outputs_as_list("vjp", fun(*xs)), primals, cotangents)
    return outs, grads


def jvp(fun: Callable, primals: Sequence, tangents: Sequence):
    """Outputs of ``fun(*primals)`` and the Jacobian-vector products with ``tangents``.

    One tangent per primal. Returns ``(outputs, jvps)``, two lists.
    """
    primals = _as_arrays("jvp", primals, "primals")
    tangents = _as_arrays("jvp", tangents, "tangents")
    outs, tans = _core._jvp(lambda xs: _outputs_as_list("jvp", fun(*xs)), primals, tangents)
    return outs, tans


def _normalize_argnums(argnums, argnames):
    if isinstance(argnames, str):
        argnames = [argnames]
    argnames = list(argnames or [])
    if argnums is None:
        argnums = [] if argnames else 0
    if isinstance(argnums, int):
        nums = [argnums]
    else:
        try:
            nums = list(argnums)
        except TypeError:
            raise TypeError("[grad] argnums must be an int or a sequence of ints") from None
        for n in nums:
            if not isinstance(n, int) or isinstance(n, bool):
                raise TypeError("[grad] argnums must be an int or a sequence of ints")
        if not nums and not argnames:
            raise ValueError("[grad] nothing to differentiate: argnums and argnames are empty")
    if len(set(nums)) != len(nums):
        raise ValueError(f"[grad] argnums has duplicates: {nums}")
    # One positional argument gives its gradient alone, however argnums named it.
    return nums, len(nums) == 1, argnames


def value_and_grad(fun: Callable, argnums=None, argnames=()):
    """A function returning ``(fun(*args, **kwargs), gradients)``.

    ``fun`` returns a scalar array, or a tuple/list whose first element is one (the rest
    are auxiliary outputs, returned untouched). Gradients are taken with respect to the
    positional arguments ``argnums`` (default 0) and keyword arguments ``argnames``; each
    may be a tree of arrays. With ``argnames``, the gradients are
    ``(positional, {name: gradient})``.
    """
    nums, single, names = _normalize_argnums(argnums, argnames)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        for n in nums:
            if n >= len(args) or n < 0:
                raise ValueError(
                    f"[grad] cannot differentiate argument {n}: the function was called with "
                    f"{len(args)} positional arguments"
                )
        for name in names:
            if name not in kwargs:
                raise ValueError(f"[grad] keyword argument '{name}' was not passed")
        targets = [args[n] for n in nums] + [kwargs[name] for name in names]
        leaves = []
        counts = []
        for t in targets:
            lv = _array_leaves("grad", t, "the differentiated arguments")
            leaves.extend(lv)
            counts.append(len(lv))
        holder = {}

        def flat(xs):
            it = iter(xs)
            new_args = list(args)
            new_kwargs = dict(kwargs)
            records = []
            for i, t in enumerate(targets):
                value = _fill_in_place(t, it, records)
                if i < len(nums):
                    new_args[nums[i]] = value
                else:
                    new_kwargs[names[i - len(nums)]] = value
            try:
                out = fun(*new_args, **new_kwargs)
            finally:
                _restore(records)
            holder["out"] = out
            if isinstance(out, (list, tuple)) and len(out) > 0:
                loss = out[0]
            else:
                loss = out
            if not isinstance(loss, _array):
                raise ValueError(
                    "[grad] the function must return an array (or a tuple whose first "
                    f"element is an array), got {type(loss).__name__}"
                )
            if loss.ndim != 0:
                raise ValueError(
                    f"[grad] the function must return a scalar, got shape {tuple(loss.shape)}"
                )
            return [loss]

        _, grads = _core._vjp(flat, leaves, [_core.array(1.0)])
        out = holder["out"]
        grouped = []
        pos = 0
        for i, t in enumerate(targets):
            grouped.append(_replace_leaves(t, grads[pos : pos + counts[i]]))
            pos += counts[i]
        positional = grouped[: len(nums)]
        if single:
            positional = positional[0]
        elif nums:
            positional = tuple(positional)
        else:
            positional = None
        if names:
            g = (positional, {name: grouped[len(nums) + i] for i, name in enumerate(names)})
        else:
            g = positional
        return out, g

    return wrapped


def grad(fun: Callable, argnums=None, argnames=()):
    """A function returning the gradient of the scalar ``fun`` (see :func:`value_and_grad`).

    ``fun`` must return a scalar array (no auxiliary outputs).
    """
    vg = value_and_grad(fun, argnums, argnames)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        if not isinstance(value, _array):
            raise ValueError(
                "[grad] the function must return a scalar array; use value_and_grad for "
                "auxiliary outputs"
            )
        return g

    return wrapped


class custom_function:  # noqa: N801 (MLX's name)
    """A function whose derivatives (and batching) may be overridden.

    Decorate a function, then register rules with ``@f.vjp``
    (``vjp(primals, cotangents, outputs)``), ``@f.jvp`` (``jvp(primals, tangents)``)
    and ``@f.vmap`` (``vmap(inputs, axes) -> (outputs, axes)``). Arguments come as the
    function received them (a single argument unwrapped, several as a tuple); outputs
    and cotangents as the function returned them. Rules not given are derived from
    the function itself.
    """

    def __init__(self, fun: Callable):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self._vjp = None
        self._jvp = None
        self._vmap = None

    def vjp(self, f: Callable):
        self._vjp = f
        return f

    def jvp(self, f: Callable):
        self._jvp = f
        return f

    def vmap(self, f: Callable):
        self._vmap = f
        return f

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise ValueError("[custom_function] keyword arguments are not supported")
        in_leaves = _array_leaves("custom_function", list(args), "the arguments")
        out = self.fun(*args)
        out_leaves = _array_leaves("custom_function", out, "the outputs")
        pack = (lambda xs: xs[0]) if len(args) == 1 else tuple

        def as_args(xs):
            return pack(_replace_leaves(list(args), xs))

        vjp_rule = jvp_rule = None
        if self._vjp is not None:
            rule = self._vjp

            def vjp_rule(primals, cotangents, outputs):
                grads = rule(
                    as_args(primals),
                    _replace_leaves(out, cotangents),
                    _replace_leaves(out, outputs),
                )
                got = _leaves(list(grads) if len(args) > 1 else [grads])
                return got

        if self._jvp is not None:
            rule_j = self._jvp

            def jvp_rule(primals, tangents):
                return _leaves(rule_j(as_args(primals), as_args(tangents)))

        flat_out = _core._custom_function(in_leaves, out_leaves, vjp_rule, jvp_rule)
        return _replace_leaves(out, flat_out)


def checkpoint(fun: Callable):
    """``fun``, but its intermediates are recomputed in the backward pass instead of kept."""
    ckpt = custom_function(fun)

    @ckpt.vjp
    def recompute(primals, cotangents, outputs):
        args = primals if isinstance(primals, tuple) else (primals,)
        leaves = _leaves(list(args))

        def flat(xs):
            return _leaves(fun(*_replace_leaves(list(args), xs)))

        _, grads = _core._vjp(flat, leaves, _leaves(cotangents))
        return tuple(_replace_leaves(list(args), grads)) if len(args) > 1 else grads[0]

    return ckpt


def _axes_per_arg(axes, n: int) -> list:
    if axes is None or isinstance(axes, int):
        return [axes] * n
    axes = list(axes)
    if len(axes) != n:
        raise ValueError(f"[vmap] {len(axes)} in_axes for {n} arguments")
    return axes


def vmap(fun: Callable, in_axes=0, out_axes=0):
    """``fun`` mapped over an axis of its inputs.

    ``in_axes``: one int (or None: not mapped) for every argument, or one per argument;
    an argument may be a tree of arrays, all mapped along its axis. ``out_axes``: where
    the batch axis goes in each output (one int, or one per output). The function is
    traced once on one entry and its graph replayed batched: most primitives batch in a
    single node; the rest run once per entry. A custom function's own vmap rule is used
    when it is the function mapped.
    """

    @functools.wraps(fun)
    def wrapped(*args):
        if isinstance(fun, custom_function) and fun._vmap is not None:
            axes = _axes_per_arg(in_axes, len(args))
            outs, _ = fun._vmap(*args, *axes)
            return outs
        arg_axes = _axes_per_arg(in_axes, len(args))
        leaves, leaf_axes = [], []
        for a, ax in zip(args, arg_axes, strict=True):
            for leaf in _leaves(a):
                if not isinstance(leaf, _array):
                    if ax is None:
                        leaf = _core.array(leaf)
                    else:
                        raise ValueError("[vmap] mapped arguments must be arrays")
                if ax is not None and (ax < -leaf.ndim or ax >= leaf.ndim):
                    raise ValueError(
                        f"[vmap] in_axes {ax} is out of range for an input of shape "
                        f"{tuple(leaf.shape)}"
                    )
                leaves.append(leaf)
                leaf_axes.append(-1 if ax is None else ax % leaf.ndim)
        holder = {}

        def flat(xs):
            it = iter(xs)
            new_args = [_replace_leaves(a, [next(it) for _ in _leaves(a)]) for a in args]
            out = fun(*new_args)
            holder["out"] = out
            return _array_leaves("vmap", out, "the outputs")

        oaxes = [out_axes] if isinstance(out_axes, int) else list(out_axes)
        outs = _core._vmap(flat, leaves, leaf_axes, oaxes)
        return _replace_leaves(holder["out"], outs)

    return wrapped
