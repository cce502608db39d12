"""Tree utilities: nested lists, tuples and dicts of arrays (parameters, gradients).

Keys follow MLX's convention: a path joins list indices and dict keys with dots,
``"layers.0.weight"``. Lists and tuples keep their type when rebuilt; dicts keep their
key order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "tree_flatten",
    "tree_unflatten",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_merge",
]


def _is_node(tree) -> bool:
    return isinstance(tree, (list, tuple, dict))


def _children(tree):
    """(key, child) pairs of a list, tuple or dict node, in order."""
    if isinstance(tree, dict):
        return list(tree.items())
    return list(enumerate(tree))


def _rebuild(like, values: list):
    """A node of like's type holding ``values`` (in its children's order)."""
    if isinstance(like, dict):
        return dict(zip(like.keys(), values, strict=True))
    if isinstance(like, tuple) and hasattr(like, "_fields"):  # namedtuple
        return type(like)(*values)
    return type(like)(values)


def tree_map(fn: Callable, tree: Any, *rest: Any, is_leaf: Callable | None = None) -> Any:
    """Apply ``fn`` to the leaves of ``tree`` (and the matching leaves of ``rest``).

    ``rest`` trees must have ``tree``'s structure at least down to its leaves.
    ``is_leaf(node)`` may stop the descent early.
    """
    if (is_leaf is not None and is_leaf(tree)) or not _is_node(tree):
        return fn(tree, *rest)
    values = []
    for key, child in _children(tree):
        values.append(tree_map(fn, child, *(r[key] for r in rest), is_leaf=is_leaf))
    return _rebuild(tree, values)


def tree_map_with_path(
    fn: Callable, tree: Any, *rest: Any, is_leaf: Callable | None = None, path: str | None = None
) -> Any:
    """Like :func:`tree_map`, with the leaf's dotted path as ``fn``'s first argument."""
    if (is_leaf is not None and is_leaf(tree)) or not _is_node(tree):
        return fn(path, tree, *rest)
    values = []
    for key, child in _children(tree):
        sub = str(key) if path is None else f"{path}.{key}"
        values.append(
            tree_map_with_path(fn, child, *(r[key] for r in rest), is_leaf=is_leaf, path=sub)
        )
    return _rebuild(tree, values)


def tree_flatten(
    tree: Any,
    prefix: str = "",
    is_leaf: Callable | None = None,
    destination: list | dict | None = None,
) -> list | dict:
    """The leaves of ``tree`` as ``[(path, leaf), ...]`` (or into ``destination``).

    >>> tree_flatten([[[0]]])
    [('0.0.0', 0)]
    >>> tree_flatten({"a": [1, 2]}, prefix=".model")
    [('model.a.0', 1), ('model.a.1', 2)]
    """
    out = [] if destination is None else destination
    _flatten_into(tree, prefix[1:] if prefix.startswith(".") else prefix, out, is_leaf)
    return out


def _flatten_into(node, path: str, out, is_leaf) -> None:
    # A module-level function: a nested recursive one would be a reference cycle holding
    # ``out`` (and so its arrays) until the garbage collector runs.
    if (is_leaf is not None and is_leaf(node)) or not _is_node(node):
        if isinstance(out, dict):
            out[path] = node
        else:
            out.append((path, node))
        return
    for key, child in _children(node):
        _flatten_into(child, f"{path}.{key}" if path else str(key), out, is_leaf)


def tree_unflatten(tree: list | dict) -> Any:
    """Rebuild a tree from :func:`tree_flatten`'s pairs (or a ``{path: leaf}`` dict).

    Integer keys make lists, others dicts: ``[("0.a", x)]`` gives ``[{"a": x}]``.
    """
    items = list(tree.items()) if isinstance(tree, dict) else list(tree)
    if len(items) == 1 and items[0][0] == "":
        return items[0][1]
    groups: dict[str, list] = {}
    for path, value in items:
        head, _, tail = path.partition(".")
        groups.setdefault(head, []).append((tail, value))
    if all(k.isdigit() for k in groups):
        ordered = sorted(groups.items(), key=lambda kv: int(kv[0]))
        result = []
        for index, children in ordered:
            while len(result) < int(index):
                result.append({})
            result.append(tree_unflatten(children))
        return result
    return {key: tree_unflatten(children) for key, children in groups.items()}


def tree_reduce(fn: Callable, tree: Any, initializer: Any = None, is_leaf: Callable | None = None):
    """Fold ``fn(accumulator, leaf)`` over the leaves of ``tree``, in order."""
    leaves = [leaf for _, leaf in tree_flatten(tree, is_leaf=is_leaf)]
    if initializer is None:
        if not leaves:
            return None
        acc, leaves = leaves[0], leaves[1:]
    else:
        acc = initializer
    for leaf in leaves:
        acc = fn(acc, leaf)
    return acc


def tree_merge(tree_a: Any, tree_b: Any, merge_fn: Callable | None = None) -> Any:
    """Merge two trees whose leaves do not overlap (``merge_fn`` decides when they do)."""
    if tree_a is None or (_is_node(tree_a) and len(tree_a) == 0):
        return tree_b
    if tree_b is None or (_is_node(tree_b) and len(tree_b) == 0):
        return tree_a
    if _is_node(tree_a) and _is_node(tree_b) and type(tree_a) is type(tree_b):
        if isinstance(tree_a, dict):
            merged = dict(tree_a)
            for key, value in tree_b.items():
                merged[key] = tree_merge(tree_a[key], value, merge_fn) if key in tree_a else value
            return merged
        n = max(len(tree_a), len(tree_b))
        values = [
            tree_merge(
                tree_a[i] if i < len(tree_a) else None,
                tree_b[i] if i < len(tree_b) else None,
                merge_fn,
            )
            for i in range(n)
        ]
        return _rebuild(tree_a, values)
    if merge_fn is None:
        raise ValueError("[tree_merge] the trees have a leaf in the same place")
    return merge_fn(tree_a, tree_b)
