"""Affine quantization (quantize / dequantize / quantized_matmul) against a NumPy
reference of MLX's format, MLX itself where installed, and the quantized nn layers."""

import importlib.util

import fastsync as mx
import fastsync.nn as nn
import numpy as np
import pytest
from fastsync.utils import tree_flatten

RNG = np.random.default_rng(11)
CASES = [(b, g) for b in (2, 4, 8) for g in (32, 64, 128)]


def np_unpack(packed, bits):
    per = 32 // bits
    shifts = np.arange(per, dtype=np.uint32) * bits
    q = (packed[..., None] >> shifts) & np.uint32(2**bits - 1)
    return q.reshape(*packed.shape[:-1], -1)


@pytest.mark.parametrize("bits,group", CASES)
def test_roundtrip_and_format(bits, group):
    w = RNG.standard_normal((6, 256)).astype(np.float32)
    wq, scales, biases = mx.quantize(mx.array(w), group, bits)
    assert wq.dtype == mx.uint32 and wq.shape == (6, 256 * bits // 32)
    assert scales.shape == biases.shape == (6, 256 // group)
    q = np_unpack(np.array(wq), bits).reshape(6, -1, group).astype(np.float32)
    s, b = np.array(scales)[..., None], np.array(biases)[..., None]
    manual = (q * s + b).reshape(6, 256)
    deq = np.array(mx.dequantize(wq, scales, biases, group, bits))
    np.testing.assert_allclose(deq, manual, rtol=1e-6, atol=1e-6)
    # Entries land within half a step, but for the far end of a group's range, which moving
    # a level onto zero may cut by up to a step.
    step = np.abs(np.repeat(np.array(scales), group, axis=1))
    err = np.abs(deq - w)
    assert np.all(err <= step + 1e-5)
    assert np.mean(err <= step / 2 + 1e-5) > 0.95
    # Zero is a level: exact zeros survive.
    w0 = w.copy()
    w0[:, ::7] = 0
    q0 = mx.quantize(mx.array(w0), group, bits)
    d0 = np.array(mx.dequantize(*q0, group, bits))
    # Up to the rounding of scale * q + bias in float32.
    assert np.all(np.abs(d0[:, ::7]) <= 1e-6 * np.abs(np.array(q0[2])).max())


@pytest.mark.skipif(importlib.util.find_spec("mlx") is None, reason="MLX is not installed")
@pytest.mark.parametrize("bits,group", CASES)
def test_matches_mlx(bits, group):
    import mlx.core as mlx_core

    w = RNG.standard_normal((4, 256)).astype(np.float32)
    ours = mx.quantize(mx.array(w), group, bits)
    theirs = mlx_core.quantize(mlx_core.array(w), group, bits)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))


@pytest.mark.parametrize("transpose", [True, False])
def test_quantized_matmul_and_its_gradient(transpose):
    w = RNG.standard_normal((96, 128) if transpose else (128, 96)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w), 32, 4)
    deq = np.array(mx.dequantize(wq, s, b, 32, 4))
    x = RNG.standard_normal((2, 5, 128)).astype(np.float32)
    got = mx.quantized_matmul(mx.array(x), wq, s, b, transpose, 32, 4)
    want = x @ (deq.T if transpose else deq)
    np.testing.assert_allclose(np.array(got), want, rtol=1e-4, atol=1e-4)
    g = mx.grad(lambda x: mx.sum(mx.quantized_matmul(x, wq, s, b, transpose, 32, 4)))(mx.array(x))
    want_g = np.ones((2, 5, want.shape[-1]), np.float32) @ (deq if transpose else deq.T)
    np.testing.assert_allclose(np.array(g), want_g, rtol=1e-4, atol=1e-4)


def test_half_precision_and_errors():
    w = mx.array(RNG.standard_normal((4, 64)).astype(np.float32)).astype(mx.bfloat16)
    wq, s, b = mx.quantize(w, 64, 8)
    assert s.dtype == mx.bfloat16
    d = mx.dequantize(wq, s, b, 64, 8)
    assert d.dtype == mx.bfloat16
    err = np.abs(np.array(d.astype(mx.float32)) - np.array(w.astype(mx.float32))).max()
    assert err < 0.05
    with pytest.raises(ValueError, match="bits"):
        mx.quantize(mx.ones((2, 64)), 64, 3)
    with pytest.raises(ValueError, match="group_size"):
        mx.quantize(mx.ones((2, 64)), 16, 4)
    with pytest.raises(ValueError, match="multiple of group_size"):
        mx.quantize(mx.ones((2, 96)), 64, 4)
    with pytest.raises(NotImplementedError, match="mxfp4"):
        mx.quantize(mx.ones((2, 64)), 32, 4, mode="mxfp4")
    with pytest.raises(ValueError, match="uint32"):
        mx.dequantize(mx.ones((2, 8)), mx.ones((2, 1)), mx.ones((2, 1)), 64, 4)
    wq, s, b = mx.quantize(mx.ones((2, 64)), 64, 4)
    with pytest.raises(ValueError, match="does not match"):
        mx.quantized_matmul(mx.ones((3, 32)), wq, s, b, True, 64, 4)


def test_quantized_layers_and_nn_quantize(tmp_path):
    mx.random.seed(0)
    model = nn.Sequential(nn.Embedding(50, 64), nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 64))
    x = mx.array([[3, 1, 4, 1, 5]])
    before = model.layers[0].as_linear(model(x))
    nn.quantize(model, group_size=32, bits=8)
    assert isinstance(model.layers[0], nn.QuantizedEmbedding)
    assert isinstance(model.layers[1], nn.QuantizedLinear)
    after = model.layers[0].as_linear(model(x))
    np.testing.assert_allclose(np.array(after), np.array(before), atol=0.02)
    trainable = [k for k, _ in tree_flatten(model.trainable_parameters())]
    assert trainable == ["layers.1.bias", "layers.3.bias"]
    model.unfreeze()
    assert [k for k, _ in tree_flatten(model.trainable_parameters())] == trainable
    # Saved and loaded as any other module.
    path = str(tmp_path / "q.safetensors")
    model.save_weights(path)
    twin = nn.Sequential(nn.Embedding(50, 64), nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 64))
    nn.quantize(twin, group_size=32, bits=8)
    twin.load_weights(path)
    np.testing.assert_array_equal(np.array(twin(x)), np.array(model(x)))


def test_quantize_predicate():
    model = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64))
    nn.quantize(model, class_predicate=lambda path, m: path == "layers.1" and {"bits": 2})
    assert isinstance(model.layers[0], nn.Linear)
    assert isinstance(model.layers[1], nn.QuantizedLinear) and model.layers[1].bits == 2
    with pytest.raises(ValueError, match="cannot quantize"):
        nn.quantize(nn.Sequential(nn.ReLU()), class_predicate=lambda p, m: True)
