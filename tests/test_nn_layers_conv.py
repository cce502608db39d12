"""fastsync.nn's convolution, pooling and upsampling layers against NumPy references.

The references are written from the definitions, independently of the layers: a
convolution is a sum over kernel offsets of strided input slices contracted with the
weight (the transposed one scatters instead); pooling loops over output positions;
upsampling applies, axis by axis, an interpolation matrix built from PyTorch's formulas
for ``torch.nn.Upsample`` (source position, clamping, Keys' cubic kernel, a = -0.75).
Gradients are checked through linearity (convolutions, average pooling and upsampling
are linear in their input, and convolutions in their weight), against an explicit
argmax scatter for max pooling, and by finite differences through a small model.
"""

import math

import fastsync as mx
import fastsync.nn as nn
import numpy as np
import pytest
from fastsync.nn.layers.upsample import upsample_cubic, upsample_linear, upsample_nearest
from fastsync.utils import tree_flatten

RNG = np.random.default_rng(20240611)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def close(got, want, tol=1e-5):
    np.testing.assert_allclose(np.array(got, dtype=np.float64), want, rtol=tol, atol=tol)


def per_axis(v, d):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * d


# --- NumPy references ---------------------------------------------------------------------


def ref_conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of x (N, *S, Cin) with w (Cout, *K, Cin // groups)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    d = x.ndim - 2
    s, p, dl = per_axis(stride, d), per_axis(padding, d), per_axis(dilation, d)
    kernel, cout, cig = w.shape[1:-1], w.shape[0], w.shape[-1]
    xp = np.pad(x, [(0, 0), *((q, q) for q in p), (0, 0)])
    out = [(xp.shape[i + 1] - dl[i] * (kernel[i] - 1) - 1) // s[i] + 1 for i in range(d)]
    y = np.zeros((x.shape[0], *out, groups, cout // groups))
    wg = w.reshape(groups, cout // groups, *kernel, cig)
    for off in np.ndindex(*kernel):
        sl = tuple(
            slice(off[i] * dl[i], off[i] * dl[i] + s[i] * (out[i] - 1) + 1, s[i]) for i in range(d)
        )
        xs = xp[(slice(None), *sl)].reshape(x.shape[0], *out, groups, cig)
        y += np.einsum("...gc,goc->...go", xs, wg[(slice(None), slice(None), *off)])
    return y.reshape(x.shape[0], *out, cout)


def ref_conv_transpose(x, w, stride=1, padding=0, dilation=1, output_padding=0, groups=1):
    """Transposed convolution: input i, kernel tap k add x[i] w[k] at i * s + k * d - p."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    d = x.ndim - 2
    s, p, dl = per_axis(stride, d), per_axis(padding, d), per_axis(dilation, d)
    op = per_axis(output_padding, d)
    kernel, cout, cig = w.shape[1:-1], w.shape[0], w.shape[-1]
    n, spatial = x.shape[0], x.shape[1:-1]
    out = [
        (spatial[i] - 1) * s[i] - 2 * p[i] + dl[i] * (kernel[i] - 1) + op[i] + 1 for i in range(d)
    ]
    full = np.zeros((n, *(out[i] + 2 * p[i] for i in range(d)), groups, cout // groups))
    xg = x.reshape(n, *spatial, groups, cig)
    wg = w.reshape(groups, cout // groups, *kernel, cig)
    for off in np.ndindex(*kernel):
        sl = tuple(
            slice(off[i] * dl[i], off[i] * dl[i] + s[i] * (spatial[i] - 1) + 1, s[i])
            for i in range(d)
        )
        full[(slice(None), *sl)] += np.einsum(
            "...gc,goc->...go", xg, wg[(slice(None), slice(None), *off)]
        )
    crop = tuple(slice(p[i], p[i] + out[i]) for i in range(d))
    return full[(slice(None), *crop)].reshape(n, *out, cout)


def ref_pool(x, kernel, stride, padding, op):
    """Max or mean over each window, by explicit loops; padding is -inf or 0 and counts."""
    x = np.asarray(x, np.float64)
    d = x.ndim - 2
    fill = -np.inf if op == "max" else 0.0
    xp = np.pad(x, [(0, 0), *((q, q) for q in padding), (0, 0)], constant_values=fill)
    out = [(xp.shape[i + 1] - kernel[i]) // stride[i] + 1 for i in range(d)]
    y = np.empty((x.shape[0], *out, x.shape[-1]))
    reduce = np.max if op == "max" else np.mean
    for pos in np.ndindex(*out):
        win = tuple(slice(pos[i] * stride[i], pos[i] * stride[i] + kernel[i]) for i in range(d))
        y[(slice(None), *pos)] = reduce(
            xp[(slice(None), *win)].reshape(x.shape[0], -1, x.shape[-1]), axis=1
        )
    return y


def ref_max_pool_grad(x, kernel, stride, padding, r):
    """d sum(maxpool(x) * r) / dx: each window's r lands on its (unique) maximum."""
    x = np.asarray(x, np.float64)
    d = x.ndim - 2
    xp = np.pad(x, [(0, 0), *((q, q) for q in padding), (0, 0)], constant_values=-np.inf)
    g = np.zeros_like(xp)
    for pos in np.ndindex(*r.shape[1:-1]):
        for b in range(x.shape[0]):
            for c in range(x.shape[-1]):
                win = tuple(
                    slice(pos[i] * stride[i], pos[i] * stride[i] + kernel[i]) for i in range(d)
                )
                block = xp[(b, *win, c)]
                at = np.unravel_index(np.argmax(block), block.shape)
                g[(b, *(w.start + a for w, a in zip(win, at, strict=True)), c)] += r[(b, *pos, c)]
    inner = tuple(slice(q, q + n) for q, n in zip(padding, x.shape[1:-1], strict=True))
    return g[(slice(None), *inner, slice(None))]


def cubic_weight(t, a=-0.75):
    t = abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def interp_matrix(n, scale, mode, align_corners):
    """(m, n): output sample i as a combination of the n inputs, PyTorch's formulas."""
    m = int(math.floor(n * scale))
    a = np.zeros((m, n))
    for i in range(m):
        if mode == "nearest":
            # floor(i / scale), with 1 / scale and the product in float32 as PyTorch.
            src = np.floor(np.float32(i) * np.float32(1.0 / scale))
            a[i, min(int(src), n - 1)] = 1
            continue
        if align_corners:
            src = i * (n - 1) / (m - 1) if m > 1 else 0.0
        else:
            src = (i + 0.5) / scale - 0.5
        if mode == "linear":
            src = max(src, 0.0)
            lo = min(int(np.floor(src)), n - 1)
            t = min(max(src - lo, 0.0), 1.0)
            a[i, lo] += 1 - t
            a[i, min(lo + 1, n - 1)] += t
        else:
            base = int(np.floor(src))
            for k in (-1, 0, 1, 2):
                a[i, min(max(base + k, 0), n - 1)] += cubic_weight(src - (base + k))
    return a


def ref_upsample(x, scales, mode, align_corners=False):
    y = np.asarray(x, np.float64)
    for axis, s in enumerate(scales, start=1):
        a = interp_matrix(y.shape[axis], s, mode, align_corners)
        y = np.moveaxis(np.tensordot(a, y, axes=([1], [axis])), 0, axis)
    return y


def inner(a, b):
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


# --- convolutions ---------------------------------------------------------------------------

CONV_CASES = [
    # (layer, in, out, input spatial, kwargs)
    (nn.Conv1d, 3, 4, (11,), dict(kernel_size=3)),
    (nn.Conv1d, 4, 6, (13,), dict(kernel_size=4, stride=3, padding=2, dilation=2, groups=2)),
    (nn.Conv1d, 6, 3, (7,), dict(kernel_size=1, groups=3, bias=False)),
    (nn.Conv2d, 2, 5, (7, 9), dict(kernel_size=3, padding=1)),
    (nn.Conv2d, 4, 4, (8, 10), dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0))),
    (nn.Conv2d, 6, 4, (9, 8), dict(kernel_size=3, stride=2, dilation=(2, 1), groups=2)),
    (nn.Conv3d, 2, 3, (5, 6, 4), dict(kernel_size=2)),
    (nn.Conv3d, 4, 2, (6, 5, 7), dict(kernel_size=(3, 2, 2), stride=(1, 2, 2), padding=1)),
    (nn.Conv3d, 4, 6, (5, 5, 5), dict(kernel_size=3, dilation=2, padding=2, groups=2)),
]


def _randomize(layer):
    """Non-zero weights and bias, so that the bias (zero-initialized) is checked too."""
    layer.weight = mx.array(randn(*layer.weight.shape))
    if "bias" in layer:
        layer.bias = mx.array(randn(*layer.bias.shape))
    return layer


def _conv_ref_kwargs(kw):
    return {k: v for k, v in kw.items() if k not in ("kernel_size", "bias")}


@pytest.mark.parametrize("cls,cin,cout,spatial,kw", CONV_CASES)
def test_conv_layers_match_the_reference(cls, cin, cout, spatial, kw):
    layer = _randomize(cls(cin, cout, **kw))
    x = randn(2, *spatial, cin)
    want = ref_conv(x, np.array(layer.weight), **_conv_ref_kwargs(kw))
    if "bias" in layer:
        want = want + np.array(layer.bias)
    got = layer(mx.array(x))
    assert got.shape == want.shape and got.dtype == mx.float32
    close(got, want, 1e-4)


CONV_T_CASES = [
    (nn.ConvTranspose1d, 3, 4, (6,), dict(kernel_size=3)),
    (nn.ConvTranspose1d, 4, 6, (5,), dict(kernel_size=3, stride=2, padding=1, output_padding=1)),
    (nn.ConvTranspose1d, 6, 4, (7,), dict(kernel_size=2, stride=3, dilation=2, groups=2)),
    (nn.ConvTranspose2d, 2, 3, (4, 5), dict(kernel_size=3, stride=2, padding=1)),
    (
        nn.ConvTranspose2d,
        4,
        2,
        (3, 4),
        dict(kernel_size=(2, 3), stride=(2, 3), padding=(0, 1), output_padding=(1, 2)),
    ),
    (nn.ConvTranspose2d, 4, 6, (5, 4), dict(kernel_size=3, dilation=2, groups=2, bias=False)),
    (nn.ConvTranspose3d, 2, 2, (3, 4, 3), dict(kernel_size=2, stride=2)),
    (nn.ConvTranspose3d, 4, 2, (3, 3, 4), dict(kernel_size=3, stride=(2, 1, 2), padding=1)),
    (
        nn.ConvTranspose3d,
        2,
        4,
        (3, 2, 3),
        dict(kernel_size=2, groups=2, output_padding=1, stride=2),
    ),
]


@pytest.mark.parametrize("cls,cin,cout,spatial,kw", CONV_T_CASES)
def test_conv_transpose_layers_match_the_reference(cls, cin, cout, spatial, kw):
    layer = _randomize(cls(cin, cout, **kw))
    x = randn(2, *spatial, cin)
    want = ref_conv_transpose(x, np.array(layer.weight), **_conv_ref_kwargs(kw))
    if "bias" in layer:
        want = want + np.array(layer.bias)
    got = layer(mx.array(x))
    assert got.shape == want.shape
    close(got, want, 1e-4)


def test_conv_transpose_is_the_adjoint_of_conv():
    # <conv(x, w), y> == <x, conv_transpose(y, w^T)>, with w^T swapping the channel axes:
    # ties the two layers' weight layouts to each other, not just to the references.
    conv = _randomize(nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=False))
    tconv = nn.ConvTranspose2d(5, 3, 3, stride=2, padding=1, output_padding=1, bias=False)
    tconv.weight = conv.weight.swapaxes(0, 3)
    x, y = randn(2, 8, 8, 3), randn(2, 4, 4, 5)
    assert tconv(mx.array(y)).shape == x.shape
    lhs = inner(conv(mx.array(x)), y)
    rhs = inner(x, tconv(mx.array(y)))
    assert abs(lhs - rhs) <= 1e-4 * max(1.0, abs(lhs))


@pytest.mark.parametrize("cls", [nn.Conv2d, nn.ConvTranspose2d])
def test_conv_layers_in_float16(cls):
    layer = _randomize(cls(4, 6, 3, stride=2, padding=1, groups=2)).set_dtype(mx.float16)
    assert layer.weight.dtype == mx.float16 and layer.bias.dtype == mx.float16
    x = randn(2, 6, 5, 4).astype(np.float16)
    w = np.array(layer.weight).astype(np.float64)
    if cls is nn.Conv2d:
        want = ref_conv(x, w, stride=2, padding=1, groups=2)
    else:
        want = ref_conv_transpose(x, w, stride=2, padding=1, groups=2)
    want = want + np.array(layer.bias).astype(np.float64)
    got = layer(mx.array(x))
    assert got.dtype == mx.float16
    close(got, want, 2e-2)


@pytest.mark.parametrize(
    "cls,kw,wshape",
    [
        (nn.Conv1d, dict(kernel_size=5), (8, 5, 6)),
        (nn.Conv2d, dict(kernel_size=(3, 2), groups=3), (8 * 3, 3, 2, 2)),
        (nn.Conv3d, dict(kernel_size=2, groups=2), (8 * 3, 2, 2, 2, 3)),
        (nn.ConvTranspose1d, dict(kernel_size=4), (8, 4, 6)),
        (nn.ConvTranspose2d, dict(kernel_size=3, groups=2), (8 * 3, 3, 3, 3)),
        (nn.ConvTranspose3d, dict(kernel_size=(1, 2, 3), groups=6), (8 * 3, 1, 2, 3, 1)),
    ],
)
def test_conv_parameters_shapes_counts_and_init(cls, kw, wshape):
    cout = wshape[0]
    layer = cls(6, cout, **kw)
    params = dict(tree_flatten(layer.parameters()))
    assert list(params) == ["weight", "bias"]
    assert layer.weight.shape == wshape and layer.bias.shape == (cout,)
    assert sum(v.size for v in params.values()) == math.prod(wshape) + cout
    # MLX's initialization: U(-s, s), s = sqrt(1 / (in_channels * prod(kernel))); zero bias.
    scale = math.sqrt(1 / (6 * math.prod(wshape[1:-1])))
    w = np.abs(np.array(layer.weight))
    assert w.max() <= scale and w.max() > 0.75 * scale
    assert abs(w.mean() - scale / 2) < 0.25 * scale
    assert not np.array(layer.bias).any()
    no_bias = cls(6, cout, bias=False, **kw)
    assert "bias" not in no_bias and list(no_bias.parameters()) == ["weight"]
    assert tree_flatten(no_bias.trainable_parameters())[0][0] == "weight"


def test_conv_hyper_parameters_and_repr():
    c = nn.Conv2d(4, 8, 3, stride=(2, 1), padding=1, groups=2)
    assert c.kernel_size == (3, 3) and c.stride == (2, 1) and c.padding == (1, 1)
    assert c.dilation == (1, 1) and c.groups == 2
    assert repr(c) == (
        "Conv2d(4, 8, kernel_size=(3, 3), stride=(2, 1), padding=(1, 1), dilation=(1, 1), "
        "groups=2, bias=True)"
    )
    t = nn.ConvTranspose1d(3, 2, 4, stride=2, output_padding=1, bias=False)
    assert t.kernel_size == 4 and t.stride == 2 and t.output_padding == 1
    assert "output_padding=1" in repr(t) and "bias=False" in repr(t)
    # MLX's positional order: (..., dilation, output_padding, bias); groups comes after.
    t = nn.ConvTranspose1d(4, 8, 3, 1, 0, 1, 0, False)
    assert "bias" not in t and t.groups == 1
    # Hyper-parameters stay out of the tree, even when set again to a tuple.
    c.stride = (1, 1)
    assert list(dict(tree_flatten(c.parameters()))) == ["weight", "bias"]
    assert c(mx.zeros((1, 5, 5, 4))).shape == (1, 5, 5, 8)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.Conv2d(5, 4, 3, groups=2), r"in_channels \(5\) must be divisible by groups"),
        (lambda: nn.Conv1d(4, 3, 3, groups=2), r"out_channels \(3\) must be divisible"),
        (lambda: nn.ConvTranspose2d(6, 4, 3, groups=4), r"in_channels \(6\)"),
        (lambda: nn.Conv2d(4, 4, (3, 3, 3)), r"'kernel_size' must be an int or a tuple of 2"),
        (lambda: nn.Conv3d(4, 4, 3, stride=(1, 2)), r"'stride' must be an int or a tuple of 3"),
        (lambda: nn.Conv1d(4, 4, 0), r"'kernel_size' must be positive, got 0"),
        (lambda: nn.Conv2d(4, 4, 3, stride=(1, 0)), r"'stride' must be positive"),
        (lambda: nn.Conv1d(4, 4, 3, padding=-1), r"'padding' must be non-negative"),
        (lambda: nn.Conv1d(4, 4, 3, dilation=0), r"'dilation' must be positive"),
        (lambda: nn.Conv1d(4, 4, 3, groups=0), r"'groups' must be positive"),
        (lambda: nn.Conv1d(0, 4, 3), r"channel counts must be positive"),
        (lambda: nn.Conv2d(4, 4, 2.5), r"'kernel_size' must be an int"),
        (
            lambda: nn.ConvTranspose1d(4, 4, 3, stride=2, output_padding=2),
            r"'output_padding' 2 must be smaller than the stride or the dilation",
        ),
    ],
)
def test_conv_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_conv_input_errors():
    conv = nn.Conv2d(4, 4, 3)
    with pytest.raises(ValueError, match=r"expects a \(N, 2 spatial axes, C\) input with 4"):
        conv(mx.zeros((5, 5, 4)))
    with pytest.raises(ValueError, match=r"expects 4 input channels"):
        conv(mx.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"expects 3 input channels"):
        nn.ConvTranspose1d(3, 2, 2)(mx.zeros((1, 5, 2)))


@pytest.mark.parametrize("cls,kw", [(nn.Conv2d, {}), (nn.ConvTranspose2d, dict(output_padding=1))])
def test_conv_gradients_by_linearity(cls, kw):
    # sum(layer(x) * r) is linear in x and (bias aside) in the weight: its gradient's inner
    # product with any direction v is the layer's output on v, contracted with r.
    layer = _randomize(cls(4, 6, 3, stride=2, padding=1, groups=2, **kw))
    x = mx.array(randn(2, 5, 6, 4))
    r = randn(*layer(x).shape)

    def loss(params, x):
        layer.update(params)
        return mx.sum(layer(x) * mx.array(r))

    params = layer.trainable_parameters()
    gp, gx = mx.grad(loss, argnums=(0, 1))(params, x)
    v = randn(*x.shape)
    no_bias = cls(4, 6, 3, stride=2, padding=1, groups=2, bias=False, **kw)
    no_bias.weight = params["weight"]
    assert abs(inner(gx, v) - inner(no_bias(mx.array(v)), r)) < 1e-3
    vw = randn(*layer.weight.shape)
    no_bias.weight = mx.array(vw)
    assert abs(inner(gp["weight"], vw) - inner(no_bias(x), r)) < 1e-3
    close(gp["bias"], r.reshape(-1, 6).sum(0), 1e-4)


# --- pooling --------------------------------------------------------------------------------

POOL_CASES = [
    # (dims, input spatial, kernel, stride, padding)
    (1, (12,), 2, None, 0),  # tiles exactly
    (1, (11,), 3, None, 0),  # tiles, remainder dropped
    (1, (10,), 3, 2, 1),
    (2, (8, 6), 2, None, 0),
    (2, (7, 9), (3, 2), (2, 3), (1, 0)),
    (2, (6, 7), 3, 1, 1),
    (3, (4, 6, 5), 2, None, 0),
    (3, (5, 5, 6), (2, 3, 2), (1, 2, 2), (1, 1, 0)),
]

POOLS = {
    ("max", 1): nn.MaxPool1d,
    ("max", 2): nn.MaxPool2d,
    ("max", 3): nn.MaxPool3d,
    ("avg", 1): nn.AvgPool1d,
    ("avg", 2): nn.AvgPool2d,
    ("avg", 3): nn.AvgPool3d,
}


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("dims,spatial,kernel,stride,padding", POOL_CASES)
def test_pooling_matches_the_reference(op, dims, spatial, kernel, stride, padding):
    pool = POOLS[op, dims](kernel, stride, padding)
    k = per_axis(kernel, dims)
    s, p = (k if stride is None else per_axis(stride, dims)), per_axis(padding, dims)
    assert pool.kernel_size == k and pool.stride == s and pool.padding == p
    x = randn(2, *spatial, 3)
    want = ref_pool(x, k, s, p, "max" if op == "max" else "mean")
    got = pool(mx.array(x))
    assert got.shape == want.shape and got.dtype == mx.float32
    close(got, want, 1e-5)


@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_non_contiguous_inputs(op):
    base = randn(3, 9, 2, 10)
    # (N, H, W, C) views: a transpose, and a strided slice of it.
    views = [
        (base.transpose(0, 3, 1, 2), lambda a: a.transpose(0, 3, 1, 2)),
        (base.transpose(0, 3, 1, 2)[:, 1::2, ::2], lambda a: a.transpose(0, 3, 1, 2)[:, 1::2, ::2]),
    ]
    pool = POOLS[op, 2](3, 2, 1)
    for want_in, view in views:
        want = ref_pool(want_in, (3, 3), (2, 2), (1, 1), "max" if op == "max" else "mean")
        close(pool(view(mx.array(base))), want, 1e-5)
        # The tiling path (stride == kernel) on the same views.
        want = ref_pool(want_in, (2, 2), (2, 2), (0, 0), "max" if op == "max" else "mean")
        close(POOLS[op, 2](2)(view(mx.array(base))), want, 1e-5)


def test_max_pool_pads_below_every_value():
    # All-negative inputs: a zero pad would win the maximum at the borders.
    x = -1 - np.abs(randn(1, 5, 2))
    close(nn.MaxPool1d(3, 1, 1)(mx.array(x)), ref_pool(x, (3,), (1,), (1,), "max"))
    assert np.isfinite(np.array(nn.MaxPool1d(3, 1, 1)(mx.array(x)))).all()
    xi = mx.array([[[-7], [-3], [-9]]], dtype=mx.int32)
    got = nn.MaxPool1d(2, 1, 1)(xi)
    assert got.dtype == mx.int32 and np.array(got).ravel().tolist() == [-7, -3, -3, -9]
    # Average pooling's zero padding counts in the mean (MLX's semantics).
    close(nn.AvgPool1d(2, 2, 1)(mx.array([[[2.0], [4.0]]])), [[[1.0], [2.0]]])


@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_in_float16(op):
    x = randn(2, 7, 6, 3).astype(np.float16)
    got = POOLS[op, 2](3, 2, 1)(mx.array(x))
    assert got.dtype == mx.float16
    close(got, ref_pool(x, (3, 3), (2, 2), (1, 1), "max" if op == "max" else "mean"), 2e-3)


@pytest.mark.parametrize("dims,spatial,kernel,stride,padding", POOL_CASES[2:6])
def test_pooling_gradients(dims, spatial, kernel, stride, padding):
    k = per_axis(kernel, dims)
    s, p = (k if stride is None else per_axis(stride, dims)), per_axis(padding, dims)
    x = randn(2, *spatial, 2)
    maxpool, avgpool = (
        POOLS["max", dims](kernel, stride, padding),
        POOLS["avg", dims](kernel, stride, padding),
    )
    r = randn(*maxpool(mx.array(x)).shape)
    g = mx.grad(lambda a: mx.sum(maxpool(a) * mx.array(r)))(mx.array(x))
    close(g, ref_max_pool_grad(x, k, s, p, r), 1e-5)
    # Average pooling is linear: <grad, v> == <avgpool(v), r>.
    g = mx.grad(lambda a: mx.sum(avgpool(a) * mx.array(r)))(mx.array(x))
    v = randn(*x.shape)
    assert abs(inner(g, v) - inner(avgpool(mx.array(v)), r)) < 1e-4
    # Through a non-contiguous input too.
    xt = mx.array(np.ascontiguousarray(np.swapaxes(x, 0, -1))).swapaxes(0, -1)
    g = mx.grad(lambda a: mx.sum(maxpool(a) * mx.array(r)))(xt)
    close(g, ref_max_pool_grad(x, k, s, p, r), 1e-5)


def test_pooling_errors_and_repr():
    with pytest.raises(
        ValueError, match=r"\[MaxPool2d\] 'kernel_size' must be an int or a tuple of 2"
    ):
        nn.MaxPool2d((2, 2, 2))
    with pytest.raises(ValueError, match=r"\[AvgPool1d\] 'stride' must be positive"):
        nn.AvgPool1d(2, 0)
    with pytest.raises(ValueError, match=r"\[AvgPool3d\] 'padding' must be non-negative"):
        nn.AvgPool3d(2, padding=(0, -1, 0))
    with pytest.raises(ValueError, match=r"expects a \(N, 2 spatial axes, C\) input with 4"):
        nn.MaxPool2d(2)(mx.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"larger than the padded input"):
        nn.AvgPool1d(5, padding=1)(mx.zeros((1, 2, 3)))
    pool = nn.MaxPool2d((3, 2), padding=1)
    assert repr(pool) == "MaxPool2d(kernel_size=(3, 2), stride=(3, 2), padding=(1, 1))"
    assert pool.parameters() == {} and len(pool) == 0


# --- upsampling ------------------------------------------------------------------------------

UP_CASES = [
    # (input spatial, scale_factor)
    ((5,), 2),
    ((4,), 1.5),
    ((7,), 0.5),
    ((3, 4), (2, 3)),
    ((4, 6), (1.5, 0.5)),
    ((3, 5), 2.5),  # output sizes 7 and 12: not an integral multiple
    ((2, 3, 2), 2),
    ((3, 2, 4), (1, 2, 0.75)),
]


@pytest.mark.parametrize("spatial,scale", UP_CASES)
@pytest.mark.parametrize(
    "mode,align",
    [("nearest", False), ("linear", False), ("linear", True), ("cubic", False), ("cubic", True)],
)
def test_upsample_matches_pytorch_formulas(spatial, scale, mode, align):
    x = randn(2, *spatial, 3)
    scales = per_axis(scale, len(spatial))
    want = ref_upsample(x, scales, mode, align)
    got = nn.Upsample(scale, mode=mode, align_corners=align)(mx.array(x))
    assert got.shape == want.shape and got.dtype == mx.float32
    close(got, want, 1e-5)


def test_upsample_known_values():
    # Values PyTorch gives for [[1, 2], [3, 4]] scaled by 2 (worked out by hand for cubic:
    # the 1-d weights at source -0.25 are -0.03515625, 0.26171875, 0.87890625, -0.10546875).
    x = mx.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    close(nn.Upsample(2, "linear")(x)[0, 0, :, 0], [1, 1.25, 1.75, 2])
    close(nn.Upsample(2, "linear", True)(x)[0, 1, :, 0], [5 / 3, 2, 7 / 3, 8 / 3])
    close(nn.Upsample(2, "cubic")(x)[0, 0, :, 0], [0.68359375, 1.015625, 1.5625, 1.89453125])
    row = mx.array([1.0, 2.0]).reshape(1, 2, 1)
    close(nn.Upsample(2, "cubic")(row)[0, :, 0], [0.89453125, 1.2265625, 1.7734375, 2.10546875])
    close(
        nn.Upsample(1.5, "nearest")(mx.arange(3, dtype=mx.float32).reshape(1, 3, 1))[0, :, 0],
        [0, 0, 1, 2],
    )
    xi = mx.arange(1, 5).reshape(1, 2, 2, 1)
    near = nn.Upsample(2)(xi)
    assert near.dtype == mx.int32
    assert np.array(near)[0, :, :, 0].tolist() == [
        [1, 1, 2, 2],
        [1, 1, 2, 2],
        [3, 3, 4, 4],
        [3, 3, 4, 4],
    ]


def test_upsample_functions_and_float16():
    x = randn(2, 4, 3, 2)
    for fn, mode in ((upsample_linear, "linear"), (upsample_cubic, "cubic")):
        for align in (False, True):
            close(fn(mx.array(x), (2, 1.5), align), ref_upsample(x, (2, 1.5), mode, align))
    close(upsample_nearest(mx.array(x), (3, 0.5)), ref_upsample(x, (3, 0.5), "nearest"))
    xh = x.astype(np.float16)
    for mode in ("nearest", "linear", "cubic"):
        got = nn.Upsample(2, mode)(mx.array(xh))
        assert got.dtype == mx.float16
        close(got, ref_upsample(xh, (2, 2), mode), 1e-2)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_upsample_gradients_by_linearity(mode):
    up = nn.Upsample((2, 1.5), mode=mode, align_corners=mode == "cubic")
    x = mx.array(randn(2, 3, 4, 2))
    r = randn(*up(x).shape)
    g = mx.grad(lambda a: mx.sum(up(a) * mx.array(r)))(x)
    v = randn(*x.shape)
    assert abs(inner(g, v) - inner(up(mx.array(v)), r)) < 1e-4
    # Against the reference's transpose: the gradient is A^T r along each axis.
    a0 = interp_matrix(3, 2, mode, mode == "cubic")
    a1 = interp_matrix(4, 1.5, mode, mode == "cubic")
    close(g, np.einsum("bijc,ip,jq->bpqc", r, a0, a1), 1e-4)


def test_upsample_errors_and_repr():
    with pytest.raises(ValueError, match=r"unsupported mode 'bilinear'"):
        nn.Upsample(2, mode="bilinear")
    with pytest.raises(ValueError, match=r"at least one spatial axis"):
        nn.Upsample(2)(mx.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"got 2 scale\(s\) for an input with 3 spatial axes"):
        nn.Upsample((2, 2))(mx.zeros((1, 2, 2, 2, 1)))
    with pytest.raises(ValueError, match=r"leaves no sample"):
        nn.Upsample(0.2, "linear")(mx.zeros((1, 4, 1)))
    with pytest.raises(ValueError, match=r"positive and finite"):
        upsample_nearest(mx.zeros((1, 4, 1)), (-1,))
    up = nn.Upsample((2, 3), mode="cubic", align_corners=True)
    assert repr(up) == "Upsample(scale_factor=(2.0, 3.0), mode='cubic', align_corners=True)"
    assert up.parameters() == {}


# --- a small model ---------------------------------------------------------------------------


def test_a_small_conv_model_trains_with_value_and_grad():
    mx.random.seed(3)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Upsample(2, mode="cubic"),
        nn.ConvTranspose2d(4, 2, 3, stride=1, padding=1),
    )
    x = mx.array(randn(2, 6, 6, 2))
    target = mx.array(randn(2, 6, 6, 2))

    def loss_fn(x, target):
        return mx.mean(mx.square(model(x) - target))

    loss, grads = nn.value_and_grad(model, loss_fn)(x, target)
    flat = dict(tree_flatten(grads))
    params = dict(tree_flatten(model.trainable_parameters()))
    assert list(flat) == list(params) == [
        "layers.0.weight", "layers.0.bias", "layers.4.weight", "layers.4.bias",
    ]  # fmt: skip
    # Central differences on a few entries of each parameter.
    for key, g in flat.items():
        p = np.array(params[key])
        for idx in list(np.ndindex(*p.shape))[:: max(1, p.size // 4)][:4]:
            shifted = []
            for sign in (1, -1):
                q = p.copy()
                q[idx] += sign * 1e-2
                model.update(_nest(key, q))
                shifted.append(float(np.array(loss_fn(x, target))))
            model.update(_nest(key, p))
            fd = (shifted[0] - shifted[1]) / 2e-2
            assert abs(fd - float(np.array(g)[idx])) < 2e-3 + 2e-2 * abs(fd), (key, idx)
    # And a few plain gradient steps lower the loss.
    for _ in range(5):
        loss2, grads = nn.value_and_grad(model, loss_fn)(x, target)
        model.update(
            {
                "layers": [
                    {k: model.layers[i][k] - 0.5 * v for k, v in grads["layers"][i].items()}
                    for i in range(len(model.layers))
                ]
            }
        )
    assert float(np.array(loss_fn(x, target))) < float(np.array(loss))


def _nest(key, value):
    """``"layers.0.weight"`` -> ``{"layers": [{"weight": value}]}``-like trees for update."""
    from fastsync.utils import tree_unflatten

    return tree_unflatten([(key, mx.array(value))])
