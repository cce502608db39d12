"""Loading the libraries under comparison as ``mx``-style namespaces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Every library the runner knows, in table order. fastsync is always the first column.
ALL_LIBS = ("fastsync", "mlx", "torch", "numpy")


@dataclass
class Lib:
    """One library, ready to run workloads on one device."""

    name: str
    ns: Any  # the mx-style namespace the workloads receive
    version: str
    device: str  # "cpu" or "gpu"
    dev: Any  # the namespace's device object, passed to new_stream
    lazy: bool  # False for eager libraries (eval is a no-op there)
    get_peak: Callable[[], int] | None = None
    reset_peak: Callable[[], None] | None = None
    notes: list[str] = field(default_factory=list)


class Unavailable(Exception):
    """The library cannot run here (not installed, or no such device)."""


def _memory_funcs(ns) -> tuple[Callable | None, Callable | None]:
    # mlx >= 0.2x has mx.get_peak_memory; older releases only had mx.metal.get_peak_memory.
    for holder in (ns, getattr(ns, "metal", None)):
        if holder is not None and hasattr(holder, "get_peak_memory"):
            return holder.get_peak_memory, getattr(holder, "reset_peak_memory", None)
    return None, None


def _load_mx_like(name: str, module: str, device: str) -> Lib:
    import importlib

    try:
        ns = importlib.import_module(module)
    except ImportError as e:
        raise Unavailable(f"{name}: cannot import {module} ({e})") from e
    if name == "fastsync":
        version = getattr(ns, "__version__", "?")
    else:
        version = getattr(ns, "__version__", None) or _dist_version("mlx")
    dev = ns.gpu if device == "gpu" else ns.cpu
    if not ns.is_available(dev):
        raise Unavailable(
            f"{name}: no {device.upper()} (mx.is_available(mx.{device}) is False); skipped"
        )
    ns.set_default_device(dev)
    get_peak, reset_peak = _memory_funcs(ns)
    return Lib(name, ns, version, device, dev, True, get_peak, reset_peak)


def _dist_version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


def load(name: str, device: str = "cpu") -> Lib:
    """Return the library ``name`` on ``device`` or raise :class:`Unavailable`."""
    if name == "fastsync":
        return _load_mx_like("fastsync", "fastsync", device)
    if name == "mlx":
        return _load_mx_like("mlx", "mlx.core", device)
    if name == "torch":
        try:
            import torch
        except ImportError as e:
            raise Unavailable(f"torch: cannot import torch ({e})") from e
        if device == "gpu" and not torch.cuda.is_available():
            raise Unavailable("torch: no GPU (torch.cuda.is_available() is False); skipped")
        from .adapters import TorchNamespace

        ns = TorchNamespace("cuda" if device == "gpu" else "cpu")
        lib = Lib("torch", ns, torch.__version__, device, ns.gpu if device == "gpu" else ns.cpu,
                  False, getattr(ns, "get_peak_memory", None),
                  getattr(ns, "reset_peak_memory", None))
        lib.notes.append(f"eager; eval is a no-op on CPU; {torch.get_num_threads()} threads")
        return lib
    if name == "numpy":
        try:
            import numpy
        except ImportError as e:
            raise Unavailable(f"numpy: cannot import numpy ({e})") from e
        if device != "cpu":
            raise Unavailable("numpy: CPU only; skipped for --device gpu")
        from .adapters import NumpyNamespace

        ns = NumpyNamespace()
        lib = Lib("numpy", ns, numpy.__version__, "cpu", "cpu", False)
        lib.notes.append("eager; eval is a no-op")
        return lib
    raise ValueError(f"unknown library {name!r}; choose from {', '.join(ALL_LIBS)}")


def has_feature(ns, feature: str) -> bool:
    """``feature`` is a dotted attribute path such as ``"matmul"`` or ``"random.uniform"``."""
    obj = ns
    for part in feature.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True
