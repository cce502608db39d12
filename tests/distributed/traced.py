"""2 ranks, each recording a timeline trace (fastsync.trace) around an all_sum on a CPU
stream; run by tests/test_distributed.py through ``python -m fastsync.launch -n 2``.
Each rank checks its own file: the collective is a span of its own category on that
stream's track, after the fence from its input's producer. Prints ``PASS traced
rank=<r>``; any failure raises, which aborts the job."""

import os

import fastsync as mx
from fastsync import _trace_view
from fastsync import distributed as dist

group = dist.init(strict=True)
rank = group.rank()
path = os.path.join(os.environ["TRACE_DIR"], f"rank{rank}.json")
s = mx.new_stream(mx.cpu)
with mx.trace(path):
    x = mx.ones((4096,)) * (rank + 1)
    y = dist.all_sum(x, stream=s)
    mx.eval(y)
assert y[0].item() == 3.0

trace = _trace_view.load(path)
_trace_view.validate(trace)
tid = [t for t, n in _trace_view.tracks(trace).items() if n == f"cpu stream {s.index}"][0]
spans = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["tid"] == tid]
collectives = [e for e in spans if e["cat"] == "collective"]
assert len(collectives) == 1, spans
waits = [e for e in spans if e["cat"] == "wait"]
assert waits and waits[0]["ts"] <= collectives[0]["ts"], spans
print(f"PASS traced rank={rank}", flush=True)
