"""fastsync.nn: the Module tree, layers, fast ops and losses against NumPy references,
and gradients through modules (nn.value_and_grad, checkpoint, freezing)."""

import math

import fastsync as mx
import fastsync.nn as nn
import numpy as np
import pytest
from fastsync.utils import tree_flatten

RNG = np.random.default_rng(7)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def close(got, want, tol=1e-5):
    np.testing.assert_allclose(np.array(got), want, rtol=tol, atol=tol)


# --- the Module tree ----------------------------------------------------------------------


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.norm = nn.LayerNorm(4)
        self.extra = {"scale": mx.ones((4,)), "layers": [nn.Linear(4, 4), nn.ReLU()]}
        self.count = 3  # not state
        self._hidden = mx.zeros((2,))  # state, but not a parameter

    def __call__(self, x):
        h = self.norm(self.lin(x)) * self.extra["scale"]
        for layer in self.extra["layers"]:
            h = layer(h)
        return h


def test_parameters_follow_the_attribute_tree():
    b = Block()
    keys = [k for k, _ in tree_flatten(b.parameters())]
    assert keys == [
        "lin.weight", "lin.bias", "norm.weight", "norm.bias", "extra.scale",
        "extra.layers.0.weight", "extra.layers.0.bias",
    ]  # fmt: skip
    assert b.count == 3 and "count" not in b
    assert "_hidden" in b and "_hidden" not in b.parameters()
    assert isinstance(b.lin, nn.Linear)
    with pytest.raises(AttributeError, match="nothere"):
        b.nothere  # noqa: B018
    b.count = mx.ones((1,))  # becomes state
    assert "count" in b.parameters()


def test_freeze_unfreeze_and_trainable_parameters():
    b = Block()
    b.freeze()
    assert tree_flatten(b.trainable_parameters()) == []
    b.unfreeze()
    assert len(tree_flatten(b.trainable_parameters())) == 7
    b.lin.freeze(keys="bias")
    keys = [k for k, _ in tree_flatten(b.trainable_parameters())]
    assert "lin.bias" not in keys and "lin.weight" in keys
    b.freeze(keys=["weight"])
    keys = [k for k, _ in tree_flatten(b.trainable_parameters())]
    assert keys == ["norm.bias", "extra.scale", "extra.layers.0.bias"]
    b.unfreeze(recurse=False)
    with pytest.raises(ValueError, match="no parameter 'nope'"):
        b.freeze(keys="nope", strict=True)


def test_freeze_marks_arrays_not_the_lists_that_hold_modules():
    # Freezing everything, then unfreezing one module of a list, trains that module: the
    # list itself is not frozen, only the arrays each module holds.
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    m.freeze()
    m.layers[0].unfreeze()
    assert [k for k, _ in tree_flatten(m.trainable_parameters())] == [
        "layers.0.weight",
        "layers.0.bias",
    ]

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.d = {"x": mx.zeros((2,)), "y": mx.zeros((2,))}
            self.items_ = [mx.zeros((1,)), {"a": mx.zeros((1,))}]

    h = Holder()
    h.freeze()
    assert tree_flatten(h.trainable_parameters()) == []
    h.unfreeze(keys=["d.x", "items_.1.a"])
    assert [k for k, _ in tree_flatten(h.trainable_parameters())] == ["d.x", "items_.1.a"]


def test_children_leaves_and_named_modules():
    b = Block()
    assert set(b.children()) == {"lin", "norm", "extra"}
    leaves = b.leaf_modules()
    assert isinstance(leaves["lin"], nn.Linear)
    assert isinstance(leaves["extra"]["layers"][1], nn.ReLU)
    names = [n for n, _ in b.named_modules()]
    assert names == ["lin", "norm", "extra.layers.0", "extra.layers.1", ""]
    assert len(b.modules()) == 5
    seen = []
    b.apply_to_modules(lambda p, m: seen.append(p))
    assert seen[0] == "" and set(seen) == set(names)


def test_update_apply_and_errors():
    b = Block()
    b.update({"lin": {"bias": mx.full((4,), 2.0)}, "extra": {"layers": [{"bias": mx.ones((4,))}]}})
    close(b.lin.bias, np.full(4, 2.0))
    close(b.extra["layers"][0].bias, np.ones(4))
    with pytest.raises(ValueError, match="no parameter 'lin.nope'"):
        b.update({"lin": {"nope": mx.ones((1,))}})
    b.update({"lin": {"nope": mx.ones((1,))}}, strict=False)
    b.apply(lambda p: p * 0)
    assert all(np.all(np.array(v) == 0) for _, v in tree_flatten(b.parameters()))
    b.update_modules({"lin": nn.Linear(3, 4, bias=False)})
    assert "bias" not in b.lin
    b.set_dtype(mx.float16)
    assert all(v.dtype == mx.float16 for _, v in tree_flatten(b.parameters()))


def test_train_eval_reaches_every_module():
    b = Block()
    b.eval()
    assert not b.training and not b.extra["layers"][1].training
    b.train()
    assert all(m.training for m in b.modules())


@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_save_and_load_weights(tmp_path, ext):
    a, b = Block(), Block()
    path = str(tmp_path / f"w.{ext}")
    a.save_weights(path)
    b.load_weights(path)
    for (ka, va), (kb, vb) in zip(
        tree_flatten(a.parameters()), tree_flatten(b.parameters()), strict=True
    ):
        assert ka == kb
        close(vb, np.array(va))
    with pytest.raises(ValueError, match="missing parameters: lin.bias"):
        b.load_weights([(k, v) for k, v in tree_flatten(a.parameters()) if k != "lin.bias"])
    with pytest.raises(ValueError, match="has shape"):
        b.load_weights(
            [(k, mx.zeros((5,)) if k == "lin.bias" else v) for k, v in tree_flatten(a.parameters())]
        )
    with pytest.raises(ValueError, match="unknown format"):
        a.save_weights(str(tmp_path / "w.bin"))


def test_modules_compare_by_identity_and_print():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    assert a == a and a != b
    assert {a: 1}[a] == 1
    assert "Linear(input_dims=2, output_dims=2, bias=True)" in repr(nn.Sequential(a))


# --- layers against NumPy ---------------------------------------------------------------


def test_linear_bilinear_embedding():
    lin = nn.Linear(5, 3)
    x = randn(2, 4, 5)
    close(lin(mx.array(x)), x @ np.array(lin.weight).T + np.array(lin.bias))
    nob = nn.Linear(5, 3, bias=False)
    close(nob(mx.array(x)), x @ np.array(nob.weight).T)
    k = 1 / math.sqrt(5)
    assert np.abs(np.array(lin.weight)).max() <= k

    bl = nn.Bilinear(4, 6, 3)
    x1, x2 = randn(7, 4), randn(7, 6)
    w = np.array(bl.weight)
    want = np.einsum("ni,oji,nj->no", x1, w, x2) + np.array(bl.bias)
    close(bl(mx.array(x1), mx.array(x2)), want, 1e-4)

    emb = nn.Embedding(10, 4)
    idx = np.array([[1, 9], [0, 3]])
    close(emb(mx.array(idx)), np.array(emb.weight)[idx])
    h = randn(2, 4)
    close(emb.as_linear(mx.array(h)), h @ np.array(emb.weight).T, 1e-5)


def np_layer_norm(x, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    return (x - m) / np.sqrt(x.var(-1, keepdims=True) + eps)


def test_norms():
    x = randn(3, 5, 8)
    ln = nn.LayerNorm(8)
    ln.update({"weight": mx.array(randn(8)), "bias": mx.array(randn(8))})
    close(ln(mx.array(x)), np_layer_norm(x) * np.array(ln.weight) + np.array(ln.bias), 1e-4)
    assert "weight" not in nn.LayerNorm(8, affine=False)
    assert "bias" not in nn.LayerNorm(8, bias=False)

    rms = nn.RMSNorm(8, eps=1e-6)
    rms.update({"weight": mx.array(randn(8))})
    want = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * np.array(rms.weight)
    close(rms(mx.array(x)), want, 1e-4)

    g = randn(2, 3, 4, 6)  # N, H, W, C with 6 channels in 3 groups
    gn = nn.GroupNorm(3, 6, affine=False)
    y = g.reshape(2, -1, 3)  # channel c in group c % 3
    want = ((y - y.mean(1, keepdims=True)) / np.sqrt(y.var(1, keepdims=True) + 1e-5)).reshape(
        g.shape
    )
    close(gn(mx.array(g)), want, 1e-4)
    gp = nn.GroupNorm(3, 6, affine=False, pytorch_compatible=True)
    y = g.reshape(2, -1, 3, 2).transpose(0, 2, 1, 3).reshape(2, 3, -1)
    want = np_layer_norm(y).reshape(2, 3, -1, 2).transpose(0, 2, 1, 3).reshape(g.shape)
    close(gp(mx.array(g)), want, 1e-4)
    with pytest.raises(ValueError, match="do not split"):
        nn.GroupNorm(4, 6)

    inn = nn.InstanceNorm(6)
    m, v = g.mean((1, 2), keepdims=True), g.var((1, 2), keepdims=True)
    close(inn(mx.array(g)), (g - m) / np.sqrt(v + 1e-5), 1e-4)


def test_batch_norm_training_and_eval():
    bn = nn.BatchNorm(4, momentum=0.2)
    x = randn(16, 4) * 3 + 1
    assert set(tree_flatten(bn.trainable_parameters())) <= set(tree_flatten(bn.parameters()))
    assert [k for k, _ in tree_flatten(bn.trainable_parameters())] == ["weight", "bias"]
    y = bn(mx.array(x))
    close(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), 1e-4)
    close(bn.running_mean, 0.2 * x.mean(0), 1e-5)
    close(bn.running_var, 0.8 + 0.2 * x.var(0), 1e-5)
    bn.eval()
    rm, rv = np.array(bn.running_mean), np.array(bn.running_var)
    close(bn(mx.array(x)), (x - rm) / np.sqrt(rv + 1e-5), 1e-4)
    bn.unfreeze()
    assert "running_mean" not in bn.trainable_parameters()


def test_dropout():
    x = mx.ones((200, 50))
    d = nn.Dropout(0.25)
    y = np.array(d(x))
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8
    close(y[kept], np.full(kept.sum(), 1 / 0.75))
    d.eval()
    assert np.array(d(x)).min() == 1
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(1.0)
    y2 = np.array(nn.Dropout2d(0.5)(mx.ones((4, 3, 3, 8))))
    assert np.all(y2 == y2[:, :1, :1, :])  # whole channels
    y3 = np.array(nn.Dropout3d(0.5)(mx.ones((2, 2, 3, 3, 8))))
    assert np.all(y3 == y3[:, :1, :1, :1, :])


ACTIVATIONS = [
    ("relu", lambda x: np.maximum(x, 0)),
    ("relu6", lambda x: np.clip(x, 0, 6)),
    ("relu2", lambda x: np.maximum(x, 0) ** 2),
    ("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x)),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("softplus", lambda x: np.log1p(np.exp(x))),
    ("log_sigmoid", lambda x: -np.log1p(np.exp(-x))),
    ("elu", lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    ("celu", lambda x: np.maximum(x, 0) + np.exp(np.minimum(x, 0)) - 1),
    ("selu", lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    ("silu", lambda x: x / (1 + np.exp(-x))),
    ("mish", lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    ("tanh", np.tanh),
    ("softsign", lambda x: x / (1 + np.abs(x))),
    ("softshrink", lambda x: np.where(np.abs(x) > 0.5, x - np.sign(x) * 0.5, 0)),
    ("hard_shrink", lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    ("hard_tanh", lambda x: np.clip(x, -1, 1)),
    ("hardswish", lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("step", lambda x: (x > 0).astype(np.float32)),
    ("gelu", lambda x: x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    ("gelu_approx", lambda x: 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))),
    ("gelu_fast_approx", lambda x: x / (1 + np.exp(-1.702 * x))),
    ("log_softmax", lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    ("softmin", lambda x: np.exp(-x) / np.exp(-x).sum(-1, keepdims=True)),
]


@pytest.mark.parametrize("name,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_functions(name, ref):
    x = randn(6, 7) * 3
    close(getattr(nn, name)(mx.array(x)), ref(x).astype(np.float32), 2e-5)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_silu_is_one_op_whose_gradient_keeps_no_sigmoid(dtype):
    dt = getattr(mx, dtype)
    x = np.concatenate([randn(200) * 4, [-90.0, -20.0, 0.0, 20.0, 90.0]]).astype(np.float32)
    xs = mx.array(x).astype(dt)
    mx.eval(xs)
    y = nn.silu(xs)
    assert y.dtype == dt and mx._core._graph_ops([y]) == {"Silu": 1}
    tol = {"float32": 2e-6, "float64": 1e-12, "float16": 2e-3, "bfloat16": 2e-2}[dtype]
    xd = np.array(xs.astype(mx.float64))
    s = 1 / (1 + np.exp(-xd))
    close(y.astype(mx.float64), xd * s, tol)
    # d/dx x*sigmoid(x) = s * (1 + x * (1 - s)), from x: the backward graph recomputes the
    # sigmoid rather than holding one per activation from the forward.
    g = mx.grad(lambda v: nn.silu(v).astype(mx.float32).sum())(xs)
    close(g.astype(mx.float64), s * (1 + xd * (1 - s)), 4 * tol)
    assert np.array(nn.silu(mx.array([3, -2]))).dtype == np.float32  # integers compute in float


def test_activation_classes():
    x = randn(4, 6)
    close(nn.ReLU()(mx.array(x)), np.maximum(x, 0))
    close(nn.LeakyReLU(0.2)(mx.array(x)), np.where(x > 0, x, 0.2 * x))
    close(nn.GELU("tanh")(mx.array(x)), np.array(nn.gelu_approx(mx.array(x))))
    close(nn.GELU("fast")(mx.array(x)), np.array(nn.gelu_fast_approx(mx.array(x))))
    with pytest.raises(ValueError, match="approx"):
        nn.GELU("bogus")
    a, b = x[:, :3], x[:, 3:]
    close(nn.GLU()(mx.array(x)), a / (1 + np.exp(-b)))
    p = nn.PReLU()
    close(p(mx.array(x)), np.where(x > 0, x, 0.25 * x))
    assert "weight" in p.parameters()
    with pytest.raises(ValueError, match="odd size"):
        nn.glu(mx.ones((2, 3)))


def np_rope(x, dims, traditional, base, scale, offset, freqs=None):
    length = x.shape[-2]
    half = dims // 2
    inv = 1 / freqs if freqs is not None else base ** (-np.arange(half) * 2 / dims)
    pos = (np.arange(length) + offset)[:, None] * scale
    theta = pos * inv
    c, s = np.cos(theta), np.sin(theta)
    out = x.copy()
    if traditional:
        x1, x2 = x[..., 0:dims:2], x[..., 1:dims:2]
        out[..., 0:dims:2] = x1 * c - x2 * s
        out[..., 1:dims:2] = x1 * s + x2 * c
    else:
        x1, x2 = x[..., :half], x[..., half:dims]
        out[..., :half] = x1 * c - x2 * s
        out[..., half:dims] = x1 * s + x2 * c
    return out


@pytest.mark.parametrize("traditional", [False, True])
@pytest.mark.parametrize("dims", [8, 6])
def test_rope_layer_and_fast_rope(traditional, dims):
    x = randn(2, 3, 5, 8)
    rope = nn.RoPE(dims, traditional=traditional, base=500, scale=0.5)
    close(rope(mx.array(x), offset=4), np_rope(x, dims, traditional, 500, 0.5, 4), 1e-4)
    freqs = np.linspace(1, 40, dims // 2).astype(np.float32)
    got = mx.fast.rope(
        mx.array(x), dims, traditional=traditional, base=None, scale=1.0, offset=mx.array(2),
        freqs=mx.array(freqs),
    )  # fmt: skip
    close(got, np_rope(x, dims, traditional, None, 1.0, 2, freqs), 1e-4)
    # One offset per batch entry.
    per = mx.fast.rope(
        mx.array(x), dims, traditional=traditional, base=100.0, scale=1.0, offset=mx.array([0, 3])
    )
    for b, off in enumerate([0, 3]):
        close(per[b], np_rope(x[b], dims, traditional, 100.0, 1.0, off), 1e-4)
    with pytest.raises(ValueError, match="dims must be even"):
        mx.fast.rope(mx.array(x), 5, traditional=False, base=1.0, scale=1.0, offset=0)


def test_sinusoidal_and_alibi():
    pe = nn.SinusoidalPositionalEncoding(8)
    pos = np.arange(5).astype(np.float32)
    sig = np.exp((1 - np.arange(4) / 3) * (0 - math.log(1e-4)) + math.log(1e-4))
    y = pos[:, None] * sig
    close(pe(mx.array(pos)), np.concatenate([np.sin(y), np.cos(y)], -1) * math.sqrt(2 / 8), 1e-5)
    scores = randn(1, 4, 3, 5)
    slopes = (2**8) ** (-np.arange(1, 5) / 4)
    dist = -np.abs(np.arange(2, 5)[:, None] - np.arange(5)[None, :])
    want = scores + slopes[:, None, None] * dist
    close(nn.ALiBi()(mx.array(scores), offset=2), want, 1e-5)


def np_attention(q, k, v, scale, mask=None):
    rep = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    s = q @ k.swapaxes(-1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    s = np.exp(s - s.max(-1, keepdims=True))
    return (s / s.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("heads", [(4, 4), (4, 2), (6, 1)])
def test_scaled_dot_product_attention(heads):
    hq, hk = heads
    q, k, v = randn(2, hq, 5, 8), randn(2, hk, 7, 8), randn(2, hk, 7, 3)
    f = mx.fast.scaled_dot_product_attention
    close(f(mx.array(q), mx.array(k), mx.array(v), scale=0.4), np_attention(q, k, v, 0.4), 1e-4)
    causal = (np.arange(5)[:, None] + 2) >= np.arange(7)[None, :]
    got = f(mx.array(q), mx.array(k), mx.array(v), scale=0.4, mask="causal")
    close(got, np_attention(q, k, v, 0.4, causal), 1e-4)
    boolean = RNG.random((2, 1, 5, 7)) > 0.3
    boolean[..., 0] = True
    got = f(mx.array(q), mx.array(k), mx.array(v), scale=0.4, mask=mx.array(boolean))
    close(got, np_attention(q, k, v, 0.4, boolean), 1e-4)
    additive = randn(5, 7)
    got = f(mx.array(q), mx.array(k), mx.array(v), scale=0.4, mask=mx.array(additive))
    close(got, np_attention(q, k, v, 0.4, additive), 1e-4)
    sinks = randn(hq)
    got = f(mx.array(q), mx.array(k), mx.array(v), scale=0.4, sinks=mx.array(sinks))
    kk, vv = np.repeat(k, hq // hk, 1), np.repeat(v, hq // hk, 1)
    s = q @ kk.swapaxes(-1, -2) * 0.4
    s = np.concatenate([np.broadcast_to(sinks[None, :, None, None], (2, hq, 5, 1)), s], -1)
    p = np.exp(s - s.max(-1, keepdims=True))
    p = p / p.sum(-1, keepdims=True)
    close(got, p[..., 1:] @ vv, 1e-4)
    with pytest.raises(ValueError, match="heads"):
        bad = hq + 1  # divides no q head count here
        f(mx.array(q), mx.array(randn(2, bad, 7, 8)), mx.array(randn(2, bad, 7, 3)), scale=1.0)


def test_fast_norms_half_precision_and_errors():
    x = randn(4, 16)
    w = randn(16)
    for dt in (mx.float16, mx.bfloat16):
        got = mx.fast.rms_norm(mx.array(x).astype(dt), mx.array(w).astype(dt), 1e-5)
        assert got.dtype == dt
        want = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-5) * w
        np.testing.assert_allclose(np.array(got.astype(mx.float32)), want, rtol=3e-2, atol=3e-2)
    with pytest.raises(ValueError, match="weight"):
        mx.fast.rms_norm(mx.array(x), mx.ones((3,)), 1e-5)
    with pytest.raises(ValueError, match="bias"):
        mx.fast.layer_norm(mx.array(x), None, mx.ones((3,)), 1e-5)


def test_multi_head_attention_and_causal_mask():
    mha = nn.MultiHeadAttention(8, 2, bias=True)
    x, mem = randn(2, 4, 8), randn(2, 6, 8)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(4)
    m = np.array(mask)
    assert m[0, 0] == 0 and m[0, 1] < -1e30 and m[3, 0] == 0

    def proj(layer, a):
        return a @ np.array(layer.weight).T + np.array(layer.bias)

    def heads(a):
        return a.reshape(2, a.shape[1], 2, 4).transpose(0, 2, 1, 3)

    q, k, v = heads(proj(mha.query_proj, x)), heads(proj(mha.key_proj, x)), None
    v = heads(proj(mha.value_proj, x))
    o = np_attention(q, k, v, 0.5, m).transpose(0, 2, 1, 3).reshape(2, 4, 8)
    close(mha(mx.array(x), mx.array(x), mx.array(x), mask), proj(mha.out_proj, o), 1e-4)
    assert mha(mx.array(x), mx.array(mem), mx.array(mem)).shape == (2, 4, 8)


def test_transformer_shapes_and_gradients():
    t = nn.Transformer(dims=16, num_heads=4, num_encoder_layers=2, num_decoder_layers=1,
                       mlp_dims=32)  # fmt: skip
    src, tgt = mx.array(randn(2, 5, 16)), mx.array(randn(2, 3, 16))
    mask = nn.MultiHeadAttention.create_additive_causal_mask(3)
    y = t(src, tgt, None, mask, None)
    assert y.shape == (2, 3, 16)

    def loss(src, tgt):
        return mx.mean(mx.square(t(src, tgt, None, mask, None)))

    value, grads = nn.value_and_grad(t, loss)(src, tgt)
    flat = dict(tree_flatten(grads))
    assert set(flat) == {k for k, _ in tree_flatten(t.trainable_parameters())}
    assert all(np.isfinite(np.array(g)).all() for g in flat.values())
    assert float(np.abs(np.array(flat["encoder.layers.0.linear1.weight"])).sum()) > 0
    # Checkpointed layers give the same gradients.
    tc = nn.Transformer(dims=16, num_heads=4, num_encoder_layers=2, num_decoder_layers=1,
                        mlp_dims=32, checkpoint=True)  # fmt: skip
    tc.update(t.parameters())

    def loss_c(src, tgt):
        return mx.mean(mx.square(tc(src, tgt, None, mask, None)))

    value_c, grads_c = nn.value_and_grad(tc, loss_c)(src, tgt)
    close(value_c, float(np.array(value)), 1e-5)
    for k, g in tree_flatten(grads_c):
        close(g, np.array(flat[k]), 1e-4)


def test_value_and_grad_restores_the_model_and_skips_frozen():
    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    before = dict(tree_flatten(m.parameters()))
    x = mx.array(randn(5, 3))
    m.layers[0].freeze()

    def loss(x):
        return mx.sum(m(x))

    _, g = nn.value_and_grad(m, loss)(x)
    assert [k for k, _ in tree_flatten(g)] == ["layers.1.weight", "layers.1.bias"]
    after = dict(tree_flatten(m.parameters()))
    assert all(after[k] is before[k] for k in before)
    w1 = np.array(m.layers[0].weight)
    b1 = np.array(m.layers[0].bias)
    h = np.array(x) @ w1.T + b1
    close(g["layers"][1]["weight"], h.sum(0, keepdims=True), 1e-4)
    close(g["layers"][1]["bias"], [5.0])


def test_nn_checkpoint_of_a_module():
    lin = nn.Linear(4, 4)
    x = mx.array(randn(3, 4))
    ck = nn.checkpoint(lin)

    def f(params, x):
        lin.update(params)
        return mx.sum(mx.tanh(ck(x)))

    def g(params, x):
        lin.update(params)
        return mx.sum(mx.tanh(lin(x)))

    params = lin.trainable_parameters()
    ga = mx.grad(f)(params, x)
    gb = mx.grad(g)(lin.trainable_parameters(), x)
    for (ka, va), (kb, vb) in zip(tree_flatten(ga), tree_flatten(gb), strict=True):
        assert ka == kb
        close(va, np.array(vb), 1e-5)


# --- losses -------------------------------------------------------------------------------


def test_cross_entropy_variants():
    logits, tgt = randn(6, 5), RNG.integers(0, 5, 6)
    lse = np.log(np.exp(logits).sum(-1))
    base = lse - logits[np.arange(6), tgt]
    ce = nn.losses.cross_entropy
    close(ce(mx.array(logits), mx.array(tgt)), base, 1e-5)
    close(ce(mx.array(logits), mx.array(tgt), reduction="mean"), base.mean(), 1e-5)
    sm = lse - (0.9 * logits[np.arange(6), tgt] + 0.1 * logits.mean(-1))
    close(ce(mx.array(logits), mx.array(tgt), label_smoothing=0.1), sm, 1e-5)
    w = RNG.random(6).astype(np.float32)
    close(ce(mx.array(logits), mx.array(tgt), weights=mx.array(w), reduction="sum"),
          (base * w).sum(), 1e-4)  # fmt: skip
    probs = np.eye(5, dtype=np.float32)[tgt]
    close(ce(mx.array(logits), mx.array(probs)), base, 1e-5)
    with pytest.raises(ValueError, match="reduction"):
        ce(mx.array(logits), mx.array(tgt), reduction="avg")
    with pytest.raises(ValueError, match="neither class indices"):
        ce(mx.array(logits), mx.array(randn(6, 2)))


def test_other_losses():
    L = nn.losses
    p, t = randn(4, 3), randn(4, 3)
    P, T = mx.array(p), mx.array(t)
    close(L.mse_loss(P, T), ((p - t) ** 2).mean())
    close(L.l1_loss(P, T, reduction="sum"), np.abs(p - t).sum(), 1e-5)
    d = np.abs(p - t)
    close(L.smooth_l1_loss(P, T), np.where(d < 1, 0.5 * d**2, d - 0.5).mean())
    close(L.huber_loss(P, T, delta=0.5),
          np.where(d <= 0.5, 0.5 * d**2, 0.5 * (d - 0.25)), 1e-5)  # fmt: skip
    close(L.log_cosh_loss(P, T), np.log(np.cosh(p - t)), 1e-5)
    close(L.hinge_loss(P, T), np.maximum(1 - p * t, 0))
    y = (RNG.random((4, 3)) > 0.5).astype(np.float32)
    close(L.binary_cross_entropy(P, mx.array(y)),
          (np.log1p(np.exp(p)) - p * y).mean(), 1e-5)  # fmt: skip
    s = 1 / (1 + np.exp(-p))
    close(L.binary_cross_entropy(mx.array(s), mx.array(y), with_logits=False),
          (-(y * np.log(s) + (1 - y) * np.log(1 - s))).mean(), 1e-5)  # fmt: skip
    logp = np.log(np.exp(p) / np.exp(p).sum(-1, keepdims=True))
    logq = np.log(np.exp(t) / np.exp(t).sum(-1, keepdims=True))
    close(L.kl_div_loss(mx.array(logp), mx.array(logq)), (np.exp(logq) * (logq - logp)).sum(-1))
    idx = RNG.integers(0, 3, 4)
    close(L.nll_loss(mx.array(logp), mx.array(idx)), -logp[np.arange(4), idx], 1e-6)
    var = RNG.random((4, 3)).astype(np.float32) + 0.1
    want = 0.5 * (np.log(var) + (t - p) ** 2 / var) + 0.5 * np.log(2 * np.pi)
    close(L.gaussian_nll_loss(P, T, mx.array(var), full=True), want.mean(), 1e-5)
    a, b, c = randn(4, 3), randn(4, 3), randn(4, 3)
    da = np.sqrt(((a - b) ** 2).sum(-1) + 1e-6)
    dn = np.sqrt(((a - c) ** 2).sum(-1) + 1e-6)
    close(L.triplet_loss(mx.array(a), mx.array(b), mx.array(c)), np.maximum(da - dn + 1, 0), 1e-5)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    close(L.cosine_similarity_loss(mx.array(a), mx.array(b)), cos, 1e-5)
    sgn = np.sign(randn(4, 3))
    close(L.margin_ranking_loss(P, T, mx.array(sgn), margin=0.1),
          np.maximum(-sgn * (p - t) + 0.1, 0), 1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="shape"):
        L.mse_loss(P, mx.ones((2,)))


# --- initializers -------------------------------------------------------------------------


def test_initializers():
    init = nn.init
    a = mx.zeros((200, 300))
    assert np.all(np.array(init.constant(0.5)(a)) == 0.5)
    n = np.array(init.normal(1.0, 2.0)(a))
    assert abs(n.mean() - 1) < 0.05 and abs(n.std() - 2) < 0.05
    u = np.array(init.uniform(-1, 3)(a))
    assert u.min() >= -1 and u.max() < 3
    assert np.array_equal(np.array(init.identity()(mx.zeros((3, 3)))), np.eye(3))
    with pytest.raises(ValueError, match="square"):
        init.identity()(a)
    g = np.array(init.glorot_uniform()(a))
    assert np.abs(g).max() <= math.sqrt(6 / 500) and g.std() > 0.5 * math.sqrt(2 / 500)
    gn = np.array(init.glorot_normal()(a, gain=2.0))
    assert abs(gn.std() - 2 * math.sqrt(2 / 500)) < 0.01
    h = np.array(init.he_normal()(a, mode="fan_out"))
    assert abs(h.std() - 1 / math.sqrt(200)) < 0.005
    hu = np.array(init.he_uniform()(a))
    assert np.abs(hu).max() <= math.sqrt(3 / 300)
    sp = np.array(init.sparse(0.25)(mx.zeros((40, 30))))
    assert np.all((sp == 0).sum(0) == 10)
    with pytest.raises(NotImplementedError, match="QR"):
        init.orthogonal()(a)
    with pytest.raises(ValueError, match="mode"):
        init.he_normal()(a, mode="fan")


# --- the transformer example ----------------------------------------------------------------


def _example():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parent.parent / "examples" / "transformer_lm.py"
    spec = importlib.util.spec_from_file_location("transformer_lm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def test_kv_cache_decoding_matches_full_recompute():
    example, _ = _example()
    model = example.build(mx, nn)(11, dims=32, layers=2, heads=4, kv_heads=2)
    tokens = mx.array(RNG.integers(0, 11, (2, 9)))
    full, _ = model(tokens)
    logits, cache = model(tokens[:, :5])
    steps = [logits[:, -1]]
    for i in range(5, 9):
        logits, cache = model(tokens[:, i : i + 1], cache)
        steps.append(logits[:, -1])
    close(mx.stack(steps[:-1], axis=1), np.array(full[:, 4:8]), 1e-4)


def test_the_transformer_example_trains_and_generates():
    import subprocess
    import sys

    _, path = _example()
    p = subprocess.run([sys.executable, str(path), "--steps", "60", "--cpu"],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr
    losses = [float(line.split()[-1]) for line in p.stdout.splitlines() if "loss" in line]
    assert losses[-1] < 0.5 * losses[0]
    assert "sample: the quick " in p.stdout


def test_compile_runs_the_function_and_composes():
    calls = []

    def f(x, scale=2.0):
        calls.append(1)
        return mx.exp(x) * scale

    cf = mx.compile(f)
    x = mx.array([0.0, 1.0])
    close(cf(x), np.exp([0.0, 1.0]) * 2, 1e-6)
    close(mx.grad(lambda x: mx.sum(cf(x)))(x), np.exp([0.0, 1.0]) * 2, 1e-6)
    assert cf.__name__ == "f"
    # State named as inputs/outputs is updated in place, as MLX's compiled steps do.
    model = nn.Linear(2, 1)
    state = [model.state]

    def step(x):
        model.weight = model.weight * 0.5
        return model(x)

    w0 = np.array(model.weight)
    mx.compile(step, inputs=state, outputs=state)(mx.ones((1, 2)))
    close(model.weight, w0 * 0.5)
    mx.disable_compile()
    mx.enable_compile()
    with pytest.raises(TypeError, match="callable"):
        mx.compile(3)


def test_generate_example_cache_grows_in_blocks_and_matches_recompute():
    import types

    from fastsync.bench import models as gen  # examples/generate.py's model

    a = types.SimpleNamespace(vocab=50, hidden=32, heads=4, kv_heads=2, mlp=64, layers=2)
    Model, KVCache = gen.llama(mx, nn)
    model = Model(a)
    tokens = mx.array(RNG.integers(0, 50, (1, gen.BLOCK + 6)))
    caches = [KVCache() for _ in model.blocks]
    start = gen.BLOCK - 3  # the prompt fills most of a block; decoding crosses into the next
    steps = [model(tokens[:, :start], caches)]
    for i in range(start, tokens.shape[1] - 1):
        steps.append(model(tokens[:, i : i + 1], caches))
    assert caches[0].keys.shape[2] == 2 * gen.BLOCK and caches[0].offset == tokens.shape[1] - 1
    for j, got in enumerate(steps[::3]):
        end = start + 3 * j
        want = model(tokens[:, :end], [KVCache() for _ in model.blocks])
        close(got, np.array(want), 1e-4)


def test_the_generate_example_runs():
    import pathlib
    import subprocess
    import sys

    path = pathlib.Path(__file__).parent.parent / "examples" / "generate.py"
    cmd = [sys.executable, str(path), "--prompt", "16", "--tokens", "20", "--temperature", "0.8"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "tok/s" in p.stdout and "peak memory" in p.stdout


def test_the_train_lm_example_learns_its_pattern():
    import pathlib
    import subprocess
    import sys

    path = pathlib.Path(__file__).parent.parent / "examples" / "train_lm.py"
    args = "--layers 2 --dims 64 --mlp 128 --vocab 64 --context 32 --batch 8 --steps 80 --lr 3e-3"
    cmd = [sys.executable, str(path), *args.split()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    losses = [float(line.split()[-1]) for line in p.stdout.splitlines() if "loss" in line]
    assert losses[-1] < 0.3 * losses[0]
    assert "steps/s" in p.stdout and "tokens/s" in p.stdout
