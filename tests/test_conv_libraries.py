"""Which library runs the float32 CPU convolutions: oneDNN where its wheel is installed,
fastsync's own fused kernels otherwise (FASTSYNC_ONEDNN=0 forces them). Both must give the
same answers: the whole convolution suite runs again on fastsync's own kernels."""

import os
import subprocess
import sys
from pathlib import Path

import fastsync as mx
import numpy as np
import pytest
from fastsync import _cpu_libs

HERE = Path(__file__).parent


def onednn_installed():
    return bool(_cpu_libs._lib_dirs_with(("libdnnl.so.3",))) or os.environ.get(
        "FASTSYNC_ONEDNN_PATH"
    )


def child(code, **env):
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout.strip()


REPORT = "import fastsync as mx; print(mx.device_info(mx.cpu)['convolution'])"


@pytest.mark.skipif(not onednn_installed(), reason="oneDNN's wheel is not installed")
def test_onednn_is_found_and_reported():
    assert child(REPORT).startswith("oneDNN 3."), child(REPORT)


def test_onednn_can_be_turned_off():
    assert child(REPORT, FASTSYNC_ONEDNN="0") == "not used: FASTSYNC_ONEDNN=0"


def test_a_missing_onednn_is_reported_with_what_was_tried(tmp_path):
    out = child(REPORT, FASTSYNC_ONEDNN_PATH=str(tmp_path), LD_LIBRARY_PATH=str(tmp_path))
    if out.startswith("oneDNN"):
        pytest.skip("libdnnl.so.3 is on the loader's own path")
    assert out.startswith("not used: cannot load oneDNN"), out
    assert "onednn-cpu-gomp" in out, out


def test_both_libraries_agree_on_a_training_step():
    code = """
import fastsync as mx, numpy as np
rng = np.random.default_rng(3)
x = mx.array(rng.standard_normal((3, 12, 11, 8)).astype(np.float32))
w = mx.array(rng.standard_normal((6, 3, 3, 4)).astype(np.float32))
f = mx.value_and_grad(lambda x, w: (mx.conv2d(x, w, stride=(2, 1), padding=1, groups=2) ** 2).sum(),
                      argnums=(0, 1))
v, (gx, gw) = f(x, w)
np.save("{out}", np.concatenate([np.array(v).ravel(), np.array(gx).ravel(), np.array(gw).ravel()]))
"""
    outs = []
    for flag in ("1", "0"):
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"conv_lib_{os.getpid()}_{flag}.npy"
        child(code.format(out=path), FASTSYNC_ONEDNN=flag)
        outs.append(np.load(path))
        path.unlink()
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-3)


def run_conv_suite(**env):
    """tests/test_conv.py in a child process with `env` added; asserts that it passes."""
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(HERE / "test_conv.py"),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=600,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]


@pytest.mark.skipif(mx.default_device() == mx.gpu, reason="the CPU kernels' suite")
def test_convolution_suite_on_fastsyncs_own_kernels():
    run_conv_suite(FASTSYNC_ONEDNN="0")


# On the GPU, cuDNN runs each convolution pass through a plan of its graph API kept per
# shape; FASTSYNC_CUDNN_GRAPH=0 sends every pass through its legacy API instead.
needs_gpu = pytest.mark.skipif(not mx.is_available(mx.gpu), reason="needs a GPU")

GPU_STEP = """
import fastsync as mx, numpy as np
rng = np.random.default_rng(5)
before = mx._core._backend_counters(mx.gpu)
outs = []
for dt, shape, kw in ((mx.float32, (3, 12, 11, 8), dict(stride=(2, 1), padding=1, groups=2)),
                      (mx.bfloat16, (2, 9, 10, 16), dict(padding=2, dilation=2)),
                      (mx.float16, (4, 7, 7, 4), dict(stride=2))):
    x = mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dt)
    w = mx.array(rng.standard_normal((8, 3, 3, shape[-1] // kw.get("groups", 1)))
                 .astype(np.float32)).astype(dt)
    f = mx.value_and_grad(
        lambda x, w: (mx.conv2d(x, w, stream=mx.gpu, **kw).astype(mx.float32) ** 2).sum(),
        argnums=(0, 1))
    for _ in range(2):  # the second step reuses the plans
        v, (gx, gw) = f(x, w)
        mx.eval(v, gx, gw)
    outs += [np.array(a.astype(mx.float32)).ravel() for a in (v, gx, gw)]
after = mx._core._backend_counters(mx.gpu)
np.save("{out}", np.concatenate(outs))
print(*(after[k] - before[k] for k in ("cudnn_plans", "cudnn_graph_runs", "cudnn_legacy_runs")))
"""


@needs_gpu
def test_cudnn_graph_plans_are_built_once_and_agree_with_the_legacy_api():
    outs, counts = [], {}
    for flag in ("1", "0"):
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"cudnn_api_{os.getpid()}_{flag}.npy"
        counts[flag] = [
            int(v) for v in child(GPU_STEP.format(out=path), FASTSYNC_CUDNN_GRAPH=flag).split()[-3:]
        ]
        outs.append(np.load(path))
        path.unlink()
    # Three shapes, three passes each, two steps: nine plans, eighteen runs.
    assert counts["1"] == [9, 18, 0], counts
    assert counts["0"] == [0, 0, 18], counts
    np.testing.assert_allclose(outs[0], outs[1], rtol=2e-2, atol=2e-2)


@needs_gpu
def test_gpu_convolution_suite_through_the_legacy_api():
    run_conv_suite(FASTSYNC_CUDNN_GRAPH="0", FASTSYNC_DEFAULT_DEVICE="gpu")
