"""``Module``: the base of every layer, a dict of its parameters and sub-modules.

A module stores arrays, sub-modules, and lists/dicts of them as dict entries, so that the
module itself is the tree of its state (``tree_flatten(model.parameters())`` gives
``"layers.0.weight"`` keys). Anything else (ints, flags, callables) is an ordinary attribute.
Parameters may be frozen by name; ``trainable_parameters()`` leaves those out, and
``nn.value_and_grad`` differentiates the rest.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from ... import _core
from ...utils import tree_flatten, tree_unflatten

_array = _core.array


def _is_state(value) -> bool:
    """Values kept as dict entries (the module's tree) rather than plain attributes."""
    return isinstance(value, (_array, dict, list, tuple))


class Module(dict):
    """The base class of layers and models.

    Subclasses assign arrays and sub-modules as attributes in ``__init__`` and compute in
    ``__call__``. ``parameters()``, ``update()``, ``freeze()``, ``train()``/``eval()``,
    ``load_weights()``/``save_weights()`` then work on the whole tree.
    """

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "_no_grad", set())
        object.__setattr__(self, "_training", True)

    # --- attributes as tree entries ---------------------------------------------------
    def __getattr__(self, key: str):
        try:
            return self[key]
        except KeyError:
            name = type(self).__name__
            raise AttributeError(f"{name!r} object has no attribute {key!r}") from None

    def __setattr__(self, key: str, value):
        if _is_state(value):
            if key in self.__dict__:
                object.__delattr__(self, key)
            self[key] = value
        else:
            if key in self:
                del self[key]
            object.__setattr__(self, key, value)

    def __delattr__(self, key: str):
        if key in self:
            del self[key]
        else:
            object.__delattr__(self, key)

    # dict's equality would compare arrays elementwise; modules are equal only to themselves.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    @property
    def training(self) -> bool:
        """Whether the module is in training mode (dropout active, batch statistics used)."""
        return self._training

    @property
    def state(self) -> Module:
        """The module's whole state: itself (parameters, buffers, sub-modules)."""
        return self

    # --- views of the tree --------------------------------------------------------------
    def filter_and_map(
        self,
        filter_fn: Callable[[Module, str, Any], bool],
        map_fn: Callable | None = None,
        is_leaf_fn: Callable[[Module, str, Any], bool] | None = None,
    ) -> dict:
        """The entries ``(module, key, value)`` that ``filter_fn`` keeps, recursively.

        Sub-modules, dicts and lists are descended into unless ``is_leaf_fn`` says a value
        is a leaf; ``map_fn`` is applied to each kept leaf.
        """
        map_fn = map_fn or (lambda x: x)
        is_leaf_fn = is_leaf_fn or (lambda m, k, v: not isinstance(v, (Module, dict, list, tuple)))

        # A method, not a nested recursive function: that would be a reference cycle
        # left for the garbage collector on every call.
        return {
            k: self._filter_visit(k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in self.items()
            if filter_fn(self, k, v)
        }

    def _filter_visit(self, key, value, filter_fn, map_fn, is_leaf_fn):
        if is_leaf_fn(self, key, value):
            return map_fn(value)
        if isinstance(value, Module):
            return value.filter_and_map(filter_fn, map_fn, is_leaf_fn)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                nk = f"{key}.{k}"
                if filter_fn(self, nk, v):
                    out[k] = self._filter_visit(nk, v, filter_fn, map_fn, is_leaf_fn)
            return out
        if isinstance(value, (list, tuple)):
            out = []
            for i, v in enumerate(value):
                nk = f"{key}.{i}"
                keep = filter_fn(self, nk, v)
                out.append(self._filter_visit(nk, v, filter_fn, map_fn, is_leaf_fn) if keep else {})
            return out
        raise RuntimeError(f"[Module] unexpected leaf {key!r} of type {type(value).__name__}")

    @staticmethod
    def valid_parameter_filter(module, key, value) -> bool:
        return isinstance(value, (dict, list, tuple, _array)) and not key.startswith("_")

    @staticmethod
    def trainable_parameter_filter(module, key, value) -> bool:
        return Module.valid_parameter_filter(module, key, value) and key not in module._no_grad

    @staticmethod
    def valid_child_filter(module, key, value) -> bool:
        return isinstance(value, (dict, list, tuple))

    def parameters(self) -> dict:
        """Every array of the module and its sub-modules, as a nested dict."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self) -> dict:
        """The parameters that are not frozen."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self) -> dict:
        """The modules held directly (possibly inside lists and dicts)."""
        return self.filter_and_map(
            self.valid_child_filter, is_leaf_fn=lambda m, k, v: isinstance(v, Module)
        )

    def leaf_modules(self) -> dict:
        """The modules of the tree that hold no other module, in the tree's shape."""

        def is_leaf(m, k, v):
            return isinstance(v, Module) and not _has_module(v.children())

        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=is_leaf)

    def named_modules(self) -> list[tuple[str, Module]]:
        """``(path, module)`` for every module of the tree, this one last with path ``""``."""
        out = []
        self._visit_modules("", lambda name, m: out.append((name, m)))
        return out

    def modules(self) -> list[Module]:
        """Every module of the tree, this one last."""
        return [m for _, m in self.named_modules()]

    def _visit_modules(self, prefix: str, fn: Callable[[str, Module], None]):
        for k, v in self.items():
            _visit_value(f"{prefix}.{k}" if prefix else k, v, fn)
        fn(prefix, self)

    # --- changing the tree --------------------------------------------------------------
    def update(self, parameters: dict, strict: bool = True) -> Module:
        """Replace arrays with those of ``parameters`` (a sub-tree of ``parameters()``).

        With ``strict``, a key the module does not have, or an array where the module holds
        something else, raises ValueError.
        """

        _update_from(self, parameters, "", strict)
        return self

    def update_modules(self, modules: dict, strict: bool = True) -> Module:
        """Replace sub-modules with those of ``modules`` (a sub-tree of ``children()``)."""

        def apply(dst, src, path):
            items = src.items() if isinstance(src, dict) else enumerate(src)
            for k, v in items:
                sub = f"{path}.{k}" if path else str(k)
                try:
                    cur = dst[k]
                except (KeyError, IndexError):
                    if strict:
                        raise ValueError(f"[Module.update_modules] no module {sub!r}") from None
                    continue
                if isinstance(v, Module):
                    dst[k] = v
                elif isinstance(v, (dict, list)) and not isinstance(cur, Module | _array):
                    apply(cur, v, sub)
                elif isinstance(v, (dict, list)) and isinstance(cur, Module):
                    apply(cur, v, sub)
                elif strict:
                    raise ValueError(f"[Module.update_modules] {sub!r} is not a module")

        apply(self, modules, "")
        return self

    def apply(self, map_fn: Callable[[_array], _array], filter_fn: Callable | None = None):
        """Replace each parameter ``p`` (that ``filter_fn`` keeps) with ``map_fn(p)``."""
        filter_fn = filter_fn or Module.valid_parameter_filter
        self.update(self.filter_and_map(filter_fn, map_fn))
        return self

    def apply_to_modules(self, apply_fn: Callable[[str, Module], Any]) -> Module:
        """Call ``apply_fn(path, module)`` on every module of the tree, this one first."""
        stack = [("", self)]
        while stack:
            prefix, m = stack.pop()
            apply_fn(prefix, m)
            for name, child in tree_flatten(m.children(), is_leaf=lambda x: isinstance(x, Module)):
                stack.append((f"{prefix}.{name}" if prefix else name, child))
        return self

    def set_dtype(self, dtype, predicate: Callable | None = None) -> Module:
        """Cast the parameters whose dtype ``predicate`` accepts (floating ones by default)."""
        from ... import _dtypes

        if predicate is None:

            def predicate(d):
                return _dtypes.issubdtype(d, _dtypes.floating)

        self.apply(lambda x: x.astype(dtype) if predicate(x.dtype) else x)
        return self

    # --- freezing and modes ---------------------------------------------------------------
    def _local_keys(self, keys, what: str, strict: bool) -> list[str]:
        if keys is None:
            # The paths of the arrays this module holds itself, inside lists and dicts
            # too, and not the containers: freezing a list would also hide the modules
            # in it, whatever their own state.
            own = {
                k: v
                for k, v in self.items()
                if not isinstance(v, Module) and self.valid_parameter_filter(self, k, v)
            }
            flat = tree_flatten(own, is_leaf=lambda x: isinstance(x, Module))
            return [k for k, v in flat if isinstance(v, _array)]
        keys = [keys] if isinstance(keys, str) else list(keys)
        if strict:
            have = dict(tree_flatten(self.parameters()))
            for k in keys:
                if k not in self and k not in have:
                    raise ValueError(f"[Module.{what}] the module has no parameter {k!r}")
        return keys

    def freeze(self, *, recurse: bool = True, keys=None, strict: bool = False) -> Module:
        """Exclude parameters from ``trainable_parameters()`` (all, or those named in ``keys``)."""
        if recurse:
            # Each module's own freeze, so that subclasses that pin their state see it.
            self.apply_to_modules(
                lambda _, m: m.freeze(recurse=False, keys=keys, strict=strict and m is self)
            )
        else:
            self._no_grad.update(self._local_keys(keys, "freeze", strict))
        return self

    def unfreeze(self, *, recurse: bool = True, keys=None, strict: bool = False) -> Module:
        """Make frozen parameters trainable again (all, or those named in ``keys``)."""
        if recurse:
            self.apply_to_modules(
                lambda _, m: m.unfreeze(recurse=False, keys=keys, strict=strict and m is self)
            )
        elif keys is None:
            self._no_grad.clear()
        else:
            self._no_grad.difference_update(self._local_keys(keys, "unfreeze", strict))
        return self

    def train(self, mode: bool = True) -> Module:
        """Set training mode on every module of the tree."""

        def one(_, m):
            object.__setattr__(m, "_training", mode)

        self.apply_to_modules(one)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``)."""
        return self.train(False)

    # --- weights files --------------------------------------------------------------------
    def load_weights(self, file_or_weights, strict: bool = True) -> Module:
        """Load parameters from a ``.safetensors`` / ``.npz`` file or a list of ``(name, array)``.

        With ``strict``, every parameter must be given, with its shape, and no other.
        """
        from ... import io

        weights = file_or_weights
        if isinstance(weights, str) or hasattr(weights, "__fspath__"):
            loaded = io.load(str(weights))
            weights = list(loaded.items()) if isinstance(loaded, dict) else loaded
        weights = list(weights)
        if strict:
            new = dict(weights)
            have = dict(tree_flatten(self.parameters()))
            extra = sorted(set(new) - set(have))
            missing = sorted(set(have) - set(new))
            if extra:
                raise ValueError(f"[load_weights] unexpected parameters: {', '.join(extra)}")
            if missing:
                raise ValueError(f"[load_weights] missing parameters: {', '.join(missing)}")
            for k, v in new.items():
                if not isinstance(v, _array):
                    raise ValueError(f"[load_weights] {k!r} is not an array")
                if tuple(v.shape) != tuple(have[k].shape):
                    raise ValueError(
                        f"[load_weights] {k!r} has shape {tuple(v.shape)}, the module "
                        f"expects {tuple(have[k].shape)}"
                    )
        if weights:
            self.update(tree_unflatten(weights), strict=strict)
        return self

    def save_weights(self, file: str) -> None:
        """Save the parameters to ``file`` (``.safetensors`` or ``.npz``)."""
        from ... import io

        weights = dict(tree_flatten(self.parameters()))
        name = str(file)
        if name.endswith(".npz"):
            io.savez(name, **weights)
        elif name.endswith(".safetensors"):
            io.save_safetensors(name, weights)
        else:
            raise ValueError(f"[save_weights] unknown format of {name!r}: use .safetensors or .npz")

    # --- printing ---------------------------------------------------------------------------
    def _extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = tree_flatten(self.children(), is_leaf=lambda x: isinstance(x, Module))
        head = f"{type(self).__name__}({self._extra_repr()}"
        if not children:
            return head + ")"
        body = "\n".join(f"({k}): {v!r}" for k, v in children)
        return head + "\n" + textwrap.indent(body, "  ") + "\n)"


def _has_module(tree) -> bool:
    if isinstance(tree, Module):
        return True
    if isinstance(tree, dict):
        return any(_has_module(v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return any(_has_module(v) for v in tree)
    return False


def _holds_array(tree) -> bool:
    if isinstance(tree, _array):
        return True
    if isinstance(tree, dict):
        return any(_holds_array(v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return any(_holds_array(v) for v in tree)
    return False


def _visit_value(path, value, fn):
    """Module._visit_modules below a module's entry (a function: no closure cycle)."""
    if isinstance(value, Module):
        value._visit_modules(path, fn)
    elif isinstance(value, dict):
        for k, v in value.items():
            _visit_value(f"{path}.{k}" if path else str(k), v, fn)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _visit_value(f"{path}.{i}" if path else str(i), v, fn)


def _update_from(dst, src, path, strict):
    """Module.update below the module (a function, not a closure: no reference cycle)."""
    if isinstance(src, dict):
        if not isinstance(dst, dict):
            raise ValueError(f"[Module.update] {path or 'the module'} is not a dict")
        for k, v in src.items():
            sub = f"{path}.{k}" if path else str(k)
            if k not in dst:
                if strict:
                    raise ValueError(f"[Module.update] the module has no parameter {sub!r}")
                continue
            cur = dst[k]
            if isinstance(v, _array):
                if strict and not isinstance(cur, _array):
                    raise ValueError(
                        f"[Module.update] {sub!r} holds {type(cur).__name__}, not an array"
                    )
                dst[k] = v
            else:
                _update_from(cur, v, sub, strict)
    elif isinstance(src, (list, tuple)):
        if not isinstance(dst, (list, tuple)):
            raise ValueError(f"[Module.update] {path!r} is not a list")
        if strict and len(src) > len(dst):
            raise ValueError(
                f"[Module.update] {path!r} has {len(dst)} entries, got {len(src)}"
            )
        for i, v in enumerate(src[: len(dst)]):
            sub = f"{path}.{i}"
            if isinstance(v, _array):
                if isinstance(dst, tuple):
                    raise ValueError(f"[Module.update] {path!r} is a tuple")
                dst[i] = v
            else:
                _update_from(dst[i], v, sub, strict)
    elif strict:
        kind = type(src).__name__
        raise ValueError(f"[Module.update] cannot update {path!r} from {kind}")
