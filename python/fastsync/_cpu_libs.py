"""Point the CPU backend at Intel MKL when PyPI's ``mkl`` wheel is installed.

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
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

_SONAMES = ("libmkl_rt.so.3", "libmkl_rt.so.2")


def find_mkl_dirs() -> list[str]:
    """The directories where a ``mkl`` wheel put libmkl_rt: the environment's, then the user's."""
    roots = [sys.prefix]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        roots.append(user_base)
    found = []
    for root in roots:
        d = Path(root) / "lib"
        if str(d) not in found and any((d / so).is_file() for so in _SONAMES):
            found.append(str(d))
    return found


def export_mkl_path() -> None:
    """Append the wheel's directory to ``FASTSYNC_MKL_PATH`` (directories set there come first)."""
    if not sys.platform.startswith("linux"):
        return
    os.environ.setdefault("KMP_BLOCKTIME", "1")
    current = [p for p in os.environ.get("FASTSYNC_MKL_PATH", "").split(os.pathsep) if p]
    extra = [d for d in find_mkl_dirs() if d not in current]
    if extra:
        os.environ["FASTSYNC_MKL_PATH"] = os.pathsep.join(current + extra)
