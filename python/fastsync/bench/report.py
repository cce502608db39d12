"""Turning results into the console table, ``.json``, ``.md`` and ``.png`` files."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone

from .runner import Result

BASE = "fastsync"


def fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def _rows(results: list[Result]) -> list[str]:
    seen: dict[str, None] = {}
    for r in results:
        seen.setdefault(r.workload, None)
    return list(seen)


def _index(results: list[Result]) -> dict[tuple[str, str], Result]:
    return {(r.workload, r.lib): r for r in results}


def speedup(base: Result | None, peer: Result | None) -> float | None:
    """How many times better fastsync is than the peer, from the medians: peer / fastsync
    for a lower-is-better row (time, memory), fastsync / peer for a higher-is-better one
    (throughput). > 1 always means fastsync is better."""
    if base is None or peer is None or not base.ok or not peer.ok:
        return None
    if not base.median or not peer.median:
        return None
    if base.better == "lower":
        return peer.median / base.median
    return base.median / peer.median


def _cell(r: Result | None, style: str) -> str:
    if r is None:
        return "-"
    if not r.ok:
        return {"n/a": "n/a", "error": "error", "not-peer": "-"}.get(r.status, r.status)
    st = r.stats()
    if style == "md":
        if st["n"] < 2:
            return fmt(st["median"])
        return f"{fmt(st['median'])} ({fmt(st['q1'])}–{fmt(st['q3'])})"
    spread = (st["q3"] - st["q1"]) / 2 / st["median"] * 100 if st["median"] else 0.0
    return f"{fmt(st['median'])} ±{spread:.0f}%" if st["n"] >= 2 else fmt(st["median"])


def _unit(r: Result) -> str:
    return f"{r.unit} {'↓' if r.better == 'lower' else '↑'}"


def table(results: list[Result], libs: list[str], style: str = "text") -> str:
    """The comparison table: a value column per library, then fastsync's speed-up over each
    peer (> 1: fastsync is better)."""
    idx = _index(results)
    peers = [lib for lib in libs if lib != BASE] if BASE in libs else []
    header = ["workload", "unit", *libs, *[f"vs {p}" for p in peers]]
    body = []
    for row in _rows(results):
        any_r = next(r for r in results if r.workload == row)
        cells = [row, _unit(any_r)]
        cells += [_cell(idx.get((row, lib)), style) for lib in libs]
        for p in peers:
            peer = idx.get((row, p))
            rt = speedup(idx.get((row, BASE)), peer)
            if rt is not None:
                cells.append(f"{rt:.2f}x")
            else:
                cells.append("-" if peer is None or peer.status == "not-peer" else "n/a")
        body.append(cells)
    if style == "md":
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|",
        ]
        lines += ["| " + " | ".join(c) + " |" for c in body]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]

    def line(cells):
        return "  ".join(
            c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(cells)
        )

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in body]
    return "\n".join(out)


def reasons(results: list[Result]) -> list[str]:
    """One line per distinct (library, reason) for cells that are not numbers."""
    seen: dict[tuple[str, str], list[str]] = {}
    for r in results:
        if not r.ok and r.reason and r.status != "not-peer":
            seen.setdefault((r.lib, r.reason), []).append(r.workload)
    return [
        f"{lib}: {reason} ({len(rows)} row{'s' if len(rows) > 1 else ''})"
        for (lib, reason), rows in seen.items()
    ]


LEGEND = (
    "Values are medians; ± is half the interquartile range relative to the median "
    "(Markdown: the IQR itself). ↓ lower is better (time, memory), ↑ higher is better "
    '(throughput). "vs peer" is fastsync\'s speed-up over the peer (peer / fastsync '
    "for ↓ rows, fastsync / peer for ↑ rows): > 1 always means fastsync is better. n/a: "
    "not measurable (reason below and in the JSON); -: the library is not a peer for "
    "that row."
)


def meta(args, libs_loaded: list, skipped: list[str]) -> dict:
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": getattr(args, "loadavg", None),
        "other_gpu_processes_at_start": getattr(args, "gpu_others", None),
        "device": args.device,
        "quick": args.quick,
        "only": args.only or [],
        "libs": {
            lib.name: {"version": lib.version, "lazy": lib.lazy, "notes": lib.notes}
            for lib in libs_loaded
        },
        "skipped_libs": skipped,
    }


def to_json(results: list[Result], info: dict) -> dict:
    out = []
    for r in results:
        d = {
            "workload": r.workload,
            "unit": r.unit,
            "better": r.better,
            "lib": r.lib,
            "status": r.status,
            "params": r.params,
        }
        if r.reason:
            d["reason"] = r.reason
        if r.ok:
            d.update(r.stats())
            d["samples"] = r.samples
            d["calls_per_sample"] = r.number
        if r.extra:
            d["extra"] = r.extra
        out.append(d)
    idx = _index(results)
    ratios = {}
    for row in _rows(results):
        for lib in info["libs"]:
            if lib != BASE:
                rt = speedup(idx.get((row, BASE)), idx.get((row, lib)))
                if rt is not None:
                    ratios.setdefault(row, {})[f"vs {lib}"] = rt
    return {"meta": info, "results": out, "speedups": ratios, "legend": LEGEND}


def write_json(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_md(path: str, results: list[Result], libs: list[str], info: dict) -> None:
    vers = ", ".join(f"{k} {v['version']}" for k, v in info["libs"].items())
    lines = [
        "# fastsync benchmark results",
        "",
        f"{info['date']} · device {info['device']} · {'quick' if info['quick'] else 'full'} "
        f"run · {info['cpu_count']} CPUs · Python {info['python']} · {vers}",
        "",
        table(results, libs, style="md"),
        "",
        LEGEND,
        "",
    ]
    notes = reasons(results)
    if notes or info["skipped_libs"]:
        lines += ["Not measured:", ""]
        lines += [f"- {n}" for n in [*info["skipped_libs"], *notes]]
        lines.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def write_png(path: str, results: list[Result], libs: list[str]) -> str | None:
    """Bar chart of fastsync's speed-up over each peer per row (> 1: fastsync is better,
    whatever the row's unit); returns a note instead when it cannot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: skipped the PNG (pip install matplotlib)"
    peers = [lib for lib in libs if lib != BASE]
    if BASE not in libs or not peers:
        return "no speed-ups over a peer to plot: skipped the PNG"
    idx = _index(results)
    rows = [
        row
        for row in _rows(results)
        if any(speedup(idx.get((row, BASE)), idx.get((row, p))) for p in peers)
    ]
    if not rows:
        return "no speed-ups over a peer to plot: skipped the PNG"
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(rows) + 2), 5.5))
    width = 0.8 / len(peers)
    for k, p in enumerate(peers):
        xs, ys = [], []
        for i, row in enumerate(rows):
            rt = speedup(idx.get((row, BASE)), idx.get((row, p)))
            if rt is not None:
                xs.append(i + (k - (len(peers) - 1) / 2) * width)
                ys.append(rt)
        ax.bar(xs, ys, width=width, label=f"vs {p}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    labels = []
    for row in rows:
        r = idx.get((row, BASE))
        labels.append(f"{row} ({'↓' if r.better == 'lower' else '↑'})")
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("fastsync speed-up over peer (log)")
    ax.set_title("fastsync's speed-up over each peer (medians): > 1 = fastsync better", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
