"""Lazy evaluation, two streams and async_eval in a few lines."""

import time

import fastsync as mx
import numpy as np

# Nothing is computed while the graph is built.
x = mx.arange(8).astype(mx.float32)
y = mx.exp(x / 8) * 2 + 1
print("built lazily:", y.shape, y.dtype)
mx.eval(y)
print("evaluated:   ", np.round(np.array(y), 3))

# Two streams run concurrently; fences order their work inside one eval.
s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
a = mx.multiply(mx.ones((1024, 1024)), 3, stream=s1)
b = mx.add(mx.ones((1024, 1024)), 4, stream=s2)
c = mx.add(a, b, stream=s1)  # s1 waits for s2's b through a fence
print("two streams: ", mx.sum(c).item(), "==", 7 * 1024 * 1024)

# async_eval returns at once; reading a result waits for it.
z = mx.zeros((256,))
t = time.perf_counter()
for i in range(100):
    z = z + i
    mx.async_eval(z)
print("async_eval:  ", z[0].item(), f"({(time.perf_counter() - t) * 1e3:.1f} ms for 100 steps)")

# Round trip of a tiny eval.
x = mx.array(1.0)
t = time.perf_counter()
for _ in range(1000):
    mx.eval(x + 1)
print(f"round trip:   {(time.perf_counter() - t) * 1e3:.3f} us per eval")
