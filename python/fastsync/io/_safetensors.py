""".safetensors files: an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and [begin, end) offsets into the data, plus an optional "__metadata__" map of
strings), then the raw little-endian tensor bytes. Written here in a few lines, no dependency.
"""

import json
import struct

import numpy as np

from .. import _core
from ._common import (
    MX_TO_NP,
    FileFormatError,
    from_numpy,
    open_read,
    open_write,
    read_exact,
    remaining,
    to_numpy,
)

_MAX_HEADER = 100_000_000  # as the reference implementation

_CODES = {
    "BOOL": _core.bool_,
    "U8": _core.uint8, "U16": _core.uint16, "U32": _core.uint32, "U64": _core.uint64,
    "I8": _core.int8, "I16": _core.int16, "I32": _core.int32, "I64": _core.int64,
    "F16": _core.float16, "BF16": _core.bfloat16, "F32": _core.float32, "F64": _core.float64,
}
if getattr(_core, "complex64", None) is not None:
    _CODES["C64"] = _core.complex64
_CODE_OF = {v: k for k, v in _CODES.items()}
# fp8 tensors load as their raw bytes (uint8), as MLX does; convert them with from_fp8.
_CODES.update({"F8_E4M3": _core.uint8, "F8_E5M2": _core.uint8})


def save_safetensors(file, arrays, metadata=None):
    """Save a dict of arrays to a .safetensors file (the suffix is appended to a path that
    lacks it). ``metadata``: an optional dict of str to str, stored as "__metadata__"."""
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise ValueError(
            "[save_safetensors] Metadata must be a dictionary with string keys and values"
        )
    if not isinstance(arrays, dict):
        raise TypeError("[save_safetensors] arrays must be a dict of str to array")
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name, arr in arrays.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"[save_safetensors] invalid tensor name {name!r}")
        data, dtype = to_numpy(arr)
        if dtype not in _CODE_OF:
            raise ValueError(f"[save_safetensors] dtype {dtype.name} is not supported")
        header[name] = {
            "dtype": _CODE_OF[dtype],
            "shape": list(data.shape),
            "data_offsets": [offset, offset + data.nbytes],
        }
        blobs.append(data.reshape(-1).view(np.uint8))
        offset += data.nbytes
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # align the data to 8 bytes
    with open_write(file, ".safetensors", "save_safetensors") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def _bad(where, msg):
    return FileFormatError(f"[load] {where}: malformed safetensors file: {msg}")


def _uints(xs):
    return isinstance(xs, list) and all(type(x) is int and x >= 0 for x in xs)


def _entry(where, name, e):
    """(fastsync dtype, shape, begin, end) of one header entry, validated."""
    if not (isinstance(e, dict) and {"dtype", "shape", "data_offsets"} <= e.keys()):
        raise _bad(where, f"tensor {name!r} lacks dtype, shape or data_offsets")
    code, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
    if not isinstance(code, str) or code not in _CODES:
        raise ValueError(f"[load] {where}: tensor {name!r} has unsupported dtype {code!r}")
    if not _uints(shape) or not _uints(offs) or len(offs) != 2 or offs[0] > offs[1]:
        raise _bad(where, f"tensor {name!r} has invalid shape {shape!r} or offsets {offs!r}")
    dtype = _CODES[code]
    size = int(np.prod(shape, dtype=object)) * MX_TO_NP[dtype].itemsize
    if offs[1] - offs[0] != size:
        raise _bad(where, f"tensor {name!r}: offsets {offs} do not hold {size} bytes")
    return dtype, tuple(shape), offs[0], offs[1]


def load_safetensors(file):
    """(dict of arrays, metadata dict) from a .safetensors path or file object."""
    with open_read(file, "load") as (f, where):
        start = f.tell() if hasattr(f, "tell") else 0
        (n,) = struct.unpack("<Q", read_exact(f, 8, where, "header length").tobytes())
        if n == 0 or n >= _MAX_HEADER:
            raise _bad(where, f"invalid header length {n}")
        raw = read_exact(f, n, where, "JSON header").tobytes()
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _bad(where, f"header is not valid JSON ({e})") from None
        if not isinstance(header, dict):
            raise _bad(where, "header is not a JSON object")
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise _bad(where, "__metadata__ is not a map of strings")
        entries = {k: _entry(where, k, e) for k, e in header.items()}
        data_start, data_size = start + 8 + n, remaining(f)
        out = {}
        for name, (dtype, shape, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2]):
            if data_size is not None and end > data_size:
                raise FileFormatError(
                    f"[load] {where}: file is truncated: tensor {name!r} ends at data byte "
                    f"{end}, the data section holds {data_size}"
                )
            f.seek(data_start + begin)
            buf = read_exact(f, end - begin, where, f"tensor {name!r}")
            data = buf.view(MX_TO_NP[dtype].newbyteorder("<")).reshape(shape)
            out[name] = from_numpy(data, dtype)
        return out, metadata
