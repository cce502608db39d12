"""Helpers for the pytest-benchmark suites in the repository's ``bench/`` folder.

They take pytest-benchmark's ``benchmark`` fixture and a prepared row; they live here rather
than in ``bench/conftest.py`` so the suites import them by a stable module name.
"""

from __future__ import annotations

from .runner import measure_memory
from .workloads import WORKLOADS


def row_names(prefix: str) -> list[str]:
    """Registry rows whose name starts with ``prefix`` (ratio rows left out)."""
    return [w.name for w in WORKLOADS if w.name.startswith(prefix) and w.kind != "ratio"]


def time_row(bench, lib, made, heavy: bool = False) -> None:
    """Benchmark one prepared row; record the library and the value in the row's unit."""
    w, params, step = made
    bench.group = w.name
    bench.extra_info.update(lib=lib.name, version=lib.version, unit=w.unit, params=params)
    if heavy:
        bench.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    else:
        bench(step)
    stats = getattr(bench, "stats", None)
    if stats is not None and w.convert is not None:
        bench.extra_info[f"median ({w.unit})"] = w.convert(stats.stats.median, params)


def memory_row(bench, lib, made) -> None:
    """One run of a memory workload; peak memory and RSS delta go to ``extra_info``."""
    w, params, step = made
    info: dict = {}

    def once():
        info.update(measure_memory(lib, step))

    bench.group = w.name
    bench.pedantic(once, rounds=1, iterations=1)
    bench.extra_info.update(lib=lib.name, version=lib.version, params=params,
                            peak_mib=info.get("peak_mib"),
                            rss_delta_mib=info.get("rss_delta_mib"),
                            rss_method=info.get("rss_method"))
