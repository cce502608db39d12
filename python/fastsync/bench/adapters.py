"""Thin ``mlx.core``-style namespaces over PyTorch and NumPy.

The workloads in :mod:`fastsync.bench.workloads` are written once against an ``mx`` namespace
(``fastsync`` and ``mlx.core`` satisfy it as they are). These adapters expose the same few
functions for the eager libraries so that the very same workload function runs on them.

Differences, by design:

* PyTorch and NumPy are eager: every op computes when it is called. ``eval`` and
  ``async_eval`` are therefore no-ops on CPU (on CUDA, ``eval`` is
  ``torch.cuda.synchronize()`` and ``async_eval`` stays a no-op, as kernels are already queued).
* PyTorch on CPU and NumPy have no streams: ``new_stream`` is absent, so stream workloads
  report "n/a". PyTorch on CUDA maps ``new_stream`` to ``torch.cuda.Stream`` and the
  ``stream=`` keyword to a ``torch.cuda.stream(...)`` context around the op.
* Only the functions the workloads use are provided; a missing function means "n/a".
* Peak-memory counters exist only for PyTorch on CUDA (``torch.cuda.max_memory_allocated``).
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

_FLOAT_TYPES = (float,)


class TorchNamespace:
    """``mx``-like functions over ``torch``; ``device`` is ``"cpu"`` or ``"cuda"``."""

    name = "torch"

    def __init__(self, device: str = "cpu"):
        import torch

        self._torch = torch
        self._device = torch.device(device)
        self.float32 = torch.float32
        self.float16 = torch.float16
        self.int32 = torch.int32
        self.cpu = "cpu"
        self.gpu = "cuda"
        self.random = SimpleNamespace(uniform=self._uniform)
        if self._device.type == "cuda":
            self.new_stream = self._new_stream
            self.get_peak_memory = torch.cuda.max_memory_allocated
            self.reset_peak_memory = torch.cuda.reset_peak_memory_stats

    # -- devices, streams, evaluation -------------------------------------------------------
    def is_available(self, device) -> bool:
        if device == "cuda":
            return bool(self._torch.cuda.is_available())
        return True

    def _new_stream(self, device=None):
        return self._torch.cuda.Stream(device=self._device)

    def default_stream(self, device=None):
        if self._device.type == "cuda":
            return self._torch.cuda.current_stream(self._device)
        return None

    def _ctx(self, stream):
        if stream is None or isinstance(stream, str) or self._device.type != "cuda":
            return contextlib.nullcontext()
        return self._torch.cuda.stream(stream)

    def eval(self, *args) -> None:
        if self._device.type == "cuda":
            self._torch.cuda.synchronize(self._device)

    def async_eval(self, *args) -> None:
        return None

    def synchronize(self, stream=None) -> None:
        if self._device.type == "cuda":
            if stream is None:
                self._torch.cuda.synchronize(self._device)
            else:
                stream.synchronize()

    # -- creation ---------------------------------------------------------------------------
    def _dtype(self, dtype, value=None):
        if dtype is not None:
            return dtype
        if isinstance(value, _FLOAT_TYPES):
            return self._torch.float32
        return None

    def array(self, val, dtype=None):
        return self._torch.tensor(val, dtype=self._dtype(dtype, val), device=self._device)

    def zeros(self, shape, dtype=None, stream=None):
        return self._torch.zeros(shape, dtype=dtype or self.float32, device=self._device)

    def ones(self, shape, dtype=None, stream=None):
        return self._torch.ones(shape, dtype=dtype or self.float32, device=self._device)

    def full(self, shape, vals, dtype=None, stream=None):
        dtype = self._dtype(dtype, vals) or self.float32
        return self._torch.full(shape, vals, dtype=dtype, device=self._device)

    def arange(self, *args, dtype=None, stream=None):
        return self._torch.arange(*args, dtype=dtype, device=self._device)

    def _uniform(self, low=0.0, high=1.0, shape=(), dtype=None, key=None, stream=None):
        out = self._torch.rand(shape, dtype=dtype or self.float32, device=self._device)
        if low != 0.0 or high != 1.0:
            out = out * (high - low) + low
        return out

    # -- ops --------------------------------------------------------------------------------
    def add(self, a, b, stream=None):
        # stream="cpu" runs the op on the host, as a CPU-stream op would (the device hop).
        if stream == "cpu":
            return self._torch.add(a.cpu(), b)
        if isinstance(a, self._torch.Tensor) and a.device != self._device:
            a = a.to(self._device, non_blocking=True)
        with self._ctx(stream):
            return self._torch.add(a, b)

    def subtract(self, a, b, stream=None):
        with self._ctx(stream):
            return self._torch.sub(a, b)

    def multiply(self, a, b, stream=None):
        with self._ctx(stream):
            return self._torch.mul(a, b)

    def divide(self, a, b, stream=None):
        with self._ctx(stream):
            return self._torch.div(a, b)

    def maximum(self, a, b, stream=None):
        with self._ctx(stream):
            if not isinstance(b, self._torch.Tensor):
                return self._torch.clamp_min(a, b)
            return self._torch.maximum(a, b)

    def minimum(self, a, b, stream=None):
        with self._ctx(stream):
            if not isinstance(b, self._torch.Tensor):
                return self._torch.clamp_max(a, b)
            return self._torch.minimum(a, b)

    def exp(self, a, stream=None):
        with self._ctx(stream):
            return self._torch.exp(a)

    def log(self, a, stream=None):
        with self._ctx(stream):
            return self._torch.log(a)

    def negative(self, a, stream=None):
        with self._ctx(stream):
            return self._torch.neg(a)

    def sum(self, a, axis=None, keepdims=False, stream=None):
        with self._ctx(stream):
            if axis is None:
                return self._torch.sum(a)
            return self._torch.sum(a, dim=axis, keepdim=keepdims)

    def astype(self, a, dtype, stream=None):
        with self._ctx(stream):
            return a.to(dtype)

    def reshape(self, a, shape, stream=None):
        return self._torch.reshape(a, shape)

    def transpose(self, a, axes=None, stream=None):
        if axes is None:
            axes = tuple(reversed(range(a.ndim)))
        return a.permute(*axes)

    def matmul(self, a, b, stream=None):
        with self._ctx(stream):
            return self._torch.matmul(a, b)

    def softmax(self, a, axis=-1, stream=None):
        with self._ctx(stream):
            return self._torch.softmax(a, dim=axis)


class NumpyNamespace:
    """``mx``-like functions over NumPy (CPU only, eager, no streams, no peak counter)."""

    name = "numpy"

    def __init__(self):
        import numpy as np

        self._np = np
        self.float32 = np.float32
        self.float16 = np.float16
        self.int32 = np.int32
        self.cpu = "cpu"
        self.gpu = "gpu"
        self._rng = np.random.default_rng(0)
        self.random = SimpleNamespace(uniform=self._uniform)

    def is_available(self, device) -> bool:
        return device == "cpu"

    def default_stream(self, device=None):
        return None

    def eval(self, *args) -> None:
        return None

    def async_eval(self, *args) -> None:
        return None

    def synchronize(self, stream=None) -> None:
        return None

    def _dtype(self, dtype, value=None):
        if dtype is not None:
            return dtype
        if isinstance(value, _FLOAT_TYPES):
            return self._np.float32
        return None

    def array(self, val, dtype=None):
        return self._np.array(val, dtype=self._dtype(dtype, val))

    def zeros(self, shape, dtype=None, stream=None):
        return self._np.zeros(shape, dtype=dtype or self.float32)

    def ones(self, shape, dtype=None, stream=None):
        return self._np.ones(shape, dtype=dtype or self.float32)

    def full(self, shape, vals, dtype=None, stream=None):
        return self._np.full(shape, vals, dtype=self._dtype(dtype, vals) or self.float32)

    def arange(self, *args, dtype=None, stream=None):
        return self._np.arange(*args, dtype=dtype)

    def _uniform(self, low=0.0, high=1.0, shape=(), dtype=None, key=None, stream=None):
        return self._rng.uniform(low, high, size=shape).astype(dtype or self.float32)

    def add(self, a, b, stream=None):
        return self._np.add(a, b)

    def subtract(self, a, b, stream=None):
        return self._np.subtract(a, b)

    def multiply(self, a, b, stream=None):
        return self._np.multiply(a, b)

    def divide(self, a, b, stream=None):
        return self._np.divide(a, b)

    def maximum(self, a, b, stream=None):
        return self._np.maximum(a, b)

    def minimum(self, a, b, stream=None):
        return self._np.minimum(a, b)

    def exp(self, a, stream=None):
        return self._np.exp(a)

    def log(self, a, stream=None):
        return self._np.log(a)

    def negative(self, a, stream=None):
        return self._np.negative(a)

    def sum(self, a, axis=None, keepdims=False, stream=None):
        return self._np.sum(a, axis=axis, keepdims=keepdims)

    def astype(self, a, dtype, stream=None):
        return a.astype(dtype)

    def reshape(self, a, shape, stream=None):
        return self._np.reshape(a, shape)

    def transpose(self, a, axes=None, stream=None):
        return self._np.transpose(a, axes)

    def matmul(self, a, b, stream=None):
        return self._np.matmul(a, b)

    def softmax(self, a, axis=-1, stream=None):
        # The usual numerically stable formulation; NumPy has no fused softmax.
        e = self._np.exp(a - self._np.max(a, axis=axis, keepdims=True))
        e /= self._np.sum(e, axis=axis, keepdims=True)
        return e
