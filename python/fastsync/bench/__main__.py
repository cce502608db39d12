"""``python -m fastsync.bench``: fastsync beside MLX, PyTorch and NumPy, in one process."""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import machine, report, runner
from .libs import ALL_LIBS, Unavailable, load
from .workloads import select


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m fastsync.bench",
        description="Measure fastsync beside MLX, PyTorch (eager) and NumPy in one process; "
        "print a table and write PREFIX.json, PREFIX.md and PREFIX.png.",
    )
    p.add_argument("--quick", action="store_true",
                   help="fewer samples and smaller op counts (a whole run in under a minute)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="run on the CPU (default) or the GPU; a library without a GPU is "
                   "skipped with a message")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only workloads whose name contains NAME (case-insensitive); "
                   "repeatable")
    p.add_argument("--out", default="bench-results", metavar="PREFIX",
                   help="output file prefix (default: bench-results)")
    p.add_argument("--libs", default=",".join(ALL_LIBS),
                   help=f"comma-separated libraries (default: {','.join(ALL_LIBS)}); "
                   "those not installed are skipped")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--same-process", action="store_true",
                   help="measure every library in this one process (by default each runs in "
                   "a fresh process of its own: side by side, their thread pools and exported "
                   "BLAS symbols disturb each other's figures)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    workloads = select(args.only)
    if args.list:
        for w in workloads:
            print(f"{w.name:38s} {w.unit:8s} {w.doc}")
        return 0
    if not workloads:
        print(f"no workload matches --only {args.only}", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.libs.split(",") if n.strip()]
    bad = [n for n in names if n not in ALL_LIBS]
    if bad:
        print(f"unknown library {', '.join(bad)}; choose from {', '.join(ALL_LIBS)}",
              file=sys.stderr)
        return 2
    libs, skipped = [], []
    # PyTorch is loaded first, before fastsync initializes CUDA (fastsync itself is already
    # imported: this is its package). An import of torch after fastsync's extension used to
    # crash in torch's operator registry, until the extension stopped exporting the symbols
    # of the static libraries it links (CMakeLists.txt); tests/test_interop.py checks the
    # order. Rows keep the order asked for.
    order = sorted(names, key=lambda n: n != "torch")
    loaded = {}
    for name in order:
        try:
            loaded[name] = load(name, args.device)
        except Unavailable as e:
            skipped.append(str(e))
            print(f"note: {e}", file=sys.stderr)
    libs = [loaded[n] for n in names if n in loaded]
    if not libs:
        # Asking for a GPU where none exists is not an error: say so and measure nothing.
        print(f"no library can run on the {args.device.upper()} here; nothing measured",
              file=sys.stderr)
        return 0 if args.device == "gpu" else 1
    args.loadavg = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.loadavg is not None and args.loadavg > 0.5 * (os.cpu_count() or 1):
        print(f"note: load average {args.loadavg:.2f} on {os.cpu_count()} CPUs: other "
              "processes compete for the cores, so timings (multi-threaded peers most of "
              "all) will be noisy", file=sys.stderr)
    args.gpu_others = machine.other_gpu_processes() if args.device == "gpu" else None
    if args.gpu_others:
        print(f"note: {len(args.gpu_others)} other process(es) use the GPU "
              f"({'; '.join(args.gpu_others[:4])}): the GPU time-slices between them, so a "
              "synchronization may wait milliseconds for another's slice; these timings do not "
              "measure the libraries", file=sys.stderr)
    print("libraries: " + ", ".join(f"{lib.name} {lib.version}" for lib in libs)
          + f"  (device {args.device}, {'quick' if args.quick else 'full'} run)")
    t0 = time.perf_counter()
    results = runner.run(
        workloads, libs, args.quick, show_progress=not args.no_progress,
        same_process=args.same_process,
    )
    elapsed = time.perf_counter() - t0
    lib_names = [lib.name for lib in libs]
    print()
    print(report.table(results, lib_names))
    print()
    print(report.LEGEND)
    for line in report.reasons(results):
        print(f"  n/a · {line}")
    info = report.meta(args, libs, skipped)
    info["elapsed_s"] = round(elapsed, 2)
    report.write_json(f"{args.out}.json", report.to_json(results, info))
    report.write_md(f"{args.out}.md", results, lib_names, info)
    written = [f"{args.out}.json", f"{args.out}.md"]
    note = report.write_png(f"{args.out}.png", results, lib_names)
    if note:
        print(f"note: {note}")
    else:
        written.append(f"{args.out}.png")
    print(f"\nmeasured in {elapsed:.1f} s; wrote {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
