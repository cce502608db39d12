"""Measuring: warm-ups, calibrated repeated samples, memory probes, a progress bar."""

from __future__ import annotations

import ctypes
import gc
import math
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field

from .models import METRICS, runner_for, shapes
from .workloads import MIB, Workload, missing, prepare


@dataclass(frozen=True)
class Settings:
    """How long to measure. ``quick`` keeps a whole run with every library under a minute."""

    warmup_s: float  # minimum time spent in warm-up calls (at least one call)
    sample_s: float  # calls are batched so that one sample lasts at least this long
    repeats: int  # samples per row
    min_repeats: int  # samples kept even when a row is slow
    budget_s: float  # rough cap on the sampling time of one (row, library)
    memory_repeats: int  # runs of a memory workload
    single_s: float  # a row whose one call takes longer is measured by that one call alone
    model_repeats: int  # measured runs of a model workload (after one warm-up run)

    @staticmethod
    def for_run(quick: bool) -> Settings:
        if quick:
            return Settings(0.02, 0.01, 7, 3, 0.4, 1, 1.0, 1)
        return Settings(0.2, 0.05, 21, 5, 6.0, 1, math.inf, 3)


@dataclass
class Result:
    """One (row, library) cell."""

    workload: str
    unit: str
    better: str
    lib: str
    status: str  # "ok", "n/a", "error", "skipped"
    reason: str = ""
    samples: list[float] = field(default_factory=list)  # in ``unit``
    number: int = 0  # calls per sample
    params: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.samples)

    def stats(self) -> dict:
        if not self.ok:
            return {}
        s = sorted(self.samples)
        if len(s) >= 2:
            q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
        else:
            q1 = q3 = s[0]
        return {
            "median": statistics.median(s),
            "q1": q1,
            "q3": q3,
            "min": s[0],
            "max": s[-1],
            "n": len(s),
        }

    @property
    def median(self) -> float | None:
        return self.stats().get("median")


class Progress:
    """Progress on stderr: a live tqdm bar on a terminal; elsewhere (a log file, CI) one line
    per finished workload and library, so a log gets no carriage-return redraws."""

    def __init__(self, total: int, stream=None):
        self.total, self.done = max(total, 1), 0
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.bar = None
        if getattr(self.stream, "isatty", lambda: False)():
            try:
                from tqdm import tqdm
            except ImportError:  # the bench extra brings tqdm; without it, plain lines
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=self.total, file=self.stream, dynamic_ncols=True,
                                leave=False, unit="row")  # fmt: skip

    def update(self, label: str, advance: int = 0) -> None:
        if self.bar is not None:
            self.bar.set_description_str(label[:70], refresh=False)
            if advance:
                self.bar.update(advance)
            else:
                self.bar.refresh()
            return
        if advance:
            self.done += advance
            elapsed = time.perf_counter() - self.t0
            self.stream.write(f"[{self.done}/{self.total}] {elapsed:6.1f}s {label}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- timing ---------------------------------------------------------------------------------


def _sample(step, number: int) -> float:
    """Seconds per call, over ``number`` calls, with the garbage collector paused."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            step()
        return (time.perf_counter() - t0) / number
    finally:
        if gc_was:
            gc.enable()


def warm_up(step, settings: Settings) -> tuple[float, int, list[float]]:
    """Call ``step`` at least once and for at least ``warmup_s``; return (s per call, number,
    call times) where ``number`` makes one sample last at least ``sample_s``."""
    times: list[float] = []
    t0 = time.perf_counter()
    while True:
        t = time.perf_counter()
        step()
        now = time.perf_counter()
        times.append(now - t)
        if now - t0 >= settings.warmup_s or now - t0 > settings.single_s:
            break
    # The first call carries one-time costs: estimate from the later ones when there are any.
    per_call = min(times[1:]) if len(times) > 1 else times[0]
    number = max(1, math.ceil(settings.sample_s / max(per_call, 1e-9)))
    return per_call, number, times


def repeats_for(per_call: float, number: int, settings: Settings) -> int:
    per_sample = per_call * number
    fit = int(settings.budget_s / max(per_sample, 1e-9))
    return max(settings.min_repeats, min(settings.repeats, fit))


# -- memory ---------------------------------------------------------------------------------


def _reset_rss_peak() -> bool:
    """Reset the process's RSS high-water mark (Linux >= 4.0, ``clear_refs`` 5) so that
    ``getrusage`` reports the peak of what follows rather than of the whole process."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_mib() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / MIB  # KiB on Linux, bytes on macOS


def release_caches(lib) -> None:
    """Free what earlier work left cached, so the RSS baseline is live memory only: the
    library's buffer cache (``clear_cache``) and glibc's free heap (``malloc_trim``)."""
    gc.collect()
    for holder in (lib.ns, getattr(lib.ns, "metal", None)):
        if holder is not None and hasattr(holder, "clear_cache"):
            holder.clear_cache()
            break
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def measure_memory(lib, step) -> dict:
    """Run ``step`` once; return peak allocator memory and the max-RSS delta, in MiB."""
    release_caches(lib)
    if lib.reset_peak is not None:
        lib.reset_peak()
    exact = _reset_rss_peak()
    rss0 = _maxrss_mib()
    t0 = time.perf_counter()
    out = step()
    seconds = time.perf_counter() - t0
    rss = _maxrss_mib() - rss0
    peak = lib.get_peak() / MIB if lib.get_peak is not None else None
    del out
    return {
        "peak_mib": peak,
        "rss_delta_mib": rss,
        "seconds": seconds,
        "rss_method": "getrusage ru_maxrss delta after resetting the high-water mark"
        if exact
        else "getrusage ru_maxrss delta (high-water mark not resettable: "
        "a lower bound when an earlier peak was higher)",
    }


# -- the run --------------------------------------------------------------------------------


def _groups(workloads: list[Workload]) -> list[list[Workload]]:
    groups: dict[str, list[Workload]] = {}
    for w in workloads:
        groups.setdefault(w.group or w.name, []).append(w)
    return list(groups.values())


def _na(w: Workload, lib_name: str, status: str, reason: str, params=None) -> list[Result]:
    if w.kind == "model":
        return [
            Result(f"{w.name} {fig}", unit, better, lib_name, status, reason, params=params or {})
            for fig, unit, better in METRICS[w.params["task"]]
        ]
    if w.kind == "memory":
        return [
            Result(f"{w.name} {sfx}", "MiB", "lower", lib_name, status, reason, params=params or {})
            for sfx in ("peak", "RSS delta")
        ]
    return [Result(w.name, w.unit, w.better, lib_name, status, reason, params=params or {})]


def _run_memory(w: Workload, lib, quick: bool, settings: Settings) -> list[Result]:
    params = w.resolved(quick)
    step = prepare(lib, w, quick)
    runs = [measure_memory(lib, step) for _ in range(settings.memory_repeats)]
    gen_note = (
        "mx.random.uniform" if params.get("gen") == "uniform" else "mx.full with a varying scalar"
    )
    extra = {
        "generator": gen_note,
        "seconds": [r["seconds"] for r in runs],
        "rss_method": runs[0]["rss_method"],
    }
    peak = Result(
        f"{w.name} peak",
        "MiB",
        "lower",
        lib.name,
        "ok",
        params=params,
        extra=dict(extra, source="get_peak_memory after reset_peak_memory"),
    )
    if runs[0]["peak_mib"] is None:
        peak.status = "n/a"
        peak.reason = f"not implemented: {lib.name} has no peak-memory counter on {lib.device}"
    else:
        peak.samples = [r["peak_mib"] for r in runs]
        peak.number = 1
    rss = Result(
        f"{w.name} RSS delta",
        "MiB",
        "lower",
        lib.name,
        "ok",
        params=params,
        extra=extra,
        samples=[r["rss_delta_mib"] for r in runs],
        number=1,
    )
    return [peak, rss]


def _model_runs(task: str, lib_name: str, device: str, quick: bool, repeats: int) -> list[dict]:
    """A model workload's runs, in the process that calls it: a short warm-up run
    (compiles, allocator growth), then ``repeats`` measured runs, each with the garbage
    collector paused (and run between them), as for the other rows."""
    from . import libs

    lib = libs.load(lib_name, device)
    run = runner_for(task, lib, quick)
    runs = []
    for i in range(repeats + 1):
        gc_was = gc.isenabled()
        gc.disable()
        try:
            r = run(warm=i == 0)
        finally:
            if gc_was:
                gc.enable()
        if i:
            runs.append({k: v for k, v in r.items() if k != "tokens"})
        gc.collect()
    return runs


def _run_model(
    w: Workload, lib, quick: bool, settings: Settings, progress: Progress | None
) -> list[Result]:
    """A model workload, measured in a fresh process of its own per library: the libraries
    the runner has loaded beside it change the figures (on the CPU, PyTorch's OpenMP threads
    and its copy of MKL halve fastsync's decoding speed; on the GPU every library decodes
    slower in a process shared with the others), and a user runs one of them at a time."""
    import concurrent.futures as cf
    import multiprocessing as mp

    task = w.params["task"]
    params = dict(shapes(task, lib.device, quick), task=task)
    if progress:
        progress.update(f"{w.name} [{lib.name}] in its own process")
    args = (task, lib.name, lib.device, quick, settings.model_repeats)
    if _IN_CHILD:  # already a process of this library's own
        runs = _model_runs(*args)
    else:
        with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
            runs = pool.submit(_model_runs, *args).result()
    out = []
    for fig, unit, better in METRICS[task]:
        res = Result(f"{w.name} {fig}", unit, better, lib.name, "ok", params=params, number=1)
        values = [r.get(fig) for r in runs]
        if any(v is None for v in values):
            res.status = "n/a"
            res.reason = f"not implemented: {lib.name} has no peak-memory counter on {lib.device}"
        else:
            res.samples = values
        out.append(res)
    return out


def run_group(
    group: list[Workload], lib, quick: bool, settings: Settings, progress: Progress | None = None
) -> list[Result]:
    """Measure one group of rows on one library; the rows of a group are sampled round-robin
    so that they see the same machine state."""
    results: dict[str, list[Result]] = {}
    raw: dict[str, list[float]] = {}
    timed: list[tuple[Workload, object, int, int, Result]] = []
    for w in group:
        params = w.resolved(quick)
        reason = missing(lib, w)
        if reason:
            status = "n/a" if reason.startswith("not implemented") else "not-peer"
            results[w.name] = _na(w, lib.name, status, reason, params)
            continue
        if w.kind == "ratio":
            continue
        try:
            if w.kind == "model":
                results[w.name] = _run_model(w, lib, quick, settings, progress)
                continue
            if w.kind == "memory":
                if progress:
                    progress.update(f"{w.name} [{lib.name}]")
                results[w.name] = _run_memory(w, lib, quick, settings)
                continue
            step = prepare(lib, w, quick)
            if progress:
                progress.update(f"{w.name} [{lib.name}] warm-up")
            per_call, number, calls = warm_up(step, settings)
        except Exception as e:  # a failing library must not stop the run
            results[w.name] = _na(w, lib.name, "error", f"{type(e).__name__}: {e}", params)
            continue
        res = Result(w.name, w.unit, w.better, lib.name, "ok", number=number, params=params)
        results[w.name] = [res]
        if len(calls) == 1 and calls[0] > settings.single_s:
            # --quick: one call takes seconds; that (first) call is the only sample.
            res.samples = [w.convert(calls[0], params)]
            res.extra["note"] = "quick run: a single call, the first one (one-time costs in)"
            raw[w.name] = [calls[0]]
            continue
        timed.append((w, step, number, repeats_for(per_call, number, settings), res))
    rounds = max((t[3] for t in timed), default=0)
    for i in range(rounds):
        for w, step, number, reps, res in timed:
            if i >= reps or res.status != "ok":
                continue
            if progress:
                progress.update(f"{w.name} [{lib.name}] {i + 1}/{reps}")
            try:
                sec = _sample(step, number)
            except Exception as e:
                res.status, res.reason = "error", f"{type(e).__name__}: {e}"
                continue
            raw.setdefault(w.name, []).append(sec)
            res.samples.append(w.convert(sec, res.params))
    for w in group:
        if w.kind != "ratio" or w.name in results:
            continue
        num, den = (raw.get(n, []) for n in w.ratio_of)
        res = Result(
            w.name,
            w.unit,
            w.better,
            lib.name,
            "ok",
            params=w.resolved(quick),
            extra={"computed_from": list(w.ratio_of), "pairing": "sample i / sample i"},
        )
        pairs = list(zip(num, den, strict=False))
        if not pairs:
            res.status, res.reason = "error", "its input rows produced no samples"
        res.samples = [a / b for a, b in pairs]
        results[w.name] = [res]
    return [r for w in group for r in results.get(w.name, [])]


def warm_device(lib, seconds: float = 0.3) -> None:
    """Round trips on ``lib``'s GPU for ``seconds`` before its first row. A GPU that sat idle
    runs its first few hundred milliseconds of work at low clocks: without this, the library
    measured first paid for it in its first rows (fastsync's ``eval(x + 1)`` on an H100:
    10.4 µs in a warm loop, 12-21 µs with a ±60 % spread as the quick run's first row), and
    a library measured after another found the GPU already awake."""
    if lib.device != "gpu":
        return
    from .workloads import roundtrip_eval

    try:
        step = roundtrip_eval(lib.ns, lib.dev)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            step()
    except Exception:  # the rows report a library that cannot run
        pass


def _run_in_process(
    workloads: list[Workload], libs: list, quick: bool, progress: Progress | None
) -> list[Result]:
    settings = Settings.for_run(quick)
    results: list[Result] = []
    for lib in libs:
        warm_device(lib)
    for group in _groups(workloads):
        for lib in libs:
            results += run_group(group, lib, quick, settings, progress)
            if progress:
                progress.update(f"{group[0].name} [{lib.name}] done", advance=1)
    return results


def _library_child(names: list[str], lib_name: str, device: str, quick: bool) -> list[Result]:
    """Every row of ``names`` on one library, in the child process that calls it."""
    from . import libs as _libs
    from .workloads import WORKLOADS

    global _IN_CHILD
    _IN_CHILD = True
    wanted = set(names)
    lib = _libs.load(lib_name, device)
    return _run_in_process([w for w in WORKLOADS if w.name in wanted], [lib], quick, None)


#: True in a child process that measures one library (its model rows need no further one).
_IN_CHILD = False


def run(
    workloads: list[Workload],
    libs: list,
    quick: bool,
    show_progress: bool = True,
    same_process: bool = False,
) -> list[Result]:
    """Every row on every library. Unless ``same_process``, each library is measured in a
    fresh process of its own, one library after the other: libraries loaded side by side
    disturb each other's figures (PyTorch's and MKL's OpenMP threads keep spinning after
    their own work and take the cores another library's pool needs; PyTorch's libtorch_cpu
    exports MKL's BLAS and LAPACK symbols, which a library whose BLAS binds lazily can end up
    calling), and a user runs one of them at a time."""
    groups = _groups(workloads)
    progress = Progress(len(groups) * len(libs)) if show_progress else None
    try:
        if same_process or len(libs) < 2:
            return _run_in_process(workloads, libs, quick, progress)
        import concurrent.futures as cf
        import multiprocessing as mp

        names = [w.name for w in workloads]
        by_lib: dict[str, list[Result]] = {}
        for lib in libs:
            if progress:
                progress.update(f"[{lib.name}] in its own process")
            try:
                with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
                    by_lib[lib.name] = pool.submit(
                        _library_child, names, lib.name, lib.device, quick
                    ).result()
            except Exception as e:  # noqa: BLE001 - a crashed child is reported per row
                why = f"its process failed: {type(e).__name__}: {e}"[:200]
                by_lib[lib.name] = [
                    r for w in workloads if w.kind != "ratio" for r in _na(w, lib.name, "n/a", why)
                ]
            if progress:
                progress.update(f"[{lib.name}] done", advance=len(groups))
        # The table's order: row by row, the libraries in the order asked for.
        order = {n: i for i, n in enumerate(names)}
        cells = [(lib_i, r) for lib_i, lib in enumerate(libs) for r in by_lib[lib.name]]
        cells.sort(key=lambda c: (order.get(_base_name(c[1].workload, order), len(order)), c[0]))
        return [r for _, r in cells]
    finally:
        if progress:
            progress.close()


def _base_name(result_name: str, order: dict[str, int]) -> str:
    """The workload a result belongs to (model rows append their figure's name)."""
    if result_name in order:
        return result_name
    return max((n for n in order if result_name.startswith(n)), key=len, default=result_name)
