"""Benchmarks: fastsync beside MLX, PyTorch and NumPy, in one process.

Run ``python -m fastsync.bench --help``. The pieces:

* :mod:`~fastsync.bench.workloads` -- the workloads, written once against an ``mx``-style
  namespace, and the registry :data:`~fastsync.bench.workloads.WORKLOADS`;
* :mod:`~fastsync.bench.adapters` -- ``mx``-style namespaces over PyTorch and NumPy;
* :mod:`~fastsync.bench.libs` -- loading each library on a device;
* :mod:`~fastsync.bench.runner` -- warm-ups, repeated samples, memory probes, progress bar;
* :mod:`~fastsync.bench.report` -- table, JSON, Markdown and PNG output.

The pytest-benchmark suites in the repository's ``bench/`` folder reuse these workloads.
"""

from .libs import ALL_LIBS, Lib, Unavailable, load
from .workloads import WORKLOADS, Workload, by_name, missing, prepare, select

__all__ = ["ALL_LIBS", "Lib", "Unavailable", "WORKLOADS", "Workload", "by_name", "load",
           "missing", "prepare", "select"]
