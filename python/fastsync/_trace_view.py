"""Reading a timeline trace (``fastsync.trace``): validation against the trace-event format,
a per-track summary, and a static picture drawn with matplotlib.

The file is Chrome's trace-event JSON (the "JSON Object Format": ``traceEvents``, with
``X`` complete spans, ``i`` instants, ``C`` counters, ``s``/``f`` flow ends, ``M`` metadata),
which the Perfetto UI and chrome://tracing open.
"""

import argparse
import collections
import json
import sys

# Required fields per phase (timestamps and durations in microseconds).
_REQUIRED = {
    "X": ("name", "ph", "pid", "tid", "ts", "dur"),
    "i": ("name", "ph", "pid", "tid", "ts"),
    "C": ("name", "ph", "pid", "ts", "args"),
    "s": ("name", "ph", "pid", "tid", "ts", "id"),
    "f": ("name", "ph", "pid", "tid", "ts", "id"),
    "M": ("name", "ph", "pid", "args"),
}

# Colors per category in the picture.
_COLORS = {
    "run": "#4c72b0",
    "kernel": "#55a868",
    "encode": "#8172b2",
    "signal": "#dd8452",
    "wait": "#c44e52",
    "throttle": "#937860",
    "collective": "#da8bc3",
    "crossing": "#ccb974",
}


def load(path):
    with open(path) as f:
        return json.load(f)


def validate(trace):
    """Raises ValueError naming the first event that breaks the trace-event format."""
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        raise ValueError("a trace is an object with a traceEvents list")
    flows = collections.Counter()
    for i, e in enumerate(trace["traceEvents"]):
        ph = e.get("ph")
        if ph not in _REQUIRED:
            raise ValueError(f"event {i}: unknown phase {ph!r}")
        missing = [k for k in _REQUIRED[ph] if k not in e]
        if missing:
            raise ValueError(f"event {i} ({ph}): missing {', '.join(missing)}")
        for k in ("ts", "dur"):
            if k in e and (not isinstance(e[k], (int, float)) or e[k] < 0):
                raise ValueError(f"event {i}: {k} must be a non-negative number")
        if "args" in e and not isinstance(e["args"], dict):
            raise ValueError(f"event {i}: args must be an object")
        if ph in "sf":
            flows[(e["id"], ph)] += 1
    for (flow, ph), n in flows.items():
        if n != 1 or flows[(flow, "f" if ph == "s" else "s")] != 1:
            raise ValueError(f"flow {flow}: needs exactly one start and one finish")


def tracks(trace):
    """{tid: name} from the thread_name metadata."""
    return {
        e["tid"]: e["args"]["name"]
        for e in trace["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }


def summary(trace):
    """{track name: {category: (count, total microseconds)}} over the spans."""
    names = tracks(trace)
    out = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0.0]))
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            slot = out[names.get(e["tid"], str(e["tid"]))][e.get("cat", "")]
            slot[0] += 1
            slot[1] += e["dur"]
    return {t: {c: tuple(v) for c, v in cats.items()} for t, cats in out.items()}


def draw(trace, png, width=14.0):
    """A timeline picture: one row per track, spans colored by category, an arrow from each
    signal to the wait it released."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = tracks(trace)
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    order = sorted({e["tid"] for e in spans})
    row = {tid: i for i, tid in enumerate(order)}
    fig, ax = plt.subplots(figsize=(width, 1.0 + 0.45 * max(1, len(order))))
    t0 = min((e["ts"] for e in spans), default=0.0)
    for e in spans:
        color = _COLORS.get(e.get("cat"), "#999999")
        ax.broken_barh(
            [(e["ts"] - t0, max(e["dur"], 1e-3))],
            (row[e["tid"]] - 0.4, 0.8),
            facecolors=color,
            edgecolors="none",
        )
    starts = {e["id"]: e for e in trace["traceEvents"] if e["ph"] == "s"}
    for e in trace["traceEvents"]:
        if e["ph"] == "f" and e["id"] in starts and e["tid"] in row:
            s = starts[e["id"]]
            if s["tid"] not in row:
                continue
            ax.annotate(
                "",
                xy=(e["ts"] - t0, row[e["tid"]]),
                xytext=(s["ts"] - t0, row[s["tid"]]),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 0.6},
            )
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([names.get(t, str(t)) for t in order])
    ax.invert_yaxis()
    ax.set_xlabel("microseconds")
    used = sorted({e.get("cat") for e in spans if e.get("cat") in _COLORS})
    ax.legend(
        handles=[Patch(color=_COLORS[c], label=c) for c in used],
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        fontsize="small",
        ncol=max(1, len(used)),
        frameon=False,
    )
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fastsync.trace", description="Check, sum up and draw a fastsync trace."
    )
    parser.add_argument("trace", help="a JSON file written by fastsync.trace")
    parser.add_argument("--png", help="draw the timeline into this PNG (needs matplotlib)")
    parser.add_argument("--summary", action="store_true", help="print time per track and kind")
    args = parser.parse_args(argv)
    try:
        trace = load(args.trace)
        validate(trace)
    except (OSError, ValueError) as e:
        print(f"fastsync.trace: {args.trace}: {e}", file=sys.stderr)
        return 1
    if args.summary or not args.png:
        for track, cats in sorted(summary(trace).items()):
            parts = ", ".join(f"{c} {n} x {us:.1f} us" for c, (n, us) in sorted(cats.items()))
            print(f"{track}: {parts}")
    if args.png:
        try:
            draw(trace, args.png)
        except ImportError:
            print(
                "fastsync.trace: --png needs matplotlib (pip install matplotlib)", file=sys.stderr
            )
            return 1
        print(args.png)
    return 0
