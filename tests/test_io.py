"""save / savez / save_safetensors / save_gguf and load: round trips of every dtype and of
0-d, empty and strided arrays, through paths and file objects, checked against NumPy and
against the file formats' layouts; truncated or corrupt files give a clear error."""

import io
import json
import os
import pathlib
import struct

import fastsync as mx
import numpy as np
import pytest
from helpers import ALL, random_array

SHAPES = [(), (0,), (0, 3), (3, 0), (2, 0, 4), (5,), (3, 4, 2)]
GGUF_DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64"]
FORMAT_ERRORS = (ValueError, RuntimeError)


def make(rng, shape, dtype):
    """(fastsync array, NumPy array of its values) of ``shape``; bfloat16 values as float32."""
    x = random_array(rng, shape, dtype)
    return mx.array(x).astype(getattr(mx, dtype)), x


def same(got, want, dtype):
    assert got.dtype == getattr(mx, dtype)
    g = np.array(got)
    assert g.shape == want.shape
    np.testing.assert_array_equal(g, want)


def views(rng, dtype):
    """Strided, transposed and broadcast arrays with their NumPy values."""
    a, x = make(rng, (4, 6), dtype)
    yield a.T, x.T
    yield a[1:4:2, ::3], x[1:4:2, ::3]
    yield mx.broadcast_to(a[0], (3, 6)), np.broadcast_to(x[0], (3, 6))


def check_usable():
    y = mx.arange(4) * 2
    assert np.array(y).tolist() == [0, 2, 4, 6]


# ---------------------------------------------------------------------------------- npy, npz


@pytest.mark.parametrize("dtype", ALL)
def test_npy_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    for i, shape in enumerate(SHAPES):
        a, x = make(rng, shape, dtype)
        mx.save(str(tmp_path / f"a{i}.npy"), a)
        same(mx.load(str(tmp_path / f"a{i}.npy")), x, dtype)
        # NumPy reads what fastsync wrote (bfloat16 as raw 2-byte values, as MLX writes it).
        n = np.load(tmp_path / f"a{i}.npy")
        if dtype == "bfloat16":
            assert n.dtype == np.dtype("V2")
            np.testing.assert_array_equal(n.view(np.uint16), (x.view(np.uint32) >> 16))
        else:
            np.testing.assert_array_equal(n, x)
            assert n.dtype == x.dtype
    for a, x in views(rng, dtype):
        buf = io.BytesIO()
        mx.save(buf, a)
        buf.seek(0)
        same(mx.load(buf, format="npy"), x, dtype)


@pytest.mark.parametrize("dtype", [d for d in ALL if d != "bfloat16"])
def test_npy_written_by_numpy(tmp_path, dtype):
    rng = np.random.default_rng(1)
    x = random_array(rng, (3, 5), dtype)
    big_endian = x.astype(x.dtype.newbyteorder(">"))
    for name, arr in [("c", x), ("f", np.asfortranarray(x)), ("be", big_endian)]:
        np.save(tmp_path / f"{name}.npy", arr)
        same(mx.load(tmp_path / f"{name}.npy"), x, dtype)
        with open(tmp_path / f"{name}.npy", "rb") as f:
            same(mx.load(f), x, dtype)


def test_npy_paths(tmp_path):
    a = mx.arange(3)
    mx.save(str(tmp_path / "noext"), a)
    mx.save(tmp_path / "other.bin", a)  # os.PathLike
    assert sorted(os.listdir(tmp_path)) == ["noext.npy", "other.bin.npy"]
    assert np.array(mx.load(pathlib.Path(tmp_path / "noext.npy"))).tolist() == [0, 1, 2]
    mx.save(tmp_path / "x.npy", [1.5, 2.5])  # array-likes are converted
    assert np.load(tmp_path / "x.npy").tolist() == [1.5, 2.5]


@pytest.mark.parametrize("version", [(2, 0), (3, 0)])
def test_npy_format_versions_2_and_3(tmp_path, version):
    # 2.0 (a 4-byte header length) is what NumPy writes for very large headers, 3.0 (the
    # same with a UTF-8 header) for field names outside latin-1.
    x = np.arange(6, dtype=np.int16).reshape(3, 2)
    with open(tmp_path / "v.npy", "wb") as f:
        np.lib.format.write_array(f, x, version=version)
    same(mx.load(tmp_path / "v.npy"), x, "int16")


def test_npy_unsupported_dtypes(tmp_path):
    for arr in [np.zeros(3, np.complex128), np.array(["a"]), np.zeros(2, "f4,i4")]:
        np.save(tmp_path / "u.npy", arr)
        with pytest.raises(ValueError, match="unsupported dtype"):
            mx.load(tmp_path / "u.npy")
    np.save(tmp_path / "o.npy", np.array([{}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        mx.load(tmp_path / "o.npy")
    check_usable()


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_round_trip(tmp_path, compressed):
    rng = np.random.default_rng(2)
    arrays = {f"k_{d}": make(rng, (2, 3), d) for d in ALL}
    arrays["empty"] = make(rng, (0, 3), "float32")
    arrays["scalar"] = make(rng, (), "int16")
    arrays["strided"] = next(views(rng, "float32"))
    first = make(rng, (4,), "uint8")
    fn = mx.savez_compressed if compressed else mx.savez
    fn(str(tmp_path / "a"), first[0], **{k: v[0] for k, v in arrays.items()})
    out = mx.load(str(tmp_path / "a.npz"))
    assert set(out) == {"arr_0", *arrays}
    same(out["arr_0"], first[1], "uint8")
    for k, (_, x) in arrays.items():
        same(out[k], x, k[2:] if k.startswith("k_") else out[k].dtype.name)
    with np.load(tmp_path / "a.npz") as n:
        assert set(n.files) == set(out)
        np.testing.assert_array_equal(n["k_float64"], arrays["k_float64"][1])
    # File objects both ways, and NumPy's own files.
    buf = io.BytesIO()
    fn(buf, x=arrays["k_int32"][0])
    buf.seek(0)
    same(mx.load(buf, format="npz")["x"], arrays["k_int32"][1], "int32")
    np.savez(tmp_path / "n.npz", x=arrays["k_int64"][1], y=arrays["empty"][1])
    out = mx.load(tmp_path / "n.npz")
    same(out["x"], arrays["k_int64"][1], "int64")
    assert out["y"].shape == (0, 3)


def test_savez_name_clash(tmp_path):
    with pytest.raises(ValueError, match="arr_0"):
        mx.savez(tmp_path / "c.npz", mx.ones(2), arr_0=mx.ones(2))


# -------------------------------------------------------------------------------- safetensors


@pytest.mark.parametrize("dtype", ALL)
def test_safetensors_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(3)
    made = {f"s{i}": make(rng, s, dtype) for i, s in enumerate(SHAPES)}
    made.update({f"v{i}": v for i, v in enumerate(views(rng, dtype))})
    mx.save_safetensors(str(tmp_path / "t"), {k: v[0] for k, v in made.items()})
    out = mx.load(str(tmp_path / "t.safetensors"))
    assert set(out) == set(made)
    for k, (_, x) in made.items():
        same(out[k], x, dtype)
    with open(tmp_path / "f.safetensors", "wb") as f:
        mx.save_safetensors(f, {"a": made["s6"][0]})
    with open(tmp_path / "f.safetensors", "rb") as f:
        same(mx.load(f)["a"], made["s6"][1], dtype)


def test_safetensors_layout(tmp_path):
    # The file is what the format says: u64 header length, JSON header, little-endian data.
    a = mx.array([[1, 2, 3], [4, 5, 6]], mx.int16)
    b = mx.array([1.0, -2.0], mx.bfloat16)
    mx.save_safetensors(tmp_path / "l.safetensors", {"a": a, "b": b}, {"format": "np"})
    raw = (tmp_path / "l.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8 : 8 + n])
    assert (8 + n) % 8 == 0
    assert head["__metadata__"] == {"format": "np"}
    assert head["a"]["dtype"] == "I16" and head["a"]["shape"] == [2, 3]
    assert head["b"]["dtype"] == "BF16"
    data = raw[8 + n :]
    s, e = head["a"]["data_offsets"]
    assert np.frombuffer(data[s:e], "<i2").tolist() == [1, 2, 3, 4, 5, 6]
    s, e = head["b"]["data_offsets"]
    assert np.frombuffer(data[s:e], "<u2").tolist() == [0x3F80, 0xC000]


def test_safetensors_written_by_hand(tmp_path):
    # A file as another writer might lay it out: tensors out of order, a gap, fp8 data.
    x = np.arange(6, dtype="<f4").reshape(2, 3)
    head = {
        "z": {"dtype": "F32", "shape": [2, 3], "data_offsets": [8, 32]},
        "y": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]},
        "q": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [32, 34]},
    }
    h = json.dumps(head).encode()
    body = bytes([7, 8, 9]) + b"\0" * 5 + x.tobytes() + bytes([0x38, 0xB8])
    (tmp_path / "h.safetensors").write_bytes(struct.pack("<Q", len(h)) + h + body)
    out, meta = mx.load(tmp_path / "h.safetensors", return_metadata=True)
    assert meta == {}
    same(out["z"], x, "float32")
    same(out["y"], np.array([7, 8, 9], np.uint8), "uint8")
    same(out["q"], np.array([0x38, 0xB8], np.uint8), "uint8")  # raw fp8 bytes, as MLX


def test_safetensors_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    for meta in [None, {}, {"a": "b", "format": "mlx"}]:
        mx.save_safetensors(path, {"x": mx.ones((2, 2))}, meta)
        arrays, got = mx.load(path, return_metadata=True)
        assert got == (meta or {}) and list(arrays) == ["x"]
    for bad in [{"testing": 0}, {1: "a"}, ["a"]]:
        with pytest.raises(ValueError, match="Metadata"):
            mx.save_safetensors(path, {"x": mx.ones(2)}, bad)
    with pytest.raises(ValueError):
        mx.save_safetensors(path, {"__metadata__": mx.ones(2)})


# ------------------------------------------------------------------------------------- gguf


@pytest.mark.parametrize("dtype", GGUF_DTYPES)
def test_gguf_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(4)
    made = {f"s{i}": make(rng, s, dtype) for i, s in enumerate(SHAPES)}
    made.update({f"v{i}": v for i, v in enumerate(views(rng, dtype))})
    mx.save_gguf(str(tmp_path / "g"), {k: v[0] for k, v in made.items()})
    out = mx.load(str(tmp_path / "g.gguf"))
    assert set(out) == set(made)
    for k, (_, x) in made.items():
        same(out[k], x, dtype)
    buf = io.BytesIO()
    mx.save_gguf(buf, {"a": made["s6"][0]})
    buf.seek(0)
    same(mx.load(buf, format="gguf")["a"], made["s6"][1], dtype)


def test_gguf_layout(tmp_path):
    a = mx.array([[1, 2, 3], [4, 5, 6]], mx.int32)
    mx.save_gguf(tmp_path / "l.gguf", {"w": a}, {"k": "v"})
    raw = (tmp_path / "l.gguf").read_bytes()
    assert raw[:4] == b"GGUF" and struct.unpack_from("<IQQ", raw, 4) == (3, 1, 1)
    pos = 24
    (n,) = struct.unpack_from("<Q", raw, pos)
    assert raw[pos + 8 : pos + 8 + n] == b"k"
    pos += 8 + n
    assert struct.unpack_from("<IQ", raw, pos) == (8, 1) and raw[pos + 12 : pos + 13] == b"v"
    pos += 13
    (n,) = struct.unpack_from("<Q", raw, pos)
    pos += 8 + n
    # Dims innermost first, GGML type I32 (26), offset 0; data at the next multiple of 32.
    assert struct.unpack_from("<I2QIQ", raw, pos) == (2, 3, 2, 26, 0)
    start = pos + 32 + (-(pos + 32) % 32)
    assert np.frombuffer(raw[start : start + 24], "<i4").tolist() == [1, 2, 3, 4, 5, 6]


def test_gguf_metadata(tmp_path):
    path = tmp_path / "m.gguf"
    weights = {"w": mx.ones((4, 4), mx.int32)}
    meta = {"s": "data", "l": ["data1", "", "data345"], "f": mx.array(1.5)}
    for t in ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
              "float32", "float64", "bool_"]:
        meta[f"a_{t}"] = mx.array([1, 0, 1]).astype(getattr(mx, t))
        meta[f"z_{t}"] = mx.array(1).astype(getattr(mx, t))
    mx.save_gguf(path, weights, meta)
    arrays, got = mx.load(path, return_metadata=True)
    assert list(arrays) == ["w"] and set(got) == set(meta)
    for k, v in meta.items():
        if isinstance(v, mx.array):
            assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
            np.testing.assert_array_equal(np.array(got[k]), np.array(v))
        else:
            assert got[k] == v
    mx.save_gguf(path, weights, {})
    assert mx.load(path, return_metadata=True)[1] == {}
    for bad in ["float16", "bfloat16"]:
        with pytest.raises(ValueError, match="not supported"):
            mx.save_gguf(path, weights, {"m": mx.array(1.0).astype(getattr(mx, bad))})
    for bad in [mx.ones((2, 2)), mx.zeros((0,))]:
        with pytest.raises(ValueError):
            mx.save_gguf(path, weights, {"m": bad})
    with pytest.raises(TypeError):
        mx.save_gguf(path, weights, {"m": 3})
    with pytest.raises(ValueError, match="uint8"):
        mx.save_gguf(path, {"w": mx.ones(2, mx.uint8)})


def gguf_file(path, tensors, kv=b"", n_kv=0, align=32):
    """A GGUF v3 file from (name, dims innermost first, GGML type, data bytes) tuples."""
    head, blobs, off = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), n_kv) + kv, b"", 0
    for name, dims, t, data in tensors:
        off += -off % align
        head += struct.pack("<Q", len(name)) + name.encode()
        head += struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, t, off)
        blobs += b"\0" * (off - len(blobs)) + data
        off += len(data)
    path.write_bytes(head + b"\0" * (-len(head) % align) + blobs)


def unpack(w, bits):
    w = np.array(w)
    q = (w[..., None] >> (bits * np.arange(32 // bits, dtype=np.uint32))) & ((1 << bits) - 1)
    return q.reshape(*w.shape[:-1], -1).astype(np.float32)


def dequantized(out, name, bits):
    prefix = name.removesuffix(".weight")
    s, b = out[prefix + ".scales"], out[prefix + ".biases"]
    assert out[name].dtype == mx.uint32 and s.dtype == b.dtype == mx.float16
    sc = np.repeat(np.array(s).astype(np.float32), 32, axis=-1)
    bi = np.repeat(np.array(b).astype(np.float32), 32, axis=-1)
    return unpack(out[name], bits) * sc + bi


def test_gguf_quantized(tmp_path):
    rng = np.random.default_rng(5)
    rows, cols = 3, 512
    nb = rows * cols // 32
    d = rng.uniform(-2, 2, (nb, 1)).astype(np.float16)
    m = rng.uniform(-2, 2, (nb, 1)).astype(np.float16)
    q4 = rng.integers(0, 16, (nb, 32), dtype=np.uint8)
    q8 = rng.integers(-128, 128, (nb, 32)).astype(np.int8)
    nib = (q4[:, :16] | (q4[:, 16:] << 4)).astype(np.uint8)  # GGML: byte j = j | j+16 << 4
    f, df, mf = np.float32, d.astype(np.float32), m.astype(np.float32)
    cases = {
        "q40.weight": (2, 4, np.hstack([d.view(np.uint8), nib]), df * (q4.astype(f) - 8)),
        "q41.weight": (3, 4, np.hstack([d.view(np.uint8), m.view(np.uint8), nib]),
                       df * q4.astype(f) + mf),
        "q80": (8, 8, np.hstack([d.view(np.uint8), q8.view(np.uint8)]), df * q8.astype(f)),
    }
    # Q4_K: super-blocks of 256: d, dmin, 12 bytes of 6-bit (scale, min) pairs, 128 bytes of
    # nibbles. d and dmin are powers of two so that the float16 scales and biases are exact.
    nk = rows * cols // 256
    sc = rng.integers(0, 64, (nk, 8))
    mn = rng.integers(0, 64, (nk, 8))
    packed = np.zeros((nk, 12), np.uint8)
    packed[:, 0:4] = (sc[:, :4] & 63) | ((sc[:, 4:] >> 4) << 6)
    packed[:, 4:8] = (mn[:, :4] & 63) | ((mn[:, 4:] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:] & 15) | ((mn[:, 4:] & 15) << 4)
    qk = rng.integers(0, 16, (nk, 256), dtype=np.uint8)
    chunks = qk.reshape(nk, 4, 2, 32)  # per 64 values: 32 low nibbles, then 32 high nibbles
    nibk = (chunks[:, :, 0] | (chunks[:, :, 1] << 4)).reshape(nk, 128)
    dk, dmk = np.full((nk, 1), 0.125, np.float16), np.full((nk, 1), 0.0625, np.float16)
    blocks = np.hstack([dk.view(np.uint8), dmk.view(np.uint8), packed, nibk])
    want = (np.repeat(0.125 * sc, 32, 1) * qk - np.repeat(0.0625 * mn, 32, 1)).astype(f)
    cases["qk.weight"] = (12, 4, blocks, want)
    gguf_file(tmp_path / "q.gguf", [(k, (cols, rows), t, b.tobytes())
                                     for k, (t, _, b, _) in cases.items()])
    out = mx.load(tmp_path / "q.gguf")
    assert set(out) == {"q40.weight", "q40.scales", "q40.biases", "q41.weight", "q41.scales",
                        "q41.biases", "q80", "q80.scales", "q80.biases", "qk.weight",
                        "qk.scales", "qk.biases"}
    for name, (_, bits, _, expect) in cases.items():
        assert out[name].shape == (rows, cols * bits // 32)
        assert out[name.removesuffix(".weight") + ".scales"].shape == (rows, cols // 32)
        np.testing.assert_array_equal(dequantized(out, name, bits), expect.reshape(rows, cols))


def test_gguf_unsupported_quant_type(tmp_path):
    gguf_file(tmp_path / "q6.gguf", [("w", (256,), 14, b"\0" * 210)])
    with pytest.raises(NotImplementedError, match="Q6_K"):
        mx.load(tmp_path / "q6.gguf")
    gguf_file(tmp_path / "bad.gguf", [("w", (30,), 2, b"\0" * 18)])
    with pytest.raises(ValueError, match="multiple of 32"):
        mx.load(tmp_path / "bad.gguf")


def test_gguf_custom_alignment(tmp_path):
    key = b"general.alignment"
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<II", 4, 64)
    x = np.arange(5, dtype="<f4")
    gguf_file(tmp_path / "a.gguf", [("a", (1,), 0, b"\0" * 4), ("b", (5,), 0, x.tobytes())],
              kv, 1, align=64)
    out, meta = mx.load(tmp_path / "a.gguf", return_metadata=True)
    same(out["b"], x, "float32")
    assert np.array(meta["general.alignment"]).item() == 64


# ------------------------------------------------------------------------------------ errors


def test_missing_file_and_bad_arguments(tmp_path):
    for name in ["nope.npy", "nope.npz", "nope.safetensors", "nope.gguf"]:
        with pytest.raises(FileNotFoundError) as e:
            mx.load(tmp_path / name)
        assert isinstance(e.value, ValueError) and name in str(e.value)
    (tmp_path / "x.bin").write_bytes(b"123")
    with pytest.raises(ValueError, match="format"):
        mx.load(tmp_path / "x.bin")
    with pytest.raises(ValueError, match="format"):
        mx.load(tmp_path / "x.bin", format="pickle")
    with pytest.raises(ValueError, match="extension"):
        mx.load(str(tmp_path / "noext"))
    with pytest.raises(ValueError, match="format="):
        mx.load(io.BytesIO(b""))
    mx.save(tmp_path / "a.npy", mx.ones(2))
    with pytest.raises(ValueError, match="metadata"):
        mx.load(tmp_path / "a.npy", return_metadata=True)
    with pytest.raises(TypeError):
        mx.load(3)
    with pytest.raises(TypeError):
        mx.save(3, mx.ones(2))


def _files(tmp_path):
    """One small file of each format, as bytes."""
    rng = np.random.default_rng(6)
    a, _ = make(rng, (4, 5), "float32")
    b, _ = make(rng, (3,), "bfloat16")
    mx.save(tmp_path / "f.npy", a)
    mx.savez_compressed(tmp_path / "f.npz", a=a, b=b)
    mx.save_safetensors(tmp_path / "f.safetensors", {"a": a, "b": b}, {"m": "x"})
    mx.save_gguf(tmp_path / "f.gguf", {"a": a, "b": b}, {"m": "x", "l": ["p", "q"]})
    exts = ["npy", "npz", "safetensors", "gguf"]
    return {ext: (tmp_path / f"f.{ext}").read_bytes() for ext in exts}


@pytest.mark.parametrize("ext", ["npy", "npz", "safetensors", "gguf"])
def test_truncated_files(tmp_path, ext):
    raw = _files(tmp_path)[ext]
    path = tmp_path / f"t.{ext}"
    for cut in range(len(raw)):
        path.write_bytes(raw[:cut])
        with pytest.raises(FORMAT_ERRORS) as e:
            mx.load(path)
        assert str(path) in str(e.value), (cut, e.value)
        with pytest.raises(FORMAT_ERRORS):
            mx.load(io.BytesIO(raw[:cut]), format=ext)
    check_usable()


@pytest.mark.parametrize("ext", ["npy", "safetensors", "gguf"])
def test_corrupt_headers(tmp_path, ext):
    # Flipped bytes anywhere in the header: the load succeeds or raises a clear error.
    raw = _files(tmp_path)[ext]
    rng = np.random.default_rng(7)
    head = {"npy": 128, "safetensors": 8 + struct.unpack("<Q", raw[:8])[0], "gguf": 160}[ext]
    for _ in range(300):
        bad = bytearray(raw)
        for i in rng.integers(0, head, rng.integers(1, 4)):
            bad[i] = int(rng.integers(0, 256))
        try:
            mx.load(io.BytesIO(bytes(bad)), format=ext)
        except (*FORMAT_ERRORS, NotImplementedError):
            pass
    check_usable()


def test_specific_corruptions(tmp_path):
    st = tmp_path / "c.safetensors"
    for head, match in [
        (b"", "header length"),
        (b"{xx}", "JSON"),
        (b"[]", "JSON object"),
        (b'{"a":{"dtype":"F32","shape":[2]}}', "data_offsets"),
        (b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', "do not hold"),
        (b'{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', "invalid shape"),
        (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "truncated"),
        (b'{"a":{"dtype":"X99","shape":[1],"data_offsets":[0,4]}}', "unsupported dtype"),
        (b'{"__metadata__":{"a":1}}', "__metadata__"),
    ]:
        st.write_bytes(struct.pack("<Q", len(head)) + head)
        with pytest.raises(ValueError, match=match):
            mx.load(st)
    for raw in [struct.pack("<Q", 1 << 40) + b"{}", b"\1\0"]:
        st.write_bytes(raw)
        with pytest.raises(ValueError, match="header length"):
            mx.load(st)
    npy = tmp_path / "c.npy"
    npy.write_bytes(b"not a numpy file at all")
    with pytest.raises(ValueError, match="not a valid .npy"):
        mx.load(npy)
    npz = tmp_path / "c.npz"
    npz.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(RuntimeError, match="zip"):
        mx.load(npz)
    gg = tmp_path / "c.gguf"
    gg.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 60))
    with pytest.raises(ValueError, match="truncated"):
        mx.load(gg)
    gg.write_bytes(b"GGML" + b"\0" * 20)
    with pytest.raises(ValueError, match="not a GGUF"):
        mx.load(gg)
    check_usable()
