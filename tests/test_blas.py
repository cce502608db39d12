"""The BLAS behind CPU products: OpenBLAS or MKL, chosen by FASTSYNC_BLAS.

Each choice runs in its own process (the choice is made once per process), and
checks products of every BLAS dtype, transposed operands and a batch against
NumPy there.
"""

import ctypes.util
import json
import os
import subprocess
import sys

import pytest
from fastsync import _cpu_libs

CHILD = r"""
import json
import numpy as np
import fastsync as mx
mx.set_default_device(mx.cpu)  # the CPU BLAS, whatever FASTSYNC_DEFAULT_DEVICE says

rng = np.random.default_rng(0)
errors = []
for dtype in (np.float32, np.float64, np.complex64):
    tol = 1e-4 if dtype != np.float64 else 1e-10
    for (m, k, n) in ((1, 1, 1), (3, 5, 7), (64, 130, 33), (200, 300, 150)):
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        if dtype == np.complex64:
            a = a + 1j * rng.standard_normal((m, k)).astype(np.float32)
        for ta, tb in ((False, False), (True, False), (False, True), (True, True)):
            mdt = getattr(mx, np.dtype(dtype).name)
            x = mx.array(a.T.copy(), dtype=mdt).T if ta else mx.array(a, dtype=mdt)
            y = mx.array(b.T.copy(), dtype=mdt).T if tb else mx.array(b, dtype=mdt)
            got = np.array(x @ y)
            want = a @ b
            err = np.abs(got - want).max() / max(1.0, np.abs(want).max())
            if err > tol:
                errors.append(f"{dtype.__name__} {m}x{k}x{n} trans {ta},{tb}: {err}")
batch_a = rng.standard_normal((4, 3, 20, 30)).astype(np.float32)
batch_b = rng.standard_normal((3, 30, 10)).astype(np.float32)
got = np.array(mx.array(batch_a) @ mx.array(batch_b))
if not np.allclose(got, batch_a @ batch_b, rtol=1e-4, atol=1e-4):
    errors.append("batched product")
# Products small enough to skip the BLAS's own threads (MKL is asked to compute them on the
# calling thread), in a batch with a broadcast, transposed operand, and with an addend.
for dtype in (np.float32, np.float64, np.complex64):
    tol = 1e-4 if dtype != np.float64 else 1e-10
    mdt = getattr(mx, np.dtype(dtype).name)
    a = rng.standard_normal((6, 8, 48, 40)).astype(dtype)
    b = rng.standard_normal((8, 56, 40)).astype(dtype)
    c = rng.standard_normal((48, 56)).astype(dtype)
    x, y = mx.array(a, dtype=mdt), mx.swapaxes(mx.array(b, dtype=mdt), -1, -2)
    cases = [(x @ y, a @ b.swapaxes(-1, -2)),
             (mx.addmm(mx.array(c, dtype=mdt), x, y, alpha=0.5, beta=2.0),
              2.0 * c + 0.5 * (a @ b.swapaxes(-1, -2)))]
    for got, want in cases:
        err = np.abs(np.array(got) - want).max() / max(1.0, np.abs(want).max())
        if err > tol:
            errors.append(f"{dtype.__name__} batch of small products: {err}")
print(json.dumps({"blas": mx.device_info(mx.cpu)["blas"], "errors": errors}))
"""


def run_child(env_blas, code=CHILD):
    env = dict(os.environ)
    if env_blas is None:
        env.pop("FASTSYNC_BLAS", None)
    else:
        env["FASTSYNC_BLAS"] = env_blas
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    return p


def mkl_installed():
    return bool(_cpu_libs.find_mkl_dirs()) or os.environ.get("FASTSYNC_MKL_PATH")


def test_openblas_products_match_numpy():
    p = run_child("openblas")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.splitlines()[-1])
    assert "OpenBLAS" in r["blas"]
    assert r["errors"] == []


@pytest.mark.skipif(not mkl_installed(), reason="MKL's wheel is not installed (pip install mkl)")
def test_mkl_products_match_numpy():
    p = run_child("mkl")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.splitlines()[-1])
    assert "Math Kernel Library" in r["blas"]
    assert r["errors"] == []


@pytest.mark.skipif(not mkl_installed(), reason="MKL's wheel is not installed (pip install mkl)")
def test_auto_prefers_mkl_when_installed():
    code = "import fastsync as mx; print(mx.device_info(mx.cpu)['blas'])"
    p = run_child(None, code)
    assert p.returncode == 0, p.stderr
    assert "Math Kernel Library" in p.stdout


def test_unknown_choice_raises_at_the_product_and_the_process_stays_usable():
    code = r"""
import fastsync as mx
mx.set_default_device(mx.cpu)
info = mx.device_info(mx.cpu)["blas"]
assert info.startswith("unavailable:") and "auto, openblas or mkl" in info, info
try:
    mx.eval(mx.ones((4, 4)) @ mx.ones((4, 4)))
except RuntimeError as e:
    assert "FASTSYNC_BLAS=fancy" in str(e), e
else:
    raise AssertionError("no error")
assert (mx.ones((3,)) + 1).tolist() == [2.0, 2.0, 2.0]
print("ok")
"""
    p = run_child("fancy", code)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"


def test_mkl_asked_for_but_absent_names_what_was_tried(tmp_path):
    code = r"""
import site, sys
sys.prefix = site.USER_BASE = sys.argv[1]  # hides the wheel from import fastsync's search
import fastsync as mx
mx.set_default_device(mx.cpu)
try:
    mx.eval(mx.ones((4, 4)) @ mx.ones((4, 4)))
except RuntimeError as e:
    msg = str(e)
    assert "cannot load Intel MKL" in msg and "FASTSYNC_BLAS=openblas" in msg, msg
    print("raised")
else:
    print("loaded")
"""
    env = dict(os.environ, FASTSYNC_BLAS="mkl", FASTSYNC_MKL_PATH=str(tmp_path))
    p = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    # Only an MKL on the loader's own path (a system install) may still load.
    expected = "loaded" if ctypes.util.find_library("mkl_rt") else "raised"
    assert p.stdout.strip() == expected
