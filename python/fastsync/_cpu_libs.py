"""Point the CPU backend at Intel MKL and oneDNN when PyPI's wheels of them are installed.

The CPU matrix products call OpenBLAS (linked) or MKL (loaded at run time, see
src/backend/cpu/blas.h; ``FASTSYNC_BLAS`` chooses). The ``mkl`` wheel, which
``pip install fastsync[mkl]`` brings, unpacks ``libmkl_rt.so.3`` into the
environment's ``lib`` directory, off the loader's path. ``export_mkl_path()``
names that directory in ``FASTSYNC_MKL_PATH``; nothing is loaded until the first
CPU product. ``fastsync.device_info(fastsync.cpu)["blas"]`` says which BLAS runs.

MKL threads through Intel's OpenMP, whose threads spin for 200 ms after each product by
default, taking the cores from fastsync's own kernel threads in between (a fifth of a
2-core training step went to that spin). Unless ``KMP_BLOCKTIME`` is set already,
``export_mkl_path()`` sets it to 1 ms, before MKL (and its OpenMP) is loaded.

oneDNN (PyPI's ``onednn-cpu-gomp``, a dependency on x86-64 Linux) runs the float32 CPU
convolutions (src/backend/cpu/onednn.h); its wheel puts ``libdnnl.so.3`` in the same
``lib`` directory, which ``export_onednn_path()`` names in ``FASTSYNC_ONEDNN_PATH``.
``fastsync.device_info(fastsync.cpu)["convolution"]`` says whether it runs.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

_SONAMES = ("libmkl_rt.so.3", "libmkl_rt.so.2")


def _lib_dirs_with(sonames) -> list[str]:
    """The ``lib`` directories holding one of ``sonames``: the environment's, then the user's."""
    roots = [sys.prefix]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        roots.append(user_base)
    found = []
    for root in roots:
        d = Path(root) / "lib"
        if str(d) not in found and any((d / so).is_file() for so in sonames):
            found.append(str(d))
    return found


def find_mkl_dirs() -> list[str]:
    """The directories where a ``mkl`` wheel put libmkl_rt: the environment's, then the user's."""
    return _lib_dirs_with(_SONAMES)


def _append_path(var: str, dirs: list[str]) -> None:
    current = [p for p in os.environ.get(var, "").split(os.pathsep) if p]
    extra = [d for d in dirs if d not in current]
    if extra:
        os.environ[var] = os.pathsep.join(current + extra)


def export_mkl_path() -> None:
    """Append the wheel's directory to ``FASTSYNC_MKL_PATH`` (directories set there come first)."""
    if not sys.platform.startswith("linux"):
        return
    os.environ.setdefault("KMP_BLOCKTIME", "1")
    _append_path("FASTSYNC_MKL_PATH", find_mkl_dirs())


def export_onednn_path() -> None:
    """Append the ``onednn-cpu-gomp`` wheel's directory to ``FASTSYNC_ONEDNN_PATH``."""
    if sys.platform.startswith("linux"):
        _append_path("FASTSYNC_ONEDNN_PATH", _lib_dirs_with(("libdnnl.so.3",)))
