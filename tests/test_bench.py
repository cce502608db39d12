"""The comparison runner's pieces that decide what a reader sees: speed-ups (> 1 always means
fastsync is better), the progress output in a log, and the model rows on fastsync."""

import dataclasses
import io
import os
import subprocess
import time

import pytest
from fastsync.bench import machine, models, report
from fastsync.bench.libs import load
from fastsync.bench.runner import Progress, Result, Settings, _run_model, warm_device
from fastsync.bench.workloads import by_name


def cell(lib, value, better):
    return Result("row", "u", better, lib, "ok", samples=[value], number=1)


def test_speedup_is_above_one_when_fastsync_is_better_whatever_the_unit():
    # Lower is better (time, memory): fastsync 2 against a peer's 6 is 3x better.
    assert report.speedup(cell("fastsync", 2.0, "lower"), cell("mlx", 6.0, "lower")) == 3.0
    # Higher is better (throughput): fastsync 6 against 2 is 3x better.
    assert report.speedup(cell("fastsync", 6.0, "higher"), cell("mlx", 2.0, "higher")) == 3.0
    assert report.speedup(cell("fastsync", 6.0, "lower"), cell("mlx", 2.0, "lower")) < 1
    failed = Result("row", "u", "lower", "mlx", "error", "boom")
    assert report.speedup(cell("fastsync", 1.0, "lower"), failed) is None
    table = report.table([cell("fastsync", 2.0, "lower"), cell("torch", 5.0, "lower")],
                         ["fastsync", "torch"])  # fmt: skip
    assert "vs torch" in table and "2.50x" in table


def test_progress_in_a_log_writes_one_line_per_finished_row():
    out = io.StringIO()  # not a terminal
    p = Progress(3, stream=out)
    p.update("a [fastsync] warm-up")
    p.update("a [fastsync] done", advance=1)
    p.update("b [fastsync] done", advance=1)
    p.close()
    text = out.getvalue()
    assert "\r" not in text
    assert text.count("\n") == 2 and "[2/3]" in text and "b [fastsync] done" in text


def test_other_gpu_processes_are_named_and_this_one_is_not(monkeypatch):
    """A GPU shared with another process time-slices: the runner names the others (from
    nvidia-smi) before it measures, and says nothing when it cannot tell."""
    monkeypatch.setattr(machine.shutil, "which", lambda name: "/usr/bin/" + name)
    me = os.getpid()

    def smi(stdout, returncode=0):
        return lambda cmd, **kw: subprocess.CompletedProcess(cmd, returncode, stdout, "")

    listing = f"{me}, python3\n4242, /usr/bin/python3 -m pytest\n[N/A], [N/A]\n"
    assert machine.other_gpu_processes(smi(listing)) == ["4242 /usr/bin/python3 -m pytest"]
    assert machine.other_gpu_processes(smi(f"{me}, python3\n")) == []
    assert machine.other_gpu_processes(smi("", returncode=9)) is None

    def broken(cmd, **kw):
        raise subprocess.TimeoutExpired(cmd, 20)

    assert machine.other_gpu_processes(broken) is None
    monkeypatch.setattr(machine.shutil, "which", lambda name: None)
    assert machine.other_gpu_processes(smi(listing)) is None


@pytest.mark.parametrize("task", ["generate", "train"])
def test_model_rows_on_fastsync(task):
    import fastsync as mx

    before = mx.default_device()
    lib = load("fastsync", "cpu")  # makes the CPU the default device, as a bench run does
    try:
        w = by_name(f"model.{task}")
        rows = _run_model(w, lib, True, Settings.for_run(True), None)
    finally:
        mx.set_default_device(before)
    names = [r.workload for r in rows]
    assert names == [f"model.{task} {fig}" for fig, _, _ in models.METRICS[task]]
    for r in rows:
        assert r.ok and r.median > 0, (r.workload, r.status, r.reason)
    assert rows[0].params["layers"] == models.SHAPES["cpu"][task]["layers"]


def test_model_generation_is_deterministic_for_a_seed():
    import fastsync as mx
    import fastsync.nn as nn

    cfg = models.shapes("generate", "cpu", quick=True)
    a = models.generate_runner(mx, nn, cfg, seed=3)()
    b = models.generate_runner(mx, nn, cfg, seed=3)()
    assert a["tokens"] == b["tokens"] and len(a["tokens"]) == cfg["tokens"]


def test_each_library_runs_in_a_process_of_its_own():
    # Two libraries: each is measured in a child process, and the rows come back in the
    # table's order (row by row, libraries in the order asked for), a ratio row included.
    import fastsync as mx
    from fastsync.bench import runner
    from fastsync.bench.workloads import select

    before = mx.default_device()
    try:
        libs = [load("fastsync"), load("numpy")]  # loading makes the CPU the default device
        rows = select(["a.roundtrip eval", "c.cross-stream hop/one"])
        results = runner.run(rows, libs, quick=True, show_progress=False)
    finally:
        mx.set_default_device(before)
    got = [(r.workload, r.lib) for r in results]
    names = [w.name for w in rows]
    assert got == sorted(got, key=lambda c: (names.index(c[0]), c[1] != "fastsync"))
    assert {lib for _, lib in got} == {"fastsync", "numpy"}
    ok = [r for r in results if r.lib == "fastsync"]
    assert ok and all(r.status == "ok" and r.samples for r in ok)
    assert not runner._IN_CHILD  # this process measured nothing itself


def test_a_gpu_library_is_warmed_before_its_first_row():
    """warm_device runs round trips for the time given on a GPU library, and nothing on a
    CPU one."""
    import fastsync as mx

    before = mx.default_device()
    try:
        cpu = load("fastsync", "cpu")  # makes the CPU the default device
    finally:
        mx.set_default_device(before)
    calls = []

    class Counting:  # the namespace seen by the round-trip workload
        float32 = None

        def array(self, v, dtype=None):
            return v

        def eval(self, *a):
            calls.append(1)

    warm_device(cpu, 0.05)
    assert calls == []
    gpu = dataclasses.replace(cpu, ns=Counting(), device="gpu")
    t0 = time.perf_counter()
    warm_device(gpu, 0.05)
    assert time.perf_counter() - t0 >= 0.05 and len(calls) > 10
