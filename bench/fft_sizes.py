"""2-D FFTs of a few sizes on the CPU, one at a time, µs per transform (median of 5 loops):
a complex fft2, a real rfft2 and an inverse real irfft2 of an (n, n) array.

    python bench/fft_sizes.py
"""

import time

import fastsync as mx
import numpy as np


def run(f, k):
    for _ in range(20):
        f()
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(k):
            f()
        ts.append((time.perf_counter() - t) / k * 1e6)
    return round(sorted(ts)[2], 1)


def main():
    rng = np.random.default_rng(0)
    out = []
    for n in (32, 64, 128, 256, 512):
        x = mx.array(rng.random((n, n), dtype=np.float32))
        xc = mx.array((rng.random((n, n)) + 1j * rng.random((n, n))).astype(np.complex64))
        mx.eval(x, xc)
        k = max(20, 200000 // (n * n))
        out.append(
            f"{n}: fft2 {run(lambda xc=xc: mx.eval(mx.fft.fft2(xc)), k)}"
            f" rfft2 {run(lambda x=x: mx.eval(mx.fft.rfft2(x)), k)}"
            f" irfft2 {run(lambda xc=xc: mx.eval(mx.fft.irfft2(xc)), k)}"
        )
    print(" | ".join(out))


if __name__ == "__main__":
    main()
