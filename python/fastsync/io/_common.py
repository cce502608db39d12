"""Pieces shared by the fastsync.io formats: error types, opening paths or file objects,
exact reads that report truncation, and conversion between fastsync arrays and NumPy.

bfloat16 has no NumPy type: it travels as its raw uint16 bits. Going out, the array is read
as float32 (exact) and the upper 16 bits are kept; coming in, the bits are widened to
float32 and cast back to bfloat16 (exact, as every bfloat16 value is a float32 value).
"""

import contextlib
import errno
import os

import numpy as np

from .. import _core

_complex64 = getattr(_core, "complex64", None)
_CHUNK = 1 << 26


class FileFormatError(ValueError, RuntimeError):
    """A truncated or malformed file. Both a ValueError and a RuntimeError, so that code
    written to NumPy's habits or to MLX's catches it."""


class MissingFileError(FileNotFoundError, ValueError):
    """A path that does not exist: a FileNotFoundError, and a ValueError as in MLX."""


def fspath(file):
    """The path of a str or os.PathLike argument, else None (a file object)."""
    if isinstance(file, (str, os.PathLike)):
        path = os.fspath(file)
        return path if isinstance(path, str) else os.fsdecode(path)
    return None


def describe(file):
    path = fspath(file)
    if path is not None:
        return path
    name = getattr(file, "name", None)
    return name if isinstance(name, str) else "python file object"


@contextlib.contextmanager
def open_read(file, fn):
    """Yield (binary file object, label for messages) for a path or a readable object."""
    path = fspath(file)
    if path is not None:
        try:
            f = open(path, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            raise MissingFileError(
                errno.ENOENT, f"[{fn}] Failed to open {path}: no such file", path
            ) from None
        with f:
            yield f, path
    elif hasattr(file, "read"):
        yield file, describe(file)
    else:
        raise TypeError(f"[{fn}] expected a path or a binary file object, not {type(file)}")


@contextlib.contextmanager
def open_write(file, ext, fn):
    """Yield a binary file object for a path (``ext`` appended when missing) or an object."""
    path = fspath(file)
    if path is not None:
        if not path.endswith(ext):
            path += ext
        with open(path, "wb") as f:
            yield f
    elif hasattr(file, "write"):
        yield file
    else:
        raise TypeError(f"[{fn}] expected a path or a writable file object, not {type(file)}")


def remaining(f):
    """Bytes left after the position of a seekable file object, else None."""
    try:
        if not f.seekable():
            return None
        pos = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(pos)
        return end - pos
    except (AttributeError, OSError, ValueError):
        return None


def truncated(where, what, need, got):
    return FileFormatError(
        f"[load] {where}: file is truncated: {what} needs {need} bytes, only {got} remain"
    )


def read_exact(f, n, where, what="data", avail=None):
    """Read exactly ``n`` bytes into a NumPy uint8 array; FileFormatError if they are not there.

    ``avail`` (bytes left, when the caller knows) or the file's own size are checked first, so
    a corrupt length never allocates memory the file does not hold.
    """
    if avail is None:
        avail = remaining(f)
    if avail is not None and avail < n:
        raise truncated(where, what, n, avail)
    if avail is None and n > _CHUNK:  # size unknown: grow only with what arrives
        parts, got = [], 0
        while got < n:
            b = f.read(min(_CHUNK, n - got))
            if not b:
                raise truncated(where, what, n, got)
            parts.append(b)
            got += len(b)
        return np.frombuffer(b"".join(parts), np.uint8).copy()
    out = np.empty(n, np.uint8)
    view, got = memoryview(out), 0
    while got < n:
        if hasattr(f, "readinto"):
            k = f.readinto(view[got:])
        else:
            b = f.read(n - got)
            view[got : got + len(b)] = b
            k = len(b)
        if not k:
            raise truncated(where, what, n, got)
        got += k
    return out


# NumPy dtype <-> fastsync dtype (bfloat16 apart: it travels as uint16 bits).
NP_TO_MX = {
    np.dtype(np.bool_): _core.bool_,
    **{np.dtype(f"uint{b}"): getattr(_core, f"uint{b}") for b in (8, 16, 32, 64)},
    **{np.dtype(f"int{b}"): getattr(_core, f"int{b}") for b in (8, 16, 32, 64)},
    np.dtype(np.float16): _core.float16,
    np.dtype(np.float32): _core.float32,
    np.dtype(np.float64): _core.float64,
}
if _complex64 is not None:
    NP_TO_MX[np.dtype(np.complex64)] = _complex64
MX_TO_NP = {v: k for k, v in NP_TO_MX.items()}
MX_TO_NP[_core.bfloat16] = np.dtype(np.uint16)


def to_numpy(arr):
    """(C-contiguous little-endian NumPy array holding ``arr``'s bytes, fastsync dtype)."""
    if not isinstance(arr, _core.array):
        arr = _core.array(arr)
    dtype = arr.dtype
    if dtype not in MX_TO_NP:
        raise ValueError(f"dtype {dtype.name} cannot be serialized")
    data = np.asarray(arr, order="C")  # (not ascontiguousarray: it makes 0-d arrays 1-d)
    if dtype == _core.bfloat16:
        data = (data.astype(np.float32, copy=False).view(np.uint32) >> 16).astype(np.uint16)
    return data.astype(data.dtype.newbyteorder("<"), copy=False), dtype


def from_numpy(data, dtype):
    """A fastsync array of ``dtype`` from NumPy ``data`` (uint16 bits for bfloat16)."""
    data = data.astype(data.dtype.newbyteorder("="), copy=False)
    if dtype == _core.bfloat16:
        f32 = (data.astype(np.uint32) << 16).view(np.float32)
        out = _core.array(f32).astype(_core.bfloat16)
        _core.eval(out)  # drop the float32 copy now
        return out
    return _core.array(data, dtype)  # the file's dtype (mx.array alone makes float64 float32)
