"""Timeline traces (fastsync.trace): the spans, waits and flows of a two-stream program in
the right order, the file against the trace-event format, the PNG, the environment
variable, throttle stalls, GPU spans where a GPU is present, and the diagonal-sum op that
shares the name."""

import json
import os
import subprocess
import sys

import fastsync as mx
import numpy as np
import pytest
from fastsync import _trace_view

GPU = pytest.mark.skipif(not mx.is_available(mx.gpu), reason="needs a GPU")


def spans(trace, **match):
    return [
        e
        for e in trace["traceEvents"]
        if e["ph"] == "X" and all(e.get(k) == v for k, v in match.items())
    ]


def track_of(trace, stream):
    names = _trace_view.tracks(trace)
    kind = "gpu" if stream.device == mx.gpu else "cpu"
    wanted = f"{kind} stream {stream.index}"
    (tid,) = [t for t, n in names.items() if n == wanted]
    return tid


def two_stream_program(path, device=mx.cpu):
    s1, s2 = mx.new_stream(device), mx.new_stream(device)
    x = mx.array(np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32))
    with mx.trace(path) as recorder:
        a = x
        for _ in range(4):
            a = mx.matmul(a, x, stream=s1)  # the producer: long enough to be waited for
        b = mx.add(a, 1, stream=s2)  # the consumer, on another stream: a fence
        mx.eval(b)
    return recorder, s1, s2


def test_two_streams_spans_waits_and_flows_in_order(tmp_path):
    recorder, s1, s2 = two_stream_program(tmp_path / "run.json")
    assert recorder.path == str(tmp_path / "run.json")
    trace = _trace_view.load(recorder.path)
    _trace_view.validate(trace)
    t1, t2 = track_of(trace, s1), track_of(trace, s2)

    # Encode spans on the calling thread's track, run spans on each stream's.
    encodes = spans(trace, cat="encode")
    assert {e["name"] for e in encodes} >= {"Matmul", "Add"}
    assert all(e["tid"] not in (t1, t2) for e in encodes)
    runs1 = spans(trace, cat="run", tid=t1)
    runs2 = spans(trace, cat="run", tid=t2)
    assert [e["name"] for e in runs1] == ["Matmul"] * 4
    assert [e["name"] for e in runs2] == ["Add"]
    # Stream order, and the consumer after the producer.
    ends = [e["ts"] + e["dur"] for e in runs1]
    assert all(r["ts"] >= end - 1e-3 for r, end in zip(runs1[1:], ends[:-1], strict=True))
    assert runs2[0]["ts"] >= ends[-1] - 1e-3

    # The fence: s1 signals, s2 waits for that signal, an arrow joins them.
    signals = spans(trace, cat="signal", tid=t1)
    waits = spans(trace, cat="wait", tid=t2)
    assert waits, "the consumer stream waited for the producer"
    fence = waits[0]["args"]["waits_for"]
    (signal,) = [s for s in signals if s["args"].get("signals") == fence]
    assert waits[0]["args"]["released_by_track"] == t1 - 1
    assert signal["ts"] >= ends[-1] - 1e-3  # signalled after the producer's last task
    assert waits[0]["ts"] + waits[0]["dur"] >= signal["ts"] - 1e-3
    assert waits[0]["ts"] + waits[0]["dur"] <= runs2[0]["ts"] + 1e-3  # then the consumer ran
    flows = [e for e in trace["traceEvents"] if e["ph"] in "sf"]
    starts = {e["id"]: e for e in flows if e["ph"] == "s"}
    landed = [e for e in flows if e["ph"] == "f" and e["tid"] == t2]
    assert any(starts[e["id"]]["tid"] == t1 for e in landed)

    # The host waited for the result too (eval), on its own track.
    host_waits = spans(trace, cat="wait", name="wait (host)")
    assert host_waits and all(e["tid"] not in (t1, t2) for e in host_waits)

    # Allocations with their bytes, and a bytes-in-use counter.
    allocs = [e for e in trace["traceEvents"] if e["ph"] == "i" and e["name"] == "alloc (host)"]
    assert any(e["args"]["bytes"] >= 256 * 256 * 4 for e in allocs)
    assert any(e["ph"] == "C" and e["name"] == "bytes in use (host)" for e in trace["traceEvents"])


def test_validate_rejects_broken_traces():
    with pytest.raises(ValueError, match="traceEvents"):
        _trace_view.validate({"events": []})
    with pytest.raises(ValueError, match="missing dur"):
        _trace_view.validate(
            {"traceEvents": [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 0}]}
        )
    with pytest.raises(ValueError, match="flow 3"):
        _trace_view.validate(
            {"traceEvents": [{"ph": "s", "name": "a", "pid": 1, "tid": 1, "ts": 0, "id": 3}]}
        )


def test_png_and_summary_from_the_command_line(tmp_path):
    recorder, _, _ = two_stream_program(tmp_path / "run.json")
    png = tmp_path / "run.png"
    out = subprocess.run(
        [sys.executable, "-m", "fastsync.trace", recorder.path, "--png", str(png), "--summary"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "cpu stream" in out.stdout and "run" in out.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    out = subprocess.run(
        [sys.executable, "-m", "fastsync.trace", str(bad)], capture_output=True, text=True
    )
    assert out.returncode == 1 and "traceEvents" in out.stderr


def test_one_trace_at_a_time_and_the_process_stays_usable(tmp_path):
    with mx.trace(tmp_path / "a.json"):
        with pytest.raises(RuntimeError, match="already recording"):
            with mx.trace(tmp_path / "b.json"):
                pass
        mx.eval(mx.ones(3) + 1)
    assert json.loads((tmp_path / "a.json").read_text())["traceEvents"]
    assert not (tmp_path / "b.json").exists()
    # Off again: nothing recorded, a new trace starts clean.
    mx.eval(mx.ones(3) * 2)
    with mx.trace(tmp_path / "c.json"):
        pass
    trace = _trace_view.load(tmp_path / "c.json")
    assert not spans(trace, name="Multiply")


def test_an_unwritable_path_fails_at_the_start(tmp_path):
    with pytest.raises(RuntimeError, match="cannot write"):
        with mx.trace(tmp_path / "no" / "such" / "dir.json"):
            pytest.fail("the block ran")
    with mx.trace(tmp_path / "ok.json"):  # and nothing was left recording
        pass


def test_an_error_inside_the_block_still_writes_the_trace(tmp_path):
    with pytest.raises(RuntimeError, match="planted"):
        with mx.trace(tmp_path / "e.json"):
            mx.eval(mx._testing.fail_in_task(mx.ones(2), "planted"))
    _trace_view.validate(_trace_view.load(tmp_path / "e.json"))


def test_trace_of_an_array_is_the_diagonal_sum():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(np.array(mx.trace(mx.array(a), 1)), np.trace(a, 1))
    with pytest.raises(ValueError, match="2 dimensions"):
        mx.trace(mx.array(3.5))


def test_whole_program_from_the_environment_and_throttle_stalls(tmp_path):
    path = tmp_path / "env.json"
    program = (
        "import fastsync as mx\n"
        "mx.set_default_device(mx.cpu)\n"
        "x = mx.zeros(8)\n"
        "for _ in range(400):\n"
        "    x = mx.exp(x) * 0.5\n"
        "mx.eval(x)\n"
    )
    env = dict(os.environ, FASTSYNC_TRACE=str(path), FASTSYNC_MAX_OUTSTANDING="4")
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    trace = _trace_view.load(path)
    _trace_view.validate(trace)
    names = [e["name"] for e in spans(trace, cat="run")]
    assert names.count("Exp") == 400 and names.count("Multiply") == 400
    stalls = spans(trace, cat="throttle")
    assert stalls and all(e["args"]["outstanding_tasks"] > 4 for e in stalls)


@GPU
def test_gpu_kernel_spans_and_a_crossing(tmp_path):
    recorder, s1, s2 = two_stream_program(tmp_path / "gpu.json", device=mx.gpu)
    trace = _trace_view.load(recorder.path)
    _trace_view.validate(trace)
    t1, t2 = track_of(trace, s1), track_of(trace, s2)
    kernels1 = spans(trace, cat="kernel", tid=t1)
    assert [e["name"] for e in kernels1] == ["Matmul"] * 4
    (add,) = spans(trace, cat="kernel", tid=t2)
    assert add["ts"] >= kernels1[-1]["ts"] + kernels1[-1]["dur"] - 5  # ordered by the fence
    waits = spans(trace, cat="wait", tid=t2)
    assert waits and waits[0]["args"].get("released_by_track") == t1 - 1

    # CPU stream -> GPU stream while the CPU work is in flight: the flag is a signal on
    # the CPU stream's track, the GPU stream's wait lands on it.
    c = mx.new_stream(mx.cpu)
    g = mx.new_stream(mx.gpu)
    x = mx.ones((512, 512))
    with mx.trace(tmp_path / "cross.json") as recorder:
        y = mx.matmul(x, x, stream=c)
        z = mx.add(y, 1, stream=g)
        mx.eval(z)
    trace = _trace_view.load(recorder.path)
    _trace_view.validate(trace)
    tc, tg = track_of(trace, c), track_of(trace, g)
    (flag,) = [e for e in spans(trace, cat="signal", tid=tc) if e["name"] == "signal (to gpu)"]
    (wait,) = [e for e in spans(trace, cat="wait", tid=tg) if e["name"] == "wait (cpu data)"]
    assert wait["args"]["waits_for"] == flag["args"]["signals"]
    assert spans(trace, cat="crossing", tid=tg)
