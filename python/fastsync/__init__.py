"""fastsync: lazily evaluated arrays with nearly free CPU/GPU stream synchronization.

Use it like ``mlx.core``::

    import fastsync as mx
    y = mx.array([1.0, 2.0]) + 1
    mx.eval(y)
"""

import atexit as _atexit

from . import _core, _cpu_libs, _cuda_libs, _dtypes, _transforms, distributed, fast, io, utils  # noqa: F401
from . import _trace as _trace_module
from ._array_methods import attach as _attach_array_methods
from ._compile import compile, disable_compile, enable_compile  # noqa: A004, F401
from ._core import *  # noqa: F403
from ._dtypes import *  # noqa: F403
from ._fp8 import from_fp8, to_fp8  # noqa: F401
from ._hadamard import hadamard_transform  # noqa: F401
from ._printing import printoptions  # noqa: F401
from ._quantize import dequantize, quantize, quantized_matmul  # noqa: F401
from ._trace import trace
from ._transforms import *  # noqa: F403
from .io import load, save, save_gguf, save_safetensors, savez, savez_compressed  # noqa: F401

_attach_array_methods()

# Hooks for fastsync's own tests (mx._testing): only in builds configured with
# FASTSYNC_BUILD_TESTS=ON.
if hasattr(_core, "_testing"):
    from ._core import _testing  # noqa: F401

# cuBLAS is loaded at the first GPU matmul; tell the loader where PyPI's wheel put it. A file
# search only: importing fastsync does not initialize CUDA (that waits for the first GPU use).
_cuda_libs.export_path()
_cuda_libs.export_nvrtc_path()
_cuda_libs.export_cufft_path()
_cuda_libs.export_cudnn_path()
_cuda_libs.export_cusolver_path()
# MKL, when PyPI's wheel is installed, replaces OpenBLAS for CPU products (same: a file search).
_cpu_libs.export_mkl_path()
# oneDNN, when its wheel is installed, runs the float32 CPU convolutions (same: a file search).
_cpu_libs.export_onednn_path()

__version__ = "0.1.0"
__all__ = [name for name in dir(_core) if not name.startswith("_")]
__all__ += [*_transforms.__all__, *_dtypes.__all__, *(n for n in io.__all__ if n.islower())]
__all__ += ["printoptions", "compile", "disable_compile", "enable_compile"]
__all__ += ["quantize", "dequantize", "quantized_matmul", "trace"]
__all__ += ["to_fp8", "from_fp8", "hadamard_transform"]

# FASTSYNC_TRACE=path: a timeline trace of the whole program, written at exit.
_trace_module._start_from_environment()


def _finish_work_at_exit():
    """Work still in flight when the interpreter exits (an ``async_eval`` never read) is
    waited for before teardown: the BLAS libraries free their buffers in their own exit
    handlers, and a product still running then crashed the process after its output was
    printed. Skipped after an uncaught exception, and once a distributed group exists (a
    collective may wait on a peer that is gone; ``distributed`` finalizes those itself). An
    error of such unread work is not raised: nothing asked for its result."""
    import sys

    if distributed._initialized or getattr(sys, "last_value", None) is not None:
        return
    try:
        _core.synchronize()
    except Exception:  # noqa: BLE001, S110 - see the docstring
        pass


_atexit.register(_finish_work_at_exit)
# Registered last, so it runs first: daemon threads leaving an eval from now on wait,
# and park once the interpreter finalizes, instead of being unwound by it, which aborted
# the process (python/src/gil.h).
_atexit.register(_core._prepare_exit)
