""".gguf files (GGML's format, version 3), read and written here without a dependency.

Layout: "GGUF", version u32, tensor count u64, metadata count u64; the metadata (key string,
value type u32, value); each tensor's info (name, n_dims u32, dims u64 innermost first, GGML
type u32, data offset u64); padding to the alignment (general.alignment, default 32); the
tensor data, each tensor aligned. Strings are a u64 length and UTF-8 bytes.

Tensors of F32, F16, BF16, F64, I8, I16, I32, I64 load as arrays of that dtype. Q4_0, Q4_1,
Q4_K and Q8_0 tensors load as MLX does: a (weight, scales, biases) triplet for
``dequantize(..., group_size=32)``: ``name`` holds the packed uint32 weights, and
``prefix.scales`` / ``prefix.biases`` (``prefix`` is ``name`` less ".weight") float16 arrays.
Other quantized types raise NotImplementedError naming the type.
"""

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

_ALIGN = 32
# Metadata value types: id -> NumPy dtype (little-endian), and the fastsync dtypes they hold.
_VAL = {0: "u1", 1: "i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?",
        10: "<u8", 11: "<i8", 12: "<f8"}
_STRING, _ARRAY = 8, 9
_VAL_OF = {
    _core.uint8: 0, _core.int8: 1, _core.uint16: 2, _core.int16: 3, _core.uint32: 4,
    _core.int32: 5, _core.float32: 6, _core.bool_: 7, _core.uint64: 10, _core.int64: 11,
    _core.float64: 12,
}
_MX_OF = {v: k for k, v in _VAL_OF.items()}
# Tensor types stored as plain arrays.
_PLAIN = {0: _core.float32, 1: _core.float16, 24: _core.int8, 25: _core.int16, 26: _core.int32,
          27: _core.int64, 28: _core.float64, 30: _core.bfloat16}
_PLAIN_OF = {v: k for k, v in _PLAIN.items()}
# Quantized types MLX loads: id -> (name, elements per block, bytes per block, bits).
_QUANT = {2: ("Q4_0", 32, 18, 4), 3: ("Q4_1", 32, 20, 4), 8: ("Q8_0", 32, 34, 8),
          12: ("Q4_K", 256, 144, 4)}
_OTHER = {6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 13: "Q5_K", 14: "Q6_K",
          15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL",
          21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0"}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _meta_value(key, v):
    """(value type, encoded value) of one metadata entry."""
    if isinstance(v, str):
        return _STRING, _str(v)
    if isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v):
        return _ARRAY, struct.pack("<IQ", _STRING, len(v)) + b"".join(_str(s) for s in v)
    if not isinstance(v, _core.array):
        raise TypeError(
            f"[save_gguf] metadata {key!r}: expected a str, a list of str or an array, "
            f"got {type(v).__name__}"
        )
    if v.dtype not in _VAL_OF:
        raise ValueError(f"[save_gguf] metadata {key!r}: array type {v.dtype.name} not supported")
    if v.ndim > 1 or v.size == 0:
        raise ValueError(f"[save_gguf] metadata {key!r}: only 0-d or 1-d non-empty arrays")
    t = _VAL_OF[v.dtype]
    data = np.asarray(v).astype(_VAL[t]).tobytes()
    return (t, data) if v.ndim == 0 else (_ARRAY, struct.pack("<IQ", t, v.size) + data)


def save_gguf(file, arrays, metadata=None):
    """Save a dict of arrays (and optional metadata: str, list of str, or 0-d/1-d arrays)
    to a .gguf file; the suffix is appended to a path that lacks it."""
    if not isinstance(arrays, dict):
        raise TypeError("[save_gguf] arrays must be a dict of str to array")
    kvs = [_str(k) + struct.pack("<I", t) + b for k, (t, b) in
           ((k, _meta_value(k, v)) for k, v in (metadata or {}).items())]
    infos, blobs, offset = [], [], 0
    for name, arr in arrays.items():
        data, dtype = to_numpy(arr)
        if dtype not in _PLAIN_OF:
            raise ValueError(f"[save_gguf] dtype {dtype.name} is not supported")
        offset += -offset % _ALIGN
        dims = data.shape[::-1]
        infos.append(_str(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims,
                                              _PLAIN_OF[dtype], offset))
        blobs.append((offset, data.reshape(-1).view(np.uint8)))
        offset += data.nbytes
    head = b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(kvs)) + b"".join(kvs + infos)
    with open_write(file, ".gguf", "save_gguf") as f:
        f.write(head + b"\0" * (-len(head) % _ALIGN))
        pos = 0
        for off, b in blobs:
            f.write(b"\0" * (off - pos))
            f.write(b)
            pos = off + b.nbytes


class _Reader:
    def __init__(self, f, where):
        self.f, self.where, self.left = f, where, remaining(f)

    def take(self, n, what):
        b = read_exact(self.f, n, self.where, what, self.left)
        if self.left is not None:
            self.left -= n
        return b

    def unpack(self, fmt, what):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what).tobytes())

    def string(self, what):
        (n,) = self.unpack("<Q", what)
        try:
            return self.take(n, what).tobytes().decode("utf-8")
        except UnicodeDecodeError:
            raise FileFormatError(f"[load] {self.where}: {what} is not UTF-8") from None

    def value(self, t, key, nested=False):
        if t == _STRING:
            return self.string(f"metadata {key!r}")
        if t in _VAL:
            (v,) = self.take(np.dtype(_VAL[t]).itemsize, f"metadata {key!r}").view(_VAL[t])
            return _core.array(np.array(v).astype(np.dtype(_VAL[t]).newbyteorder("=")), _MX_OF[t])
        if t == _ARRAY and not nested:
            et, n = self.unpack("<IQ", f"metadata {key!r}")
            if et == _STRING:
                return [self.string(f"metadata {key!r}") for _ in range(n)]
            if et not in _VAL:
                raise FileFormatError(
                    f"[load] {self.where}: metadata {key!r}: unsupported array element type {et}"
                )
            raw = self.take(n * np.dtype(_VAL[et]).itemsize, f"metadata {key!r}")
            return _core.array(raw.view(_VAL[et]).astype(np.dtype(_VAL[et]).newbyteorder("=")),
                               _MX_OF[et])
        raise FileFormatError(f"[load] {self.where}: metadata {key!r}: unsupported value type {t}")


def _pack(q, bits):
    """Unsigned ``bits``-wide values, consecutive ones packed from the low bits of uint32s."""
    per = 32 // bits
    q = q.reshape(-1, per).astype(np.uint32)
    return np.bitwise_or.reduce(q << (bits * np.arange(per, dtype=np.uint32)), axis=1)


def _quantized(raw, qtype, shape, name, where):
    """(packed uint32 weights, float16 scales, float16 biases) for groups of 32."""
    qname, block, nbytes, bits = _QUANT[qtype]
    if not shape or shape[-1] % block:
        raise FileFormatError(
            f"[load] {where}: tensor {name!r} ({qname}) has shape {shape}: the last "
            f"dimension must be a multiple of {block}"
        )
    blk = raw.reshape(-1, nbytes)
    d = blk[:, 0:2].copy().view("<f2").astype(np.float32)
    if qtype in (2, 3):  # Q4_0, Q4_1: scale (, min), 16 bytes of nibbles (j | j + 16 << 4)
        qs = blk[:, 2:18] if qtype == 2 else blk[:, 4:20]
        q = np.concatenate([qs & 0xF, qs >> 4], axis=1)
        bias = -8 * d if qtype == 2 else blk[:, 2:4].copy().view("<f2").astype(np.float32)
    elif qtype == 8:  # Q8_0: scale, 32 int8 (stored as unsigned with a -128 bias)
        q, bias = blk[:, 2:34] ^ 0x80, -128 * d
    else:  # Q4_K: d, dmin, 12 bytes of 6-bit (scale, min) pairs, 128 bytes of nibbles
        dmin = blk[:, 2:4].copy().view("<f2").astype(np.float32)
        s = blk[:, 4:16].astype(np.uint32)
        sc = np.concatenate([s[:, 0:4] & 63, (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)], 1)
        mn = np.concatenate([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)], 1)
        qs = blk[:, 16:144].reshape(-1, 4, 1, 32)
        q = np.concatenate([qs & 0xF, qs >> 4], axis=2)  # 64 values per 32-byte chunk
        d, bias = sc.astype(np.float32) * d, -(mn.astype(np.float32) * dmin)  # d: (blocks, 1)
    with np.errstate(over="ignore"):
        scales = d.astype(np.float16).reshape(*shape[:-1], shape[-1] // 32)
        biases = bias.astype(np.float16).reshape(scales.shape)
    weights = _pack(q, bits).reshape(*shape[:-1], shape[-1] * bits // 32)
    return _core.array(weights), _core.array(scales), _core.array(biases)


def load_gguf(file):
    """(dict of arrays, metadata dict) from a .gguf path or file object."""
    with open_read(file, "load") as (f, where):
        r = _Reader(f, where)
        magic = r.take(4, "magic").tobytes()
        if magic != b"GGUF":
            raise FileFormatError(f"[load] {where}: not a GGUF file (magic {magic!r})")
        (version,) = r.unpack("<I", "version")
        if version not in (2, 3):
            raise FileFormatError(f"[load] {where}: unsupported GGUF version {version}")
        n_tensors, n_kv = r.unpack("<QQ", "header")
        metadata = {}
        for _ in range(n_kv):
            key = r.string("metadata key")
            (t,) = r.unpack("<I", f"metadata {key!r}")
            metadata[key] = r.value(t, key)
        align = metadata.get("general.alignment", _ALIGN)
        if isinstance(align, _core.array) and align.ndim == 0 and align.dtype in _VAL_OF:
            align = int(align.item())
        if not isinstance(align, int) or align <= 0 or align & (align - 1):
            raise FileFormatError(f"[load] {where}: invalid general.alignment {align}")
        infos = []
        for _ in range(n_tensors):
            name = r.string("tensor name")
            (nd,) = r.unpack("<I", f"tensor {name!r}")
            if nd > 8:
                raise FileFormatError(f"[load] {where}: tensor {name!r} has {nd} dimensions")
            *dims, t, off = r.unpack(f"<{nd}QIQ", f"tensor {name!r}")
            infos.append((name, tuple(dims[::-1]), t, off))
        pad = -f.tell() % align
        data_start = f.tell() + pad
        size = None if r.left is None else r.left - pad  # bytes of the data section
        out = {}
        for name, shape, t, off in infos:
            n = int(np.prod(shape, dtype=object))
            if t in _PLAIN:
                dtype = _PLAIN[t]
                nbytes = n * MX_TO_NP[dtype].itemsize
            elif t in _QUANT:
                nbytes = n // _QUANT[t][1] * _QUANT[t][2]
            elif t in _OTHER:
                raise NotImplementedError(
                    f"[load] {where}: tensor {name!r} has GGML type {_OTHER[t]}, which fastsync "
                    "does not load (supported: F32, F16, BF16, F64, I8-I64, Q4_0, Q4_1, Q4_K, Q8_0)"
                )
            else:
                raise FileFormatError(f"[load] {where}: tensor {name!r} has unknown GGML type {t}")
            if size is not None and off + nbytes > size:
                raise FileFormatError(
                    f"[load] {where}: file is truncated: tensor {name!r} ends at data byte "
                    f"{off + nbytes}, the data section holds {size}"
                )
            f.seek(data_start + off)
            raw = read_exact(f, nbytes, where, f"tensor {name!r}")
            if t in _PLAIN:
                data = raw.view(MX_TO_NP[dtype].newbyteorder("<")).reshape(shape)
                new = {name: from_numpy(data, dtype)}
            else:
                prefix = name[: -len(".weight")] if name.endswith(".weight") else name
                w, s, b = _quantized(raw, t, shape, name, where)
                new = {name: w, prefix + ".scales": s, prefix + ".biases": b}
            for k, v in new.items():
                if k in out:
                    raise FileFormatError(f"[load] {where}: duplicate tensor name {k!r}")
                out[k] = v
        return out, metadata
