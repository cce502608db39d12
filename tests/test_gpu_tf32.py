"""FASTSYNC_TF32=1: float32 GPU products and convolutions may use TF32 tensor cores; exact
float32 otherwise (the default). Each setting runs in its own process (read once)."""

import os
import subprocess
import sys

import fastsync as mx
import pytest

pytestmark = pytest.mark.skipif(not mx.is_available(mx.gpu), reason="needs a GPU")

CHILD = """
import fastsync as mx, numpy as np
rng = np.random.default_rng(0)
a, b = (rng.standard_normal((1024, 1024)).astype(np.float32) for _ in range(2))
got = np.array(mx.matmul(mx.array(a), mx.array(b), stream=mx.gpu), np.float64)
want = a.astype(np.float64) @ b.astype(np.float64)
x = rng.standard_normal((4, 32, 32, 64)).astype(np.float32)
w = rng.standard_normal((64, 3, 3, 64)).astype(np.float32)
y = np.array(mx.conv2d(mx.array(x), mx.array(w), padding=1, stream=mx.gpu), np.float64)
ref = np.array(mx.conv2d(mx.array(x, mx.float64), mx.array(w, mx.float64), padding=1,
                         stream=mx.cpu))
print(np.abs(got - want).max() / np.abs(want).max(), np.abs(y - ref).max() / np.abs(ref).max())
"""


def errors(flag):
    env = dict(os.environ, FASTSYNC_TF32=flag)
    p = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return [float(v) for v in p.stdout.split()]


def test_float32_is_exact_by_default():
    mm, conv = errors("0")
    assert mm < 1e-5 and conv < 1e-5, (mm, conv)


def test_tf32_rounds_inputs_to_ten_bits():
    mm, conv = errors("1")
    # TF32 keeps 10 mantissa bits: errors far above float32's, far below half precision's.
    assert 1e-5 < mm < 1e-2, mm
    assert conv < 1e-2, conv
