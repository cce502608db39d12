"""pytest-benchmark suites over the workloads of ``fastsync.bench``.

Run ``pytest bench/ --benchmark-only``. The repository's normal test run (testpaths =
tests) never collects this folder. Without pytest-benchmark every test here skips cleanly.

Options: ``--bench-device cpu|gpu`` (default cpu), ``--bench-full`` (the full-run sizes of
``python -m fastsync.bench`` instead of its ``--quick`` sizes).
"""

from __future__ import annotations

import os
import sys

import pytest

try:
    import fastsync.bench as fb
except ImportError:  # run from a checkout without PYTHONPATH=python
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "python"))
    import fastsync.bench as fb


def pytest_addoption(parser, pluginmanager):
    group = parser.getgroup("fastsync-bench")
    group.addoption("--bench-device", default="cpu", choices=("cpu", "gpu"),
                    help="device for the bench/ suites (default cpu)")
    group.addoption("--bench-full", action="store_true", default=False,
                    help="use the full-run workload sizes instead of the --quick ones")
    if not _have_benchmark(pluginmanager):
        # Accept pytest-benchmark's usual flags so that the run reaches the clean skips.
        for flag in ("--benchmark-only", "--benchmark-disable", "--benchmark-skip"):
            group.addoption(flag, action="store_true", default=False,
                            help="(pytest-benchmark is not installed: ignored)")


def _have_benchmark(pluginmanager) -> bool:
    return pluginmanager.hasplugin("benchmark") or pluginmanager.hasplugin(
        "pytest_benchmark.plugin")


def pytest_generate_tests(metafunc):
    if "lib_name" in metafunc.fixturenames:
        metafunc.parametrize("lib_name", fb.ALL_LIBS)


_LIBS: dict[tuple[str, str], object] = {}


@pytest.fixture
def lib(request, lib_name):
    """The library under test (a :class:`fastsync.bench.Lib`); skips when unavailable."""
    device = request.config.getoption("--bench-device")
    key = (lib_name, device)
    if key not in _LIBS:
        try:
            _LIBS[key] = fb.load(lib_name, device)
        except fb.Unavailable as e:
            _LIBS[key] = str(e)
    got = _LIBS[key]
    if isinstance(got, str):
        pytest.skip(got)
    if hasattr(got.ns, "set_default_device"):
        got.ns.set_default_device(got.dev)
    return got


class _NoBenchmark:
    """Stands in for pytest-benchmark when it is absent: ``benchmark`` skips the test."""

    @pytest.fixture
    def benchmark(self):
        pytest.skip("pytest-benchmark is not installed or disabled (pip install '.[bench]')")


def pytest_configure(config):
    if not _have_benchmark(config.pluginmanager):
        config.pluginmanager.register(_NoBenchmark(), "fastsync-bench-no-benchmark")


@pytest.fixture
def prepared(request, lib):
    """``prepared(workload_name) -> (workload, params, step)``; skips rows that are n/a."""
    quick = not request.config.getoption("--bench-full")

    def make(name):
        w = fb.by_name(name)
        try:
            step = fb.prepare(lib, w, quick)
        except LookupError as e:
            pytest.skip(str(e))
        return w, w.resolved(quick), step

    return make
