"""fastsync.fast's fused kernels (rms_norm, layer_norm, rope) beside composed references
written with fastsync's ops and NumPy: values on random shapes, dtypes and strided
inputs; gradients against the composed references and central differences in float64;
vmap against a loop. On the GPU through .ci/gpu (FASTSYNC_DEFAULT_DEVICE=gpu)."""

import math

import fastsync as mx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RNG = np.random.default_rng(5)
DTYPES = {"float32": 2e-5, "float16": 2e-2, "bfloat16": 8e-2}


def ref_rms(x, w, eps):
    xf = x.astype(mx.float32)
    y = xf * mx.rsqrt(mx.mean(mx.square(xf), axis=-1, keepdims=True) + eps)
    return y if w is None else y * w.astype(mx.float32)


def ref_layer(x, w, b, eps):
    xf = x.astype(mx.float32)
    c = xf - mx.mean(xf, axis=-1, keepdims=True)
    y = c * mx.rsqrt(mx.mean(mx.square(c), axis=-1, keepdims=True) + eps)
    if w is not None:
        y = y * w.astype(mx.float32)
    return y if b is None else y + b.astype(mx.float32)


def ref_rope(x, dims, traditional, base, scale, offset, freqs=None):
    half = dims // 2
    if freqs is None:
        inv = mx.exp(mx.arange(half, dtype=mx.float32) * (-2.0 * math.log(base) / dims))
    else:
        inv = 1.0 / freqs
    pos = mx.arange(x.shape[-2], dtype=mx.float32)
    off = offset.astype(mx.float32) if isinstance(offset, mx.array) else float(offset)
    if isinstance(off, mx.array) and off.ndim == 1:
        off = off.reshape(-1, *([1] * (x.ndim - 2)))
    theta = mx.expand_dims((pos + off) * scale, -1) * inv
    cos, sin = mx.cos(theta), mx.sin(theta)
    xf = x.astype(mx.float32)
    rot, rest = xf[..., :dims], xf[..., dims:]
    if traditional:
        a, b = rot[..., 0::2], rot[..., 1::2]
        out = mx.stack([a * cos - b * sin, a * sin + b * cos], axis=-1).reshape(rot.shape)
    else:
        a, b = rot[..., :half], rot[..., half:]
        out = mx.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
    return mx.concatenate([out, mx.broadcast_to(rest, (*out.shape[:-1], rest.shape[-1]))], -1)


def check(got, want, tol):
    assert got.shape == want.shape
    np.testing.assert_allclose(
        np.array(got.astype(mx.float32)), np.array(want.astype(mx.float32)), rtol=tol, atol=tol
    )


shapes = st.lists(st.integers(1, 5), min_size=0, max_size=2).flatmap(
    lambda lead: st.integers(1, 300).map(lambda n: (*lead, n))
)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, dtype=st.sampled_from(list(DTYPES)), affine=st.sampled_from([0, 1, 2]))
def test_norms_match_composed(shape, dtype, affine):
    dt = getattr(mx, dtype)
    x = mx.array(RNG.standard_normal(shape).astype(np.float32) * 3 + 1).astype(dt)
    n = shape[-1]
    w = mx.array(RNG.standard_normal(n).astype(np.float32)).astype(dt) if affine else None
    b = mx.array(RNG.standard_normal(n).astype(np.float32)).astype(dt) if affine == 2 else None
    tol = DTYPES[dtype]
    got = mx.fast.rms_norm(x, w, 1e-5)
    assert got.dtype == dt
    check(got, ref_rms(x, w, 1e-5), tol)
    got = mx.fast.layer_norm(x, w, b, 1e-4)
    assert got.dtype == dt
    check(got, ref_layer(x, w, b, 1e-4), tol)


def test_norms_strided_and_float64():
    x = mx.array(RNG.standard_normal((64, 48)))  # float32 view of a transposed array
    xt = x.T
    w = mx.array(RNG.standard_normal(64).astype(np.float32))
    check(mx.fast.rms_norm(xt, w, 1e-6), ref_rms(xt, w, 1e-6), 2e-5)
    check(mx.fast.layer_norm(xt[::2], None, w, 1e-6), ref_layer(xt[::2], None, w, 1e-6), 2e-5)
    x64 = mx.array(RNG.standard_normal((3, 17)), dtype=mx.float64)
    got = mx.fast.layer_norm(x64, None, None, 0.0)
    assert got.dtype == mx.float64
    xn = np.array(x64)
    want = (xn - xn.mean(-1, keepdims=True)) / xn.std(-1, keepdims=True)
    np.testing.assert_allclose(np.array(got), want, rtol=1e-12, atol=1e-12)
    # A weight of another dtype promotes, as MLX does.
    assert mx.fast.rms_norm(xt.astype(mx.float16), w, 1e-5).dtype == mx.float32


@settings(max_examples=25, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    length=st.integers(1, 9),
    half=st.integers(1, 16),
    extra=st.integers(0, 6),
    traditional=st.booleans(),
    dtype=st.sampled_from(list(DTYPES)),
    offset_kind=st.sampled_from(["int", "scalar", "batch"]),
    use_freqs=st.booleans(),
)
def test_rope_matches_composed(lead, length, half, extra, traditional, dtype, offset_kind,
                               use_freqs):  # fmt: skip
    dims = 2 * half
    shape = (*lead, length, dims + extra)
    dt = getattr(mx, dtype)
    x = mx.array(RNG.standard_normal(shape).astype(np.float32)).astype(dt)
    offset = {
        "int": 5,
        "scalar": mx.array(7),
        "batch": mx.array(RNG.integers(0, 50, lead[0]).astype(np.int32)),
    }[offset_kind]
    freqs = mx.array(RNG.uniform(1, 100, half).astype(np.float32)) if use_freqs else None
    base = None if use_freqs else 1000.0
    got = mx.fast.rope(x, dims, traditional=traditional, base=base, scale=0.7, offset=offset,
                       freqs=freqs)  # fmt: skip
    assert got.dtype == dt
    check(got, ref_rope(x, dims, traditional, base, 0.7, offset, freqs), DTYPES[dtype] * 4)


def test_rope_strided_input():
    """Views with dense rows (read in place on the CPU: transposed heads, stepped and reversed
    positions) and one with strided features (copied first)."""
    base = mx.array(RNG.standard_normal((2, 8, 6, 16)).astype(np.float32))
    views = [base.transpose(0, 2, 1, 3), base[:, ::2, ::-1, :], base.swapaxes(-1, -2)[..., :6, :],
             base[1].transpose(1, 0, 2),  # three axes, read in place on the GPU too
             base.reshape(2, 2, 4, 6, 16).transpose(0, 2, 1, 3, 4)]  # five: copied on the GPU
    for x in views:
        got = mx.fast.rope(x, x.shape[-1], traditional=False, base=10000.0, scale=1.0, offset=3)
        check(got, ref_rope(x, x.shape[-1], False, 10000.0, 1.0, 3), 2e-5)


def _fd_check(f, x, eps=1e-6, tol=1e-6):
    """Central differences of sum(f(x) * r) against grad, in float64."""
    r = mx.array(RNG.standard_normal(f(x).shape), dtype=mx.float64)
    g = np.array(mx.grad(lambda x: mx.sum(f(x) * r))(x))
    xn = np.array(x)
    rn = np.array(r)
    num = np.zeros_like(xn)
    for i in np.ndindex(xn.shape):
        e = np.zeros_like(xn)
        e[i] = eps
        up = float(np.sum(np.array(f(mx.array(xn + e, dtype=mx.float64))) * rn))
        dn = float(np.sum(np.array(f(mx.array(xn - e, dtype=mx.float64))) * rn))
        num[i] = (up - dn) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=tol, atol=tol)


def test_gradients_by_central_differences():
    x = mx.array(RNG.standard_normal((3, 7)), dtype=mx.float64)
    w = mx.array(RNG.standard_normal(7), dtype=mx.float64)
    b = mx.array(RNG.standard_normal(7), dtype=mx.float64)
    _fd_check(lambda x: mx.fast.rms_norm(x, w, 1e-5), x)
    _fd_check(lambda x: mx.fast.layer_norm(x, w, b, 1e-5), x)
    _fd_check(lambda w: mx.fast.rms_norm(x, w, 1e-5), w)
    _fd_check(lambda w: mx.fast.layer_norm(x, w, b, 1e-5), w)
    _fd_check(lambda b: mx.fast.layer_norm(x, w, b, 1e-5), b)
    xr = mx.array(RNG.standard_normal((2, 4, 6)), dtype=mx.float64)
    _fd_check(lambda x: mx.fast.rope(x, 4, traditional=True, base=10.0, scale=1.0, offset=2), xr)
    _fd_check(lambda x: mx.fast.rope(x, 6, traditional=False, base=10.0, scale=0.5, offset=0), xr)


def test_gradients_match_composed_and_compose_again():
    x = mx.array(RNG.standard_normal((4, 5, 32)).astype(np.float32))
    w = mx.array(RNG.standard_normal(32).astype(np.float32))
    b = mx.array(RNG.standard_normal(32).astype(np.float32))

    def loss(f):
        return lambda x, w, b: mx.sum(mx.sin(f(x, w, b)) * x)

    fused = mx.grad(loss(lambda x, w, b: mx.fast.layer_norm(x, w, b, 1e-5)), argnums=(0, 1, 2))
    comp = mx.grad(loss(lambda x, w, b: ref_layer(x, w, b, 1e-5)), argnums=(0, 1, 2))
    for g1, g2 in zip(fused(x, w, b), comp(x, w, b), strict=True):
        check(g1, g2, 1e-4)
    fused = mx.grad(loss(lambda x, w, b: mx.fast.rms_norm(x, w, 1e-5)), argnums=(0, 1))
    comp = mx.grad(loss(lambda x, w, b: ref_rms(x, w, 1e-5)), argnums=(0, 1))
    for g1, g2 in zip(fused(x, w, b), comp(x, w, b), strict=True):
        check(g1, g2, 1e-4)

    # Second derivatives through the composed vjp.
    def hess(f):
        return mx.grad(lambda x: mx.sum(mx.grad(lambda y: mx.sum(f(y) ** 2))(x)))(x)

    check(hess(lambda y: mx.fast.rms_norm(y, w, 1e-5)), hess(lambda y: ref_rms(y, w, 1e-5)), 1e-3)
    # The jvp (transposed vjp) agrees with the composed one.
    t = mx.array(RNG.standard_normal(x.shape).astype(np.float32))
    _, j1 = mx.jvp(lambda x: mx.fast.layer_norm(x, w, b, 1e-5), [x], [t])
    _, j2 = mx.jvp(lambda x: ref_layer(x, w, b, 1e-5), [x], [t])
    check(j1[0], j2[0], 1e-4)
    offs = mx.array([1, 2, 3, 4])

    def fused_rope(x):
        return mx.fast.rope(x, 32, traditional=False, base=50.0, scale=1.0, offset=offs)

    g = mx.grad(lambda x: mx.sum(mx.cos(fused_rope(x))))(x)
    gr = mx.grad(lambda x: mx.sum(mx.cos(ref_rope(x, 32, False, 50.0, 1.0, offs))))(x)
    check(g, gr, 1e-4)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(0, 40),
    n=st.sampled_from([1, 7, 64, 300, 1500]),
    dtype=st.sampled_from(list(DTYPES)),
    weight=st.booleans(),
    argnums=st.sampled_from([(0,), (1,), (0, 1)]),
    strided=st.booleans(),
)
def test_rms_norm_gradient_kernel_matches_composed(rows, n, dtype, weight, argnums, strided):
    """RMSNormGrad (one node for dx and dw) against the composed reference's gradients:
    rows past a block, long rows (a block per row on the GPU), no rows (dw is zeros), a
    weight or none, strided x."""
    if not weight:
        argnums = (0,)
    dt = getattr(mx, dtype)
    x = mx.array(RNG.standard_normal((2 * rows, n)).astype(np.float32)).astype(dt)
    x = x[::2] if strided else x[:rows]
    w = mx.array(RNG.standard_normal(n).astype(np.float32)).astype(dt) if weight else None
    cot = mx.array(RNG.standard_normal((rows, n)).astype(np.float32))

    def loss(f):
        return lambda x, w: mx.sum(f(x, w).astype(mx.float32) * cot)

    got = mx.grad(loss(lambda x, w: mx.fast.rms_norm(x, w, 1e-5)), argnums)(x, w)
    want = mx.grad(loss(lambda x, w: ref_rms(x, w, 1e-5)), argnums)(
        x.astype(mx.float32), None if w is None else w.astype(mx.float32)
    )
    got, want = (g if isinstance(g, tuple) else (g,) for g in (got, want))
    assert "RMSNormGrad" in mx._core._graph_ops(list(got))
    for a, b in zip(got, want, strict=True):
        assert a.dtype == dt
        tol = DTYPES[dtype] * 4
        np.testing.assert_allclose(
            np.array(a.astype(mx.float32)), np.array(b), rtol=tol,
            atol=tol * max(1.0, float(np.abs(np.array(b)).max(initial=0.0))),
        )  # fmt: skip


def test_vmap_matches_a_loop():
    x = mx.array(RNG.standard_normal((3, 4, 16)).astype(np.float32))
    w = mx.array(RNG.standard_normal(16).astype(np.float32))
    for f in (lambda x: mx.fast.rms_norm(x, w, 1e-5),
              lambda x: mx.fast.layer_norm(x, None, w, 1e-5)):  # fmt: skip
        got = mx.vmap(f, in_axes=1)(x)
        want = mx.stack([f(x[:, i]) for i in range(4)])
        check(got, want, 1e-6)
    ws = mx.array(RNG.standard_normal((4, 16)).astype(np.float32))
    got = mx.vmap(lambda x, w: mx.fast.rms_norm(x, w, 1e-5))(x.transpose(1, 0, 2), ws)
    want = mx.stack([mx.fast.rms_norm(x[:, i], ws[i], 1e-5) for i in range(4)])
    check(got, want, 1e-6)


def test_errors():
    x = mx.ones((2, 8))
    with pytest.raises(ValueError, match=r"weight must have shape \(8,\)"):
        mx.fast.rms_norm(x, mx.ones((4,)), 1e-5)
    with pytest.raises(ValueError, match="bias"):
        mx.fast.layer_norm(x, None, mx.ones((2, 8)), 1e-5)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        mx.fast.rms_norm(mx.array(1.0), None, 1e-5)
    with pytest.raises(ValueError, match="complex"):
        mx.fast.rms_norm(mx.ones((2, 2), dtype=mx.complex64), None, 1e-5)
    r = dict(traditional=False, scale=1.0, offset=0)
    with pytest.raises(ValueError, match="dims must be even"):
        mx.fast.rope(x, 3, base=1.0, **r)
    with pytest.raises(ValueError, match="not both"):
        mx.fast.rope(x, 8, base=1.0, freqs=mx.ones((4,)), **r)
    with pytest.raises(ValueError, match="base is required"):
        mx.fast.rope(x, 8, base=None, **r)
    with pytest.raises(ValueError, match=r"freqs must have shape \(4,\)"):
        mx.fast.rope(x, 8, base=None, freqs=mx.ones((3,)), **r)
    with pytest.raises(ValueError, match="offset"):
        mx.fast.rope(x, 8, traditional=False, base=1.0, scale=1.0, offset=mx.array([1, 2, 3]))
    with pytest.raises(ValueError, match="offset"):
        mx.fast.rope(x, 8, traditional=False, base=1.0, scale=1.0, offset=mx.array(1.5))
    freqs = mx.ones((4,))
    with pytest.raises(ValueError, match="stop_gradient"):
        mx.grad(lambda f: mx.sum(mx.fast.rope(x, 8, traditional=False, base=None, scale=1.0,
                                               offset=0, freqs=f)))(freqs)  # fmt: skip


# --- attention ------------------------------------------------------------------------------


@pytest.fixture(params=["fused", "composed"])
def attention_path(request, monkeypatch):
    """Both ways the op computes (FASTSYNC_ATTENTION; by default composed unless the scores
    would be large), each on whatever device the suite runs on."""
    monkeypatch.setenv("FASTSYNC_ATTENTION", request.param)
    return request.param


def ref_attention(q, k, v, scale, mask=None, sinks=None):
    """Attention composed of ops (float32 scores), the reference for the fused kernel."""
    b, hq, lq, d = q.shape
    hk, lk = k.shape[1], k.shape[2]
    rep = hq // hk
    qg = (q.astype(mx.float32) * scale).reshape(b, hk, rep, lq, d)
    kg = mx.expand_dims(k.astype(mx.float32), 2)
    vg = mx.expand_dims(v.astype(mx.float32), 2)
    s = qg @ kg.swapaxes(-1, -2)
    if isinstance(mask, str):
        keep = (mx.arange(lq).reshape(lq, 1) + (lk - lq)) >= mx.arange(lk).reshape(1, lk)
        s = mx.where(keep, s, -math.inf)
    elif mask is not None:
        m = mx.broadcast_to(mask, (b, hq, lq, lk)).reshape(b, hk, rep, lq, lk)
        s = mx.where(m, s, -math.inf) if m.dtype == mx.bool_ else s + m.astype(mx.float32)
    if sinks is not None:
        col = sinks.astype(mx.float32).reshape(1, hk, rep, 1, 1)
        col = mx.broadcast_to(col, (b, hk, rep, lq, 1))
        p = mx.softmax(mx.concatenate([col, s], axis=-1), axis=-1)[..., 1:]
    else:
        p = mx.softmax(s, axis=-1)
    return (p @ vg).reshape(b, hq, lq, v.shape[-1]).astype(q.dtype)


# The fixture only sets an environment variable, the same for every example.
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    heads=st.sampled_from([(1, 1), (4, 4), (4, 2), (6, 1)]),
    lq=st.integers(1, 9),
    extra_k=st.integers(0, 6),
    d=st.sampled_from([1, 8, 33, 64]),
    dv=st.sampled_from([3, 32]),
    mask=st.sampled_from(["none", "causal", "bool", "additive"]),
    sinks=st.booleans(),
    dtype=st.sampled_from(list(DTYPES)),
    transposed=st.booleans(),
)
def test_attention_matches_composed(heads, lq, extra_k, d, dv, mask, sinks, dtype, transposed,
                                    attention_path):  # fmt: skip
    hq, hk = heads
    lk = lq + extra_k
    dt = getattr(mx, dtype)

    def rnd(*shape):
        return mx.array(RNG.standard_normal(shape).astype(np.float32)).astype(dt)

    if transposed:  # (B, L, H, D) projections viewed as (B, H, L, D), as models make them
        q = rnd(2, lq, hq, d).transpose(0, 2, 1, 3)
        k = rnd(2, lk, hk, d).transpose(0, 2, 1, 3)
        v = rnd(2, lk, hk, dv).transpose(0, 2, 1, 3)
    else:
        q, k, v = rnd(2, hq, lq, d), rnd(2, hk, lk, d), rnd(2, hk, lk, dv)
    m = None
    if mask == "causal":
        m = "causal"
    elif mask == "bool":
        keep = RNG.random((2, 1, lq, lk)) > 0.3
        keep[..., 0] = True
        m = mx.array(keep)
    elif mask == "additive":
        m = mx.array(RNG.standard_normal((lq, lk)).astype(np.float32))
    sk = mx.array(RNG.standard_normal(hq).astype(np.float32)) if sinks else None
    scale = 1 / math.sqrt(d)
    got = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=m, sinks=sk)
    assert got.dtype == dt and got.shape == (2, hq, lq, dv)
    check(got, ref_attention(q, k, v, scale, m, sk), DTYPES[dtype] * 4)


@settings(max_examples=20, deadline=None)
@given(
    lq=st.sampled_from([1, 2, 5]),
    lk=st.sampled_from([63, 64, 65, 300, 1031]),
    heads=st.sampled_from([(8, 2), (4, 4), (3, 1)]),
    mask=st.sampled_from(["none", "causal", "bool", "additive"]),
    sinks=st.booleans(),
    dtype=st.sampled_from(list(DTYPES)),
)
def test_attention_long_keys_few_queries(lq, lk, heads, mask, sinks, dtype):
    """A decoding step's shapes: the default fused path, whose GPU kernel splits a row's keys
    across blocks and merges them; keys and values are the valid part of a larger cache (a
    strided view), and a boolean mask blanks whole runs of keys (empty partial states)."""
    hq, hk = heads
    dt = getattr(mx, dtype)
    cache = mx.array(RNG.standard_normal((2, 1, hk, lk + 7, 16)).astype(np.float32)).astype(dt)
    k, v = cache[0, :, :, :lk, :], cache[1, :, :, :lk, :]
    q = mx.array(RNG.standard_normal((1, hq, lq, 16)).astype(np.float32)).astype(dt)
    m = None
    if mask == "causal":
        m = "causal"
    elif mask == "bool":
        keep = np.ones((1, hq, lq, lk), bool)
        keep[..., : lk // 2] = False  # every split of the first half is empty
        keep[..., lk // 2 + 1 :: 3] = False
        m = mx.array(keep)
    elif mask == "additive":
        m = mx.array(RNG.standard_normal((lq, lk)).astype(np.float32))
    sk = mx.array(RNG.standard_normal(hq).astype(np.float32)) if sinks else None
    got = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.25, mask=m, sinks=sk)
    assert "ScaledDotProductAttention" in mx._core._graph_ops([got])
    check(got, ref_attention(q, k, v, 0.25, m, sk), DTYPES[dtype] * 4)


@settings(max_examples=16, deadline=None)
@given(
    group=st.sampled_from([1, 4, 8, 16]),
    lq=st.sampled_from([1, 4, 8]),
    lk=st.sampled_from([1, 32, 33, 777]),
    d=st.sampled_from([40, 64, 128]),
    causal=st.booleans(),
    sinks=st.booleans(),
    dtype=st.sampled_from(list(DTYPES)),
)
def test_attention_decode_shapes(group, lq, lk, d, causal, sinks, dtype):
    """Grouped-query decoding steps without a mask array, as a Llama model makes them: query
    heads per KV head 1 to 16, head dimensions 40 (rows not 16-byte aligned), 64 and 128, keys
    from one to several hundred (the GPU kernel splits them across blocks)."""
    hk = 2
    hq = hk * group
    dt = getattr(mx, dtype)
    cache = mx.array(RNG.standard_normal((2, 1, hk, lk + 5, d)).astype(np.float32)).astype(dt)
    k, v = cache[0, :, :, :lk, :], cache[1, :, :, :lk, :]
    q = mx.array(RNG.standard_normal((1, lq, hq, d)).astype(np.float32)).astype(dt)
    q = q.transpose(0, 2, 1, 3)
    m = "causal" if causal and lq <= lk else None
    sk = mx.array(RNG.standard_normal(hq).astype(np.float32)) if sinks else None
    scale = 1 / math.sqrt(d)
    got = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=m, sinks=sk)
    check(got, ref_attention(q, k, v, scale, m, sk), DTYPES[dtype] * 4)


def test_attention_fully_masked_rows_match_cpu():
    """Rows whose keys are all masked: NaN (0 / 0) without sinks, zeros with them, as the CPU
    kernel gives; the keys are long enough for the GPU to split them."""
    q = mx.ones((1, 2, 1, 8))
    k = v = mx.ones((1, 2, 500, 8))
    m = mx.zeros((1, 2, 1, 500), dtype=mx.bool_)
    f = mx.fast.scaled_dot_product_attention
    assert np.isnan(np.array(f(q, k, v, scale=1.0, mask=m))).all()
    out = f(q, k, v, scale=1.0, mask=m, sinks=mx.zeros((2,)))
    assert np.array_equal(np.array(out), np.zeros((1, 2, 1, 8), np.float32))


def test_attention_gradients(attention_path):
    q = mx.array(RNG.standard_normal((2, 4, 5, 8)), dtype=mx.float64)
    k = mx.array(RNG.standard_normal((2, 2, 7, 8)), dtype=mx.float64)
    v = mx.array(RNG.standard_normal((2, 2, 7, 3)), dtype=mx.float64)
    sk = mx.array(RNG.standard_normal(4), dtype=mx.float64)
    f = mx.fast.scaled_dot_product_attention
    _fd_check(lambda q: f(q, k, v, scale=0.3, mask="causal"), q)
    _fd_check(lambda k: f(q, k, v, scale=0.3, sinks=sk), k)
    _fd_check(lambda v: f(q, k, v, scale=0.3), v)
    # Sinks are float32 inside: a step that float32 resolves.
    _fd_check(lambda s: f(q, k, v, scale=0.3, sinks=s), sk, eps=1e-3, tol=1e-4)
    add = mx.array(RNG.standard_normal((5, 7)), dtype=mx.float64)
    _fd_check(lambda q: f(q, k, v, scale=0.3, mask=add), q)
    # float32 against the composed reference's gradients, through a GQA layout.
    q32, k32, v32 = (x.astype(mx.float32) for x in (q, k, v))
    g1 = mx.grad(lambda q, k, v: mx.sum(mx.sin(f(q, k, v, scale=0.3, mask="causal"))),
                 argnums=(0, 1, 2))(q32, k32, v32)  # fmt: skip
    g2 = mx.grad(lambda q, k, v: mx.sum(mx.sin(ref_attention(q, k, v, 0.3, "causal"))),
                 argnums=(0, 1, 2))(q32, k32, v32)  # fmt: skip
    for a, b in zip(g1, g2, strict=True):
        check(a, b, 1e-5)
    # An additive mask's gradient is the scores'.
    _fd_check(lambda m: f(q, k, v, scale=0.3, mask=m), add, eps=1e-3, tol=1e-4)


def test_attention_errors(attention_path):
    f = mx.fast.scaled_dot_product_attention
    q, k, v = mx.ones((1, 4, 3, 8)), mx.ones((1, 3, 5, 8)), mx.ones((1, 3, 5, 8))
    with pytest.raises(ValueError, match="heads"):
        f(q, k, v, scale=1.0)
    with pytest.raises(ValueError, match="4 dimensions"):
        f(mx.ones((4, 3, 8)), k, v, scale=1.0)
    with pytest.raises(ValueError, match="unknown mask"):
        f(q, mx.ones((1, 2, 5, 8)), mx.ones((1, 2, 5, 8)), scale=1.0, mask="upper")
    with pytest.raises(ValueError, match="do not match"):
        f(q, mx.ones((1, 2, 5, 8)), mx.ones((1, 2, 6, 8)), scale=1.0)
    with pytest.raises(ValueError, match="sinks"):
        f(q, mx.ones((1, 2, 5, 8)), mx.ones((1, 2, 5, 8)), scale=1.0, sinks=mx.ones((3,)))


def test_attention_path_choice(monkeypatch):
    """By default a few query rows take the fused kernel, longer float32 queries the composed
    graph; the variable overrides each way and rejects anything else."""
    monkeypatch.delenv("FASTSYNC_ATTENTION", raising=False)
    f = mx.fast.scaled_dot_product_attention
    kv = mx.ones((1, 2, 40, 8))

    def ops(lq):
        return mx._core._graph_ops([f(mx.ones((1, 2, lq, 8)), kv, kv, scale=1.0)])

    assert "ScaledDotProductAttention" in ops(8) and "Matmul" not in ops(8)
    assert "ScaledDotProductAttention" not in ops(9) and "Matmul" in ops(9)
    monkeypatch.setenv("FASTSYNC_ATTENTION", "composed")
    assert "ScaledDotProductAttention" not in ops(1)
    monkeypatch.setenv("FASTSYNC_ATTENTION", "fused")
    assert "ScaledDotProductAttention" in ops(32)
    monkeypatch.setenv("FASTSYNC_ATTENTION", "flash")  # float32, head dimension 8
    with pytest.raises(ValueError, match="flash attention does not apply here"):
        ops(32)
    monkeypatch.setenv("FASTSYNC_ATTENTION", "sometimes")
    q = mx.ones((1, 1, 2, 4))
    with pytest.raises(ValueError, match="FASTSYNC_ATTENTION=sometimes"):
        mx.fast.scaled_dot_product_attention(q, q, q, scale=1.0)


# --- flash attention (GPU) ------------------------------------------------------------------

needs_gpu = pytest.mark.skipif(not mx.is_available(mx.gpu), reason="flash attention: GPU only")


def close(got, want, tol):
    """Within tol of the reference's largest magnitude (gradients grow with the length)."""
    g, w = np.array(got.astype(mx.float32)), np.array(want.astype(mx.float32))
    assert g.shape == w.shape
    np.testing.assert_allclose(g, w, rtol=0, atol=tol * max(1.0, float(np.abs(w).max())))


def flash_operands(b, hq, hk, lq, lk, d, dt, layout):
    def rnd(h, n):
        x = RNG.standard_normal((b, n, h, d + 8)).astype(np.float32)
        x = mx.array(x, dtype=dt).transpose(0, 2, 1, 3)
        if layout == "unaligned":  # rows start 2 bytes past a 16-byte boundary: copied
            return x[..., 1 : d + 1]
        x = x[..., :d]
        return x if layout == "transposed" else mx.contiguous(x)

    return rnd(hq, lq), rnd(hk, lk), rnd(hk, lk)


@needs_gpu
@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 2),
    heads=st.sampled_from([(2, 2), (4, 1), (6, 2)]),
    lq=st.integers(9, 200),
    lk_extra=st.integers(0, 70),
    causal=st.booleans(),
    d=st.sampled_from([64, 128]),
    dtype=st.sampled_from(["float16", "bfloat16"]),
    layout=st.sampled_from(["dense", "transposed", "unaligned"]),
)
def test_flash_attention_matches_composed(b, heads, lq, lk_extra, causal, d, dtype, layout):
    """The GPU's default for long half-precision queries: values and the three gradients
    against the float32 composed reference, on partial tiles, grouped heads, key lengths past
    the query length (the causal diagonal offset) and strided or misaligned operands."""
    hq, hk = heads
    lk = lq + lk_extra
    dt = getattr(mx, dtype)
    q, k, v = flash_operands(b, hq, hk, lq, lk, d, dt, layout)
    scale = 1 / math.sqrt(d)
    mask = "causal" if causal else None
    f = mx.fast.scaled_dot_product_attention
    with mx.stream(mx.gpu):
        got = f(q, k, v, scale=scale, mask=mask)
        assert "FlashAttention" in mx._core._graph_ops([got])
        want = ref_attention(*(x.astype(mx.float32) for x in (q, k, v)), scale, mask)
        close(got, want, 1e-2 if dtype == "float16" else 3e-2)
        cot = mx.array(RNG.standard_normal((b, hq, lq, d)).astype(np.float32))

        def loss(attention):
            return lambda q, k, v: mx.sum(attention(q, k, v).astype(mx.float32) * cot)

        g1 = mx.grad(loss(lambda q, k, v: f(q, k, v, scale=scale, mask=mask)), (0, 1, 2))(q, k, v)
        g2 = mx.grad(loss(lambda q, k, v: ref_attention(q, k, v, scale, mask)), (0, 1, 2))(
            *(x.astype(mx.float32) for x in (q, k, v))
        )
        assert "FlashAttentionGrad" in mx._core._graph_ops(list(g1))
        for a, w in zip(g1, g2, strict=True):
            assert a.dtype == dt
            close(a, w, 2e-2 if dtype == "float16" else 5e-2)


@needs_gpu
def test_flash_attention_rows_without_keys_and_empty():
    """Causal with fewer keys than queries: the first rows see no key and are NaN, as the
    composed form's 0 / 0; the rest match it. Zero-length inputs give empty results."""
    f = mx.fast.scaled_dot_product_attention
    with mx.stream(mx.gpu):
        q, k, v = flash_operands(1, 2, 2, 80, 30, 64, mx.float16, "dense")
        got = np.array(f(q, k, v, scale=0.125, mask="causal").astype(mx.float32))
        want = ref_attention(*(x.astype(mx.float32) for x in (q, k, v)), 0.125, "causal")
        assert np.isnan(got[:, :, :50]).all()
        close(mx.array(got[:, :, 50:]), want[:, :, 50:], 1e-2)
        e = mx.zeros((1, 2, 0, 64), dtype=mx.float16)
        assert f(mx.ones((1, 2, 16, 64), dtype=mx.float16)[:, :, :0], e, e, scale=1.0).shape == (
            1, 2, 0, 64,
        )  # fmt: skip


@needs_gpu
def test_flash_attention_differentiates_twice(monkeypatch):
    """Second derivatives go through the composed gradients: the same as the composed
    path's."""
    f = mx.fast.scaled_dot_product_attention
    with mx.stream(mx.gpu):
        q, k, v = flash_operands(1, 4, 2, 40, 40, 64, mx.float16, "dense")

        def hess_vec():
            inner = mx.grad(lambda q: mx.sum(mx.square(f(q, k, v, scale=0.125, mask="causal"))))
            return mx.grad(lambda q: mx.sum(inner(q).astype(mx.float32) * q))(q)

        got = hess_vec()
        monkeypatch.setenv("FASTSYNC_ATTENTION", "composed")
        close(got, hess_vec(), 3e-2)


@needs_gpu
def test_flash_attention_path_choice(monkeypatch):
    """On a GPU stream half-precision queries past the decoding size take flash attention,
    a decoding step the fused kernel, float32 the composed graph; asking for flash where it
    does not apply says why."""
    monkeypatch.delenv("FASTSYNC_ATTENTION", raising=False)
    f = mx.fast.scaled_dot_product_attention

    def ops(lq, dt=mx.bfloat16, d=64, s=mx.gpu):
        kv = mx.ones((1, 2, 40, d), dtype=dt)
        return mx._core._graph_ops([f(mx.ones((1, 2, lq, d), dtype=dt), kv, kv, scale=1.0,
                                      stream=s)])  # fmt: skip

    assert "FlashAttention" in ops(9) and "Matmul" not in ops(9)
    assert "ScaledDotProductAttention" in ops(8)
    assert "FlashAttention" not in ops(9, mx.float32) and "Matmul" in ops(9, mx.float32)
    assert "FlashAttention" not in ops(9, d=32)
    assert "FlashAttention" not in ops(9, s=mx.cpu)
    monkeypatch.setenv("FASTSYNC_ATTENTION", "flash")
    with pytest.raises(ValueError, match="float16 or bfloat16"):
        ops(9, mx.float32)
    with pytest.raises(ValueError, match="GPU streams only"):
        ops(9, s=mx.cpu)
