""".npy and .npz files (NumPy's formats), through numpy.lib.format for the headers.

bfloat16 is written with descr '<V2' / '|V2' (raw 2-byte values), as MLX does, and read back
from it; NumPy reads such a file as a void array.
"""

import math
import zipfile

import numpy as np

from .. import _core
from ._common import (
    NP_TO_MX,
    FileFormatError,
    from_numpy,
    open_read,
    open_write,
    read_exact,
    remaining,
    to_numpy,
)

_fmt = np.lib.format
_BF16_DESCR = np.dtype("V2")


def write_npy(f, arr):
    data, dtype = to_numpy(arr)
    if dtype == _core.bfloat16:
        data = data.view(_BF16_DESCR)
    _fmt.write_array(f, data, allow_pickle=False)


def _np_to_mx(dtype, where):
    if dtype.kind == "V" and dtype.itemsize == 2 and dtype.fields is None:
        return _core.bfloat16
    native = dtype.newbyteorder("=")
    if native not in NP_TO_MX:
        raise ValueError(f"[load] {where}: unsupported dtype {dtype.str} ({dtype})")
    return NP_TO_MX[native]


def read_npy(f, where, total=None):
    """One array from an open .npy stream. ``total``: the stream's size, when known."""
    try:
        version = _fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = _fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            # 3.0 differs from 2.0 only in a UTF-8 header, needed for field names outside
            # latin-1; structured dtypes are refused below, so 2.0's reader serves.
            shape, fortran, dtype = _fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except Exception as e:  # header parsing fails in many ways (ValueError, TokenError, ...)
        raise FileFormatError(f"[load] {where}: not a valid .npy file ({e!r})") from None
    if any(n < 0 for n in shape):
        raise FileFormatError(f"[load] {where}: not a valid .npy file (shape {shape})")
    mx_dtype = _np_to_mx(dtype, where)
    nbytes = math.prod(shape) * dtype.itemsize
    avail = total - f.tell() if total is not None else remaining(f)
    try:
        raw = read_exact(f, nbytes, where, "array data", avail)
    except FileFormatError:
        raise
    except Exception as e:  # a corrupt stream (zip members: BadZipFile, zlib.error, ...)
        raise FileFormatError(f"[load] {where}: cannot read the array data ({e!r})") from None
    data = raw.view(np.uint16 if mx_dtype == _core.bfloat16 else dtype)
    return from_numpy(data.reshape(shape, order="F" if fortran else "C"), mx_dtype)


def save(file, arr):
    """Save ``arr`` to a .npy file (``.npy`` is appended to a path that lacks it)."""
    with open_write(file, ".npy", "save") as f:
        write_npy(f, arr)


def _savez(file, args, kwargs, compressed):
    arrays = {f"arr_{i}": a for i, a in enumerate(args)}
    for k, v in kwargs.items():
        if k in arrays:
            raise ValueError(f"[savez] Cannot use un-named variables and keyword {k}")
        arrays[k] = v
    mode = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with open_write(file, ".npz", "savez") as f, zipfile.ZipFile(f, "w", mode) as zf:
        for k, a in arrays.items():
            with zf.open(k + ".npy", "w", force_zip64=True) as member:
                write_npy(member, a)


def savez(file, *args, **kwargs):
    """Save several arrays to an uncompressed .npz (positional ones are named arr_0, ...)."""
    _savez(file, args, kwargs, compressed=False)


def savez_compressed(file, *args, **kwargs):
    """Save several arrays to a compressed .npz (positional ones are named arr_0, ...)."""
    _savez(file, args, kwargs, compressed=True)


def load_npy(file):
    with open_read(file, "load") as (f, where):
        return read_npy(f, where)


def load_npz(file):
    with open_read(file, "load") as (f, where):
        # zipfile reports a corrupt archive in many ways (BadZipFile, NotImplementedError for
        # nonsense flags, ValueError for negative offsets, ...): all of them mean malformed.
        try:
            zf = zipfile.ZipFile(f)
        except Exception as e:
            raise FileFormatError(f"[load] {where}: not a valid .npz (zip) file ({e!r})") from None
        out = {}
        with zf:
            for info in zf.infolist():
                name = info.filename
                try:
                    member = zf.open(info)
                except Exception as e:
                    msg = f"[load] {where}: corrupt zip member {name!r} ({e!r})"
                    raise FileFormatError(msg) from None
                with member:
                    key = name[:-4] if name.endswith(".npy") else name
                    out[key] = read_npy(member, f"{where}:{name}", total=info.file_size)
        return out
