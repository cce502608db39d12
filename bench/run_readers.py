"""Whether a pair of recurring calls (x = maximum(x @ w, 0), 64² float32 on the GPU) launches
as one combined graph, whatever reads the pair next: async_eval, a gather of its output on the
same stream, a reduction on another GPU stream, eval. The loop of
tests/test_gpu_graphs.py::test_replays_of_a_run_launch_as_one_graph_in_order, with the
counters of src/backend/cuda/call_graphs.h printed per step, and the gather's indices in the
dtype given (int32 indices are converted to int64 by an extra op in the same run):

    python3 bench/run_readers.py int32
    python3 bench/run_readers.py int64
"""

import sys

import fastsync as mx
import numpy as np

READERS = ("async_eval", "gather, same stream", "sum, other stream", "eval")


def counters():
    c = mx._core._backend_counters(mx.gpu)
    return {k: v for k, v in c.items() if k.startswith(("call_graph", "graph"))}


def main(index_dtype="int32", warmup=10, steps_per_reader=8):
    rng = np.random.default_rng(25)
    w_np = (rng.standard_normal((64, 64)) * np.sqrt(2 / 64)).astype(np.float32)
    x_np = rng.standard_normal((64, 64)).astype(np.float32)
    idx_np = rng.integers(0, 64, size=17).astype(index_dtype)
    w, x, idx = mx.array(w_np), mx.array(x_np), mx.array(idx_np)
    other = mx.new_stream(mx.gpu)
    mx.eval(w, x, idx)
    for _ in range(warmup):
        x = mx.maximum(mx.matmul(x, w, stream=mx.gpu), 0.0, stream=mx.gpu)
        mx.eval(x)
    runs = dict.fromkeys(READERS, 0)
    prev = counters()
    for i in range(steps_per_reader * len(READERS)):
        reader = READERS[i // steps_per_reader]
        x = mx.maximum(mx.matmul(x, w, stream=mx.gpu), 0.0, stream=mx.gpu)
        if reader == "async_eval":
            mx.async_eval(x)
        elif reader == "gather, same stream":
            np.array(mx.take(x, idx, axis=0, stream=mx.gpu))
        elif reader == "sum, other stream":
            np.array(mx.sum(x, axis=1, stream=other))
        else:
            mx.eval(x)
        np.array(x)
        now = counters()
        changed = [k for k in now if now[k] != prev[k]]
        delta = {k.replace("call_graph_", "cg_"): now[k] - prev[k] for k in changed}
        runs[reader] += now["call_graph_runs"] - prev["call_graph_runs"]
        print(f"step {i:2d}  {reader:20s} {delta}")
        prev = now
    print(f"indices {index_dtype}: combined runs per reader {runs}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
