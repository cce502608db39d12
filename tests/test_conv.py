"""Convolutions (conv1d/2d/3d, conv_general, conv_transpose*, convolve) against NumPy.

The reference below computes a convolution straight from its definition (dilate, pad or
crop, slide the dilated kernel, contract), independently of how fastsync builds it (patch
gather plus one matrix product). Gradients are checked through linearity: a convolution
is linear in each operand, so for a random cotangent r and direction v the directional
derivative <grad, v> must equal <conv(v, w), r> exactly, with no finite-difference step.
"""

import fastsync as mx
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

RNG = np.random.default_rng(0)


def ref_conv(x, w, stride=1, lo=0, hi=None, kdil=1, idil=1, groups=1, flip=False):
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    d = x.ndim - 2

    def axes(v):
        return list(v) if isinstance(v, (list, tuple)) else [v] * d

    stride, lo, kdil, idil = axes(stride), axes(lo), axes(kdil), axes(idil)
    hi = lo if hi is None else axes(hi)
    # Spread the input's samples apart.
    spread = [(s - 1) * k + 1 for s, k in zip(x.shape[1:-1], idil, strict=False)]
    xd = np.zeros((x.shape[0], *spread, x.shape[-1]))
    xd[(slice(None), *(slice(None, None, k) for k in idil))] = x
    # Pad (positive) or crop (negative) each side.
    xd = np.pad(
        xd, [(0, 0), *((max(a, 0), max(b, 0)) for a, b in zip(lo, hi, strict=False)), (0, 0)]
    )
    crop = tuple(
        slice(max(-a, 0), xd.shape[i + 1] - max(-b, 0))
        for i, (a, b) in enumerate(zip(lo, hi, strict=False))
    )
    xd = xd[(slice(None), *crop)]
    if flip:
        w = w[(slice(None), *([slice(None, None, -1)] * d))]
    reach = [(k - 1) * dl + 1 for k, dl in zip(w.shape[1:-1], kdil, strict=False)]
    win = sliding_window_view(xd, reach, axis=tuple(range(1, d + 1)))
    win = win[
        (
            slice(None),
            *(slice(None, None, s) for s in stride),
            slice(None),
            *(slice(None, None, dl) for dl in kdil),
        )
    ]
    # win: (N, *out, C, *K) -> (N, *out, G, Cg, *K)
    n, out = win.shape[0], win.shape[1 : 1 + d]
    cg = x.shape[-1] // groups
    win = win.reshape(n, *out, groups, cg, *w.shape[1:-1])
    wg = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])  # (G, Og, *K, Cg)
    letters = "xyz"[:d]
    y = np.einsum(f"n...gc{letters},go{letters}c->n...go", win, wg)
    return y.reshape(n, *out, w.shape[0])


def ref_conv_transpose(x, w, stride=1, pad=0, dil=1, outpad=0, groups=1):
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    d = x.ndim - 2

    def axes(v):
        return list(v) if isinstance(v, (list, tuple)) else [v] * d

    stride, pad, dil, outpad = axes(stride), axes(pad), axes(dil), axes(outpad)
    k = w.shape[1:-1]
    size = [
        (i - 1) * s - 2 * p + dl * (kk - 1) + op + 1
        for i, s, p, dl, kk, op in zip(x.shape[1:-1], stride, pad, dil, k, outpad, strict=False)
    ]
    n, cin, cout = x.shape[0], x.shape[-1], w.shape[0]
    cg, og = cin // groups, cout // groups
    y = np.zeros((n, *size, cout))
    for src in np.ndindex(*x.shape[1:-1]):
        for tap in np.ndindex(*k):
            dst = [
                i * s + t * dl - p
                for i, s, t, dl, p in zip(src, stride, tap, dil, pad, strict=False)
            ]
            if any(q < 0 or q >= e for q, e in zip(dst, size, strict=False)):
                continue
            for g in range(groups):
                xs = x[(slice(None), *src, slice(g * cg, (g + 1) * cg))]  # (N, Cg)
                wt = w[(slice(g * og, (g + 1) * og), *tap, slice(None))]  # (Og, Cg)
                y[(slice(None), *dst, slice(g * og, (g + 1) * og))] += xs @ wt.T
    return y


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def check(got, want, tol=1e-4):
    got = np.array(got, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got, want, atol=tol * scale, rtol=tol)


# (dims, spatial size, kernel, stride, lo, hi, kernel dilation, input dilation, groups, flip)
GENERAL_CASES = [
    (1, (9,), (3,), 1, 0, 0, 1, 1, 1, False),
    (1, (10,), (4,), 2, 1, 2, 1, 1, 2, True),
    (1, (7,), (3,), 1, 2, 0, 2, 2, 1, False),
    (2, (6, 7), (3, 3), 1, 1, 1, 1, 1, 1, False),
    (2, (8, 9), (3, 2), (2, 1), (1, 0), (0, 2), (1, 2), 1, 3, False),
    (2, (5, 6), (2, 3), 1, (1, 2), (2, 1), 1, (2, 1), 1, True),
    (2, (7, 7), (1, 1), 1, 0, 0, 1, 1, 1, False),
    (2, (6, 6), (3, 3), 1, -1, 1, 1, 1, 1, False),
    (3, (4, 5, 6), (2, 3, 2), (1, 2, 1), 1, (0, 1, 0), 1, 1, 1, False),
    (3, (5, 4, 4), (3, 2, 2), 1, 0, 0, (2, 1, 1), 1, 2, True),
]


def general_kwargs(case):
    """conv_general's keywords for a GENERAL_CASES entry, and ref_conv's."""
    d, _, _, stride, lo, hi, kdil, idil, groups, flip = case
    pads = (
        list(lo) if isinstance(lo, tuple) else [lo] * d,
        list(hi) if isinstance(hi, tuple) else [hi] * d,
    )
    kw = dict(
        stride=stride,
        padding=pads,
        kernel_dilation=kdil,
        input_dilation=idil,
        groups=groups,
        flip=flip,
    )
    ref = dict(stride=stride, lo=lo, hi=hi, kdil=kdil, idil=idil, groups=groups, flip=flip)
    return kw, ref


@pytest.mark.parametrize("case", GENERAL_CASES)
def test_conv_general_matches_reference(case):
    _, spatial, k, *_, groups, _ = case
    cin, cout = 2 * groups, 3 * groups
    x = rand(2, *spatial, cin)
    w = rand(cout, *k, cin // groups)
    kw, ref = general_kwargs(case)
    check(mx.conv_general(mx.array(x), mx.array(w), **kw), ref_conv(x, w, **ref))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_convnd_random(d):
    fns = {1: mx.conv1d, 2: mx.conv2d, 3: mx.conv3d}
    for _ in range(6):
        groups = int(RNG.choice([1, 2]))
        cin, cout = groups * int(RNG.integers(1, 4)), groups * int(RNG.integers(1, 4))
        k = tuple(int(v) for v in RNG.integers(1, 4, size=d))
        stride = tuple(int(v) for v in RNG.integers(1, 3, size=d))
        pad = tuple(int(v) for v in RNG.integers(0, 3, size=d))
        dil = tuple(int(v) for v in RNG.integers(1, 3, size=d))
        spatial = tuple(
            (kk - 1) * dl + 1 + int(RNG.integers(0, 5)) for kk, dl in zip(k, dil, strict=False)
        )
        x = rand(int(RNG.integers(1, 3)), *spatial, cin)
        w = rand(cout, *k, cin // groups)
        got = fns[d](
            mx.array(x), mx.array(w), stride=stride, padding=pad, dilation=dil, groups=groups
        )
        check(got, ref_conv(x, w, stride, pad, pad, dil, 1, groups))


def test_conv_reads_strided_and_broadcast_inputs():
    base = rand(2, 7, 3, 6)
    x = mx.array(base).transpose(0, 2, 1, 3)  # (2, 3, 7, 6), not contiguous
    w = rand(4, 2, 3, 6)
    check(mx.conv2d(x, mx.array(w), padding=1), ref_conv(base.transpose(0, 2, 1, 3), w, 1, 1))
    row = rand(1, 1, 5, 2)
    xb = mx.broadcast_to(mx.array(row), (3, 4, 5, 2))
    w2 = rand(3, 2, 2, 2)
    check(mx.conv2d(xb, mx.array(w2)), ref_conv(np.broadcast_to(row, (3, 4, 5, 2)), w2))
    # A weight that is a view (every other output channel).
    wv = rand(6, 3, 3, 2)
    check(
        mx.conv2d(mx.array(rand(1, 5, 5, 2) * 0 + 1), mx.array(wv)[::2]),
        ref_conv(np.ones((1, 5, 5, 2)), wv[::2]),
    )


@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_transpose_matches_scatter_reference(d):
    fns = {1: mx.conv_transpose1d, 2: mx.conv_transpose2d, 3: mx.conv_transpose3d}
    for _ in range(5):
        groups = int(RNG.choice([1, 2]))
        cin, cout = groups * int(RNG.integers(1, 3)), groups * int(RNG.integers(1, 3))
        k = tuple(int(v) for v in RNG.integers(1, 4, size=d))
        stride = tuple(int(v) for v in RNG.integers(1, 4, size=d))
        dil = tuple(int(v) for v in RNG.integers(1, 3, size=d))
        pad = tuple(int(RNG.integers(0, kk * dl)) for kk, dl in zip(k, dil, strict=False))
        outpad = tuple(int(RNG.integers(0, max(s, dl))) for s, dl in zip(stride, dil, strict=False))
        spatial = tuple(int(v) for v in RNG.integers(2, 5, size=d))
        x = rand(2, *spatial, cin)
        w = rand(cout, *k, cin // groups)
        want = ref_conv_transpose(x, w, stride, pad, dil, outpad, groups)
        if min(want.shape[1:-1]) < 1:
            continue
        got = fns[d](
            mx.array(x),
            mx.array(w),
            stride=stride,
            padding=pad,
            dilation=dil,
            output_padding=outpad,
            groups=groups,
        )
        check(got, want)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("lengths", [(7, 3), (3, 7), (5, 5), (6, 1), (8, 4)])
def test_convolve_matches_numpy(mode, lengths):
    a, v = rand(lengths[0]), rand(lengths[1])
    check(
        mx.convolve(mx.array(a), mx.array(v), mode),
        np.convolve(a.astype(np.float64), v.astype(np.float64), mode),
    )


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16, mx.float64])
def test_conv_dtypes(dtype):
    if dtype == mx.float64 and mx.default_device() == mx.gpu:
        pytest.skip("float64 products are CPU-only")
    x, w = rand(2, 6, 6, 4), rand(6, 3, 3, 2)
    y = mx.conv2d(mx.array(x).astype(dtype), mx.array(w).astype(dtype), padding=1, groups=2)
    assert y.dtype == dtype
    tol = {mx.float16: 1e-2, mx.bfloat16: 5e-2, mx.float64: 1e-10}[dtype]
    check(y, ref_conv(x, w, 1, 1, groups=2), tol)


def directional_checks(f, primals, argnum, ref_linear, trials=3):
    """<grad <f, r>, v> == <ref_linear(v), r> for random r, v: f is linear in primals[argnum]."""
    out = f(*primals)
    r = rand(*out.shape).astype(np.float64)
    g = mx.grad(lambda *a: (f(*a) * mx.array(r, dtype=out.dtype)).sum(), argnums=argnum)(*primals)
    g = np.array(g, dtype=np.float64)
    assert g.shape == tuple(primals[argnum].shape)
    for _ in range(trials):
        v = rand(*primals[argnum].shape).astype(np.float64)
        want = float((ref_linear(v) * r).sum())
        got = float((g * v).sum())
        assert abs(got - want) <= 1e-3 * max(1.0, abs(want)), (got, want)


@pytest.mark.parametrize("case", GENERAL_CASES[:8])
def test_conv_general_gradients(case):
    _, spatial, k, *_, groups, _ = case
    cin, cout = 2 * groups, 3 * groups
    x, w = rand(2, *spatial, cin), rand(cout, *k, cin // groups)
    kw, ref = general_kwargs(case)

    def f(a, b):
        return mx.conv_general(a, b, **kw)

    xs, ws = mx.array(x), mx.array(w)
    directional_checks(f, [xs, ws], 0, lambda v: ref_conv(v, w, **ref))
    directional_checks(f, [xs, ws], 1, lambda v: ref_conv(x, v, **ref))


def test_conv_transpose_gradients():
    x, w = rand(2, 4, 3, 4), rand(6, 3, 2, 2)
    kw = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), output_padding=(1, 0), groups=2)

    def f(a, b):
        return mx.conv_transpose2d(a, b, **kw)

    ref = dict(stride=(2, 1), pad=(1, 0), dil=(1, 2), outpad=(1, 0), groups=2)
    directional_checks(f, [mx.array(x), mx.array(w)], 0, lambda v: ref_conv_transpose(v, w, **ref))
    directional_checks(f, [mx.array(x), mx.array(w)], 1, lambda v: ref_conv_transpose(x, v, **ref))


def test_conv_second_order_gradient():
    # d/dx of <grad_w <conv(x, w), r>, u> is linear in x too; compare against a loop over the
    # reference. Exercises the vjp of Col2Im (Im2Col) and of the product's adjoint.
    x, w = rand(1, 5, 5, 2), rand(3, 3, 3, 2)
    r = mx.array(rand(1, 3, 3, 3))
    u = mx.array(rand(3, 3, 3, 2))

    def inner(a, b):
        return (mx.conv2d(a, b) * r).sum()

    def outer(a):
        return (mx.grad(inner, argnums=1)(a, mx.array(w)) * u).sum()

    g = np.array(mx.grad(outer)(mx.array(x)), np.float64)
    # outer(a) = <conv2d(a, u), r> exactly, as conv is bilinear.
    rn = np.array(r, np.float64)
    un = np.array(u, np.float64)
    for _ in range(3):
        v = rand(*x.shape).astype(np.float64)
        assert abs((g * v).sum() - (ref_conv(v, un) * rn).sum()) < 1e-3 * max(1, abs((g * v).sum()))


def test_conv_under_vmap_and_compile():
    xs, w = rand(3, 2, 6, 6, 2), rand(4, 3, 3, 2)
    got = mx.vmap(lambda a: mx.conv2d(a, mx.array(w), padding=1))(mx.array(xs))
    check(got, np.stack([ref_conv(a, w, 1, 1) for a in xs]))
    f = mx.compile(lambda a, b: mx.conv2d(a, b, stride=2) * 2)
    check(f(mx.array(xs[0]), mx.array(w)), 2 * ref_conv(xs[0], w, 2))


def test_conv_on_another_stream():
    s = mx.new_stream(mx.default_device())
    x, w = rand(2, 8, 8, 3), rand(4, 3, 3, 3)
    y = mx.conv2d(mx.array(x), mx.array(w), stride=2, padding=1, stream=s)
    z = y + 1  # back on the default stream
    check(z, ref_conv(x, w, 2, 1) + 1)


def test_conv_empty_batch():
    y = mx.conv2d(mx.zeros((0, 5, 5, 2)), mx.zeros((3, 3, 3, 2)))
    assert y.shape == (0, 3, 3, 3)
    mx.eval(y)


@pytest.mark.parametrize(
    "call, exc, text",
    [
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5)), mx.zeros((2, 3, 3, 5))),
            ValueError,
            "must have shape",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 3)), mx.zeros((2, 3, 3, 2))),
            ValueError,
            "input channels",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 4)), mx.zeros((3, 3, 3, 2)), groups=2),
            ValueError,
            "groups",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 4)), mx.zeros((2, 3, 3, 4)), groups=0),
            ValueError,
            "groups",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 2, 2, 1)), mx.zeros((1, 3, 3, 1))),
            ValueError,
            "fewer than the dilated kernel",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 1), mx.int32), mx.zeros((1, 3, 3, 1), mx.int32)),
            ValueError,
            "floating",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 1)), mx.zeros((1, 3, 3, 1)), stride=0),
            ValueError,
            "stride",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 1)), mx.zeros((1, 3, 3, 1)), stride=(1, 1, 1)),
            ValueError,
            "one per spatial axis",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 1)), mx.zeros((1, 3, 3, 1)), padding=-1),
            ValueError,
            "padding",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 1)), mx.zeros((1, 3, 3, 1)), stride="2"),
            TypeError,
            "stride",
        ),
        (
            lambda: mx.conv2d(mx.zeros((1, 5, 5, 1)), mx.zeros((1, 3, 3, 1)), dilation=1.5),
            TypeError,
            "dilation",
        ),
        (
            lambda: mx.conv_transpose1d(
                mx.zeros((1, 5, 1)), mx.zeros((1, 3, 1)), stride=2, output_padding=2
            ),
            ValueError,
            "output padding",
        ),
        (lambda: mx.conv_general(mx.zeros((1, 5)), mx.zeros((1, 5))), ValueError, "spatial axes"),
        (lambda: mx.convolve(mx.zeros((3,)), mx.zeros((2,)), "middle"), ValueError, "mode"),
        (lambda: mx.convolve(mx.zeros((3, 1)), mx.zeros((2,))), ValueError, "1-D"),
    ],
)
def test_conv_errors(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_conv1d_takes_the_spatial_rank_from_its_input():
    # As in MLX: conv1d of an image is its 2-D convolution, the single values repeated.
    x, w = rand(1, 5, 5, 2), rand(2, 3, 3, 1)
    got = mx.conv1d(mx.array(x), mx.array(w), padding=1, groups=2)
    check(got, ref_conv(x, w, 1, 1, groups=2))


@pytest.mark.skipif(not mx.is_available(mx.gpu), reason="needs a GPU")
def test_gpu_patch_path_without_cudnn():
    # FASTSYNC_CUDNN=0: GPU convolutions take the Im2Col + product path; same results.
    import os
    import subprocess
    import sys

    code = (
        "import fastsync as mx, numpy as np\n"
        "mx.random.seed(0)\n"
        "x = mx.random.normal((2, 7, 7, 4)); w = mx.random.normal((6, 3, 3, 2))\n"
        "f = lambda x, w: mx.conv2d(x, w, stride=2, padding=1, groups=2, stream=mx.gpu).sum()\n"
        "gx, gw = mx.grad(f, argnums=(0, 1))(x, w)\n"
        "y = mx.conv2d(x, w, stride=2, padding=1, groups=2, stream=mx.gpu)\n"
        "out = np.concatenate([np.array(v).ravel() for v in (x, w, y, gx, gw)])\n"
        "import sys; sys.stdout.buffer.write(out.astype(np.float32).tobytes())\n"
    )
    out = []
    for env in ({"FASTSYNC_CUDNN": "0"}, {}):
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, env={**os.environ, **env}, check=True
        )
        out.append(np.frombuffer(run.stdout, dtype=np.float32))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-4, atol=1e-4)
    nx, nw = 2 * 7 * 7 * 4, 6 * 9 * 2
    x = out[0][:nx].reshape(2, 7, 7, 4)
    w = out[0][nx : nx + nw].reshape(6, 3, 3, 2)
    y = out[0][nx + nw : nx + nw + 2 * 4 * 4 * 6].reshape(2, 4, 4, 6)
    check(y, ref_conv(x, w, 2, 1, groups=2))


def test_vmap_over_another_axis_and_through_gradients():
    xs, w = rand(2, 3, 6, 6, 2), rand(4, 3, 3, 2)  # vmapped axis 1
    got = mx.vmap(lambda a: mx.conv2d(a, mx.array(w), stride=2), in_axes=1)(mx.array(xs))
    check(got, np.stack([ref_conv(xs[:, i], w, 2) for i in range(3)]))
    # Per-entry input gradients: vmap of grad runs Col2Im batched.
    r = rand(2, 4, 4, 4)

    def loss(a):
        return (mx.conv2d(a, mx.array(w)) * mx.array(r)).sum()

    gs = np.array(mx.vmap(mx.grad(loss))(mx.array(rand(3, 2, 6, 6, 2))))
    single = np.array(mx.grad(loss)(mx.array(rand(2, 6, 6, 2))))
    for g in gs:  # linear in the input: the same gradient for every entry
        np.testing.assert_allclose(g, single, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_spanning_several_cache_chunks(dtype):
    # Patches of 9.2 MB (float32): the fused CPU kernels walk them in several chunks, and
    # the weight gradient adds the chunks' products. Groups and a stride on one axis too.
    if dtype == np.float64 and mx.default_device() == mx.gpu:
        pytest.skip("float64 convolutions are CPU-only")
    x, w = rand(5, 40, 41, 32, dtype=dtype), rand(48, 3, 3, 16, dtype=dtype)
    kw = dict(stride=(1, 2), padding=1, groups=2)
    ref = dict(stride=(1, 2), lo=1, groups=2)
    xs, ws = mx.array(x), mx.array(w)
    check(mx.conv2d(xs, ws, **kw), ref_conv(x, w, **ref))

    def f(a, b):
        return mx.conv2d(a, b, **kw)

    directional_checks(f, [xs, ws], 0, lambda v: ref_conv(v, w, **ref))
    directional_checks(f, [xs, ws], 1, lambda v: ref_conv(x, v, **ref))


def test_conv_gradients_of_a_sum():
    # The cotangent of sum() is a broadcast scalar: a view with zero strides.
    x, w = rand(3, 9, 8, 4), rand(5, 3, 2, 4)
    gx, gw = mx.grad(lambda a, b: mx.conv2d(a, b, padding=1).sum(), argnums=(0, 1))(
        mx.array(x), mx.array(w)
    )
    for _ in range(2):
        v = rand(*x.shape).astype(np.float64)
        want = ref_conv(v, w, 1, 1).sum()
        assert abs((np.array(gx, np.float64) * v).sum() - want) <= 1e-3 * max(1, abs(want))
        v = rand(*w.shape).astype(np.float64)
        want = ref_conv(x, v, 1, 1).sum()
        assert abs((np.array(gw, np.float64) * v).sum() - want) <= 1e-3 * max(1, abs(want))


def test_pointwise_conv_of_a_view_with_groups():
    base = rand(2, 6, 5, 6)
    xv = mx.array(base).transpose(0, 2, 1, 3)  # (2, 5, 6, 6), not contiguous
    xn = base.transpose(0, 2, 1, 3)
    w = rand(4, 1, 1, 3)
    check(mx.conv2d(xv, mx.array(w), groups=2), ref_conv(xn, w, groups=2))

    def f(a, b):
        return mx.conv2d(a, b, groups=2)

    directional_checks(f, [xv, mx.array(w)], 0, lambda v: ref_conv(v, w, groups=2))
    directional_checks(f, [xv, mx.array(w)], 1, lambda v: ref_conv(xn, v, groups=2))


@pytest.mark.parametrize("case", GENERAL_CASES)
def test_patch_path_of_half_types(case):
    # float16 convolutions take the Im2Col + product form. Small integers keep every sum
    # exact in float16, so forward and input gradient must match the reference exactly.
    _, spatial, k, *_, groups, _ = case
    cin, cout = 2 * groups, 3 * groups
    x = RNG.integers(-2, 3, size=(2, *spatial, cin)).astype(np.float64)
    w = RNG.integers(-2, 3, size=(cout, *k, cin // groups)).astype(np.float64)
    kw, ref = general_kwargs(case)
    xs, ws = mx.array(x, dtype=mx.float16), mx.array(w, dtype=mx.float16)
    want = ref_conv(x, w, **ref)
    np.testing.assert_array_equal(np.array(mx.conv_general(xs, ws, **kw), np.float64), want)
    r = RNG.integers(-2, 3, size=want.shape).astype(np.float64)
    _, (gx,) = mx.vjp(lambda a: mx.conv_general(a, ws, **kw), [xs], [mx.array(r, mx.float16)])
    v = RNG.integers(-2, 3, size=x.shape).astype(np.float64)
    assert (np.array(gx, np.float64) * v).sum() == (ref_conv(v, w, **ref) * r).sum()
