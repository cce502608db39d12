"""Find and load the CUDA libraries that fastsync's GPU backend opens at run time.

fastsync links only the CUDA runtime. cuBLAS (matrix products) is opened with
dlopen the first time a GPU product runs (src/backend/cuda/cublas.cpp), which finds it
already loaded in the process, on the loader's path, or in the directories of
``FASTSYNC_CUBLAS_PATH``, but not inside a wheel: PyPI's ``nvidia-cublas``
(cuBLAS 13) unpacks to ``site-packages/nvidia/cu13/lib`` and
``nvidia-cublas-cu12`` to ``site-packages/nvidia/cublas/lib``, both off every
search path. ``preload()`` loads such a wheel's libcublasLt and libcublas into
the process with RTLD_GLOBAL, where the C++ loader's already-loaded check
finds them; ``export_path()`` instead only names their directory in
``FASTSYNC_CUBLAS_PATH``, so nothing is loaded until a product needs it.

Both are safe to call where no wheel is installed, no GPU exists, or cuBLAS is
already loaded (by PyTorch, say): they then do nothing. cuBLAS 13 is preferred
to 12, in the order the C++ loader tries them.

NCCL (``fastsync.distributed`` with backend "nccl") is found the same way by
src/backend/cuda/nccl.cpp, through ``FASTSYNC_NCCL_PATH``. PyPI's ``nvidia-nccl-cu13``
and ``nvidia-nccl-cu12`` both unpack ``libnccl.so.2`` to
``site-packages/nvidia/nccl/lib`` (``nvidia/cu13/lib`` is looked in too, for
wheels that share the CUDA 13 directory). ``find_nccl()``, ``export_nccl_path()``
and ``preload_nccl()`` are the NCCL counterparts of the functions above.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
from pathlib import Path

# Newest first, as in src/backend/cuda/cublas.cpp.
_VERSIONS = ("13", "12")
# Where each wheel generation puts its libraries, under the ``nvidia`` namespace.
_SUBDIRS = ("cu13/lib", "cublas/lib", "cu12/lib")
_loaded: list[ctypes.CDLL] = []  # kept referenced: the libraries stay mapped


def _nvidia_roots() -> list[Path]:
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def _soname_file(d: Path, stem: str, version: str) -> Path | None:
    """``d/stem.so.<version>``, or a fully versioned file of that major."""
    exact = d / f"{stem}.so.{version}"
    if exact.is_file():
        return exact
    pattern = re.compile(re.escape(stem) + r"\.so\." + version + r"(\.[0-9]+)*$")
    matches = sorted(p for p in d.glob(f"{stem}.so.{version}.*") if pattern.match(p.name))
    return matches[-1] if matches else None


def find_cublas() -> tuple[Path, Path] | None:
    """(libcublasLt, libcublas) of an installed nvidia-cublas wheel, newest major first."""
    roots = _nvidia_roots()
    for version in _VERSIONS:
        for root in roots:
            for sub in _SUBDIRS:
                d = root / sub
                if not d.is_dir():
                    continue
                lib = _soname_file(d, "libcublas", version)
                lt = _soname_file(d, "libcublasLt", version)
                if lib is not None and lt is not None:
                    return lt, lib
    return None


def preload() -> Path | None:
    """Load an nvidia-cublas wheel's cuBLAS into the process; returns libcublas's path.

    Returns None (and loads nothing) when no wheel is found. A wheel whose
    libraries fail to load raises OSError, naming the file.
    """
    found = find_cublas()
    if found is None:
        return None
    lt, lib = found
    # libcublasLt first: libcublas finds it by soname, and its directory is
    # not on the loader's path.
    for path in (lt, lib):
        _loaded.append(ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL))
    return lib


def export_path() -> Path | None:
    """Append an nvidia-cublas wheel's library directory to FASTSYNC_CUBLAS_PATH.

    The lazy alternative to ``preload()``: the C++ loader reads the variable
    the first time a GPU product runs. Returns the directory, or None.
    """
    found = find_cublas()
    if found is None:
        return None
    d = str(found[1].parent)
    current = os.environ.get("FASTSYNC_CUBLAS_PATH", "")
    if d not in current.split(os.pathsep):
        os.environ["FASTSYNC_CUBLAS_PATH"] = os.pathsep.join(filter(None, (current, d)))
    return found[1].parent


# NCCL's soname (major 2 since 2017); the wheels' directories, most specific first.
_NCCL_SONAME = "libnccl.so.2"
_NCCL_SUBDIRS = ("nccl/lib", "cu13/lib", "cu12/lib")


def find_nccl() -> Path | None:
    """libnccl.so.2 of an installed nvidia-nccl wheel, or None."""
    for root in _nvidia_roots():
        for sub in _NCCL_SUBDIRS:
            lib = root / sub / _NCCL_SONAME
            if lib.is_file():
                return lib
    return None


def export_nccl_path() -> Path | None:
    """Append an nvidia-nccl wheel's library directory to FASTSYNC_NCCL_PATH.

    The C++ loader reads the variable when ``distributed.init`` first asks for
    NCCL. Returns the directory, or None (and changes nothing) without a wheel.
    """
    lib = find_nccl()
    if lib is None:
        return None
    d = str(lib.parent)
    current = os.environ.get("FASTSYNC_NCCL_PATH", "")
    if d not in current.split(os.pathsep):
        os.environ["FASTSYNC_NCCL_PATH"] = os.pathsep.join(filter(None, (current, d)))
    return lib.parent


def preload_nccl() -> Path | None:
    """Load an nvidia-nccl wheel's libnccl into the process; returns its path.

    Returns None (and loads nothing) without a wheel. A wheel whose library
    fails to load raises OSError, naming the file.
    """
    lib = find_nccl()
    if lib is None:
        return None
    _loaded.append(ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL))
    return lib


# NVRTC (compile's fused GPU kernels, src/backend/cuda/jit.cpp): nvidia-cuda-nvrtc for CUDA
# 13 unpacks to ``nvidia/cu13/lib``, the CUDA 12 wheel to ``nvidia/cuda_nvrtc/lib``.
_NVRTC_SUBDIRS = ("cu13/lib", "cuda_nvrtc/lib", "cu12/lib")


def find_nvrtc() -> Path | None:
    """The directory of an installed nvidia-cuda-nvrtc wheel's libnvrtc, newest major first."""
    for version in _VERSIONS:
        for root in _nvidia_roots():
            for sub in _NVRTC_SUBDIRS:
                if _soname_file(root / sub, "libnvrtc", version) is not None:
                    return root / sub
    return None


def export_nvrtc_path() -> Path | None:
    """Append an nvidia-cuda-nvrtc wheel's directory to FASTSYNC_NVRTC_PATH.

    The C++ loader reads the variable the first time a fused kernel is compiled (and loads
    the wheel's libnvrtc-builtins beside it). Returns the directory, or None.
    """
    d = find_nvrtc()
    if d is None:
        return None
    current = os.environ.get("FASTSYNC_NVRTC_PATH", "")
    if str(d) not in current.split(os.pathsep):
        os.environ["FASTSYNC_NVRTC_PATH"] = os.pathsep.join(filter(None, (current, str(d))))
    return d


# cuFFT (mx.fft on the GPU, src/backend/cuda/fft.cu): the CUDA 13 wheel (nvidia-cufft) unpacks
# libcufft.so.12 to ``nvidia/cu13/lib``, the CUDA 12 one (nvidia-cufft-cu12) libcufft.so.11 to
# ``nvidia/cufft/lib``.
_CUFFT_VERSIONS = ("12", "11")
_CUFFT_SUBDIRS = ("cu13/lib", "cufft/lib", "cu12/lib")


def find_cufft() -> Path | None:
    """The directory of an installed nvidia-cufft wheel's libcufft, newest major first."""
    for version in _CUFFT_VERSIONS:
        for root in _nvidia_roots():
            for sub in _CUFFT_SUBDIRS:
                if _soname_file(root / sub, "libcufft", version) is not None:
                    return root / sub
    return None


def export_cufft_path() -> Path | None:
    """Append an nvidia-cufft wheel's directory to FASTSYNC_CUFFT_PATH.

    The C++ loader reads the variable the first time a GPU FFT runs. Returns the directory,
    or None (and changes nothing) without a wheel.
    """
    d = find_cufft()
    if d is None:
        return None
    current = os.environ.get("FASTSYNC_CUFFT_PATH", "")
    if str(d) not in current.split(os.pathsep):
        os.environ["FASTSYNC_CUFFT_PATH"] = os.pathsep.join(filter(None, (current, str(d))))
    return d


# cuDNN 9 (the GPU convolutions, src/backend/cuda/cudnn.cpp): nvidia-cudnn-cu13 and -cu12 unpack
# libcudnn.so.9 and its sub-libraries to ``nvidia/cudnn/lib``.
_CUDNN_SUBDIRS = ("cudnn/lib", "cu13/lib", "cu12/lib")


def find_cudnn() -> Path | None:
    """The directory of an installed nvidia-cudnn wheel's libcudnn.so.9, or None."""
    for root in _nvidia_roots():
        for sub in _CUDNN_SUBDIRS:
            if (root / sub / "libcudnn.so.9").is_file():
                return root / sub
    return None


def export_cudnn_path() -> Path | None:
    """Append an nvidia-cudnn wheel's directory to FASTSYNC_CUDNN_PATH.

    The C++ loader reads the variable the first time a GPU convolution is built. Returns the
    directory, or None (and changes nothing) without a wheel.
    """
    d = find_cudnn()
    if d is None:
        return None
    current = os.environ.get("FASTSYNC_CUDNN_PATH", "")
    if str(d) not in current.split(os.pathsep):
        os.environ["FASTSYNC_CUDNN_PATH"] = os.pathsep.join(filter(None, (current, str(d))))
    return d


# cuSOLVER (mx.linalg on the GPU, src/backend/cuda/cusolver.cpp): nvidia-cusolver (CUDA 13) unpacks
# libcusolver.so.12 to ``nvidia/cu13/lib``, nvidia-cusolver-cu12 libcusolver.so.11 to
# ``nvidia/cusolver/lib``.
_CUSOLVER = (("12", ("cu13/lib",)), ("11", ("cusolver/lib", "cu12/lib")))


def find_cusolver() -> Path | None:
    """The directory of an installed nvidia-cusolver wheel's libcusolver, newest first."""
    for version, subdirs in _CUSOLVER:
        for root in _nvidia_roots():
            for sub in subdirs:
                if _soname_file(root / sub, "libcusolver", version) is not None:
                    return root / sub
    return None


def export_cusolver_path() -> Path | None:
    """Append an nvidia-cusolver wheel's directory to FASTSYNC_CUSOLVER_PATH.

    The C++ loader reads the variable the first time a GPU factorization runs. Returns the
    directory, or None (and changes nothing) without a wheel.
    """
    d = find_cusolver()
    if d is None:
        return None
    current = os.environ.get("FASTSYNC_CUSOLVER_PATH", "")
    if str(d) not in current.split(os.pathsep):
        os.environ["FASTSYNC_CUSOLVER_PATH"] = os.pathsep.join(filter(None, (current, str(d))))
    return d
