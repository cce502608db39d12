"""compile's fusion: chains of elementwise ops become one node (src/fuse.h), with results
identical to the unfused graph on random programs, dtypes, broadcasts and strided
inputs; fewer nodes; nothing fused that a variable, an output or a transform still needs.
On the GPU through .ci/gpu (FASTSYNC_DEFAULT_DEVICE=gpu)."""

import threading

import fastsync as mx
import fastsync.nn as nn
import fastsync.optimizers as optim
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

RNG = np.random.default_rng(9)

UNARY = [mx.exp, mx.tanh, mx.sigmoid, mx.sin, mx.cos, mx.negative, mx.abs, mx.square,
         mx.erf, lambda x: mx.log1p(mx.abs(x)), lambda x: mx.sqrt(mx.abs(x))]  # fmt: skip
BINARY = [mx.add, mx.subtract, mx.multiply, mx.maximum, mx.minimum,
          lambda a, b: mx.divide(a, 1.5 + mx.abs(b))]  # fmt: skip


def nodes(*arrays):
    return mx._core._graph_nodes(list(arrays))


def fused_and_plain(fn, *args):
    """fn's result through compile, and the same graph unfused (a separate call)."""
    return mx.compile(fn)(*args), fn(*args)


def assert_same(a, b, dtype=mx.float32, ref=None):
    # A fused chain keeps half-precision intermediates in float32 and rounds once; the
    # unfused graph rounds after every op, so the two differ by that rounding, and where an
    # intermediate passes float16's range (65504) only the unfused one overflows: such
    # positions are compared only for the other dtypes.
    tol = {mx.float32: 1e-6, mx.float64: 1e-12, mx.float16: 1e-2, mx.bfloat16: 8e-2}[dtype]
    assert a.shape == b.shape and a.dtype == b.dtype
    x, y = np.array(a.astype(mx.float32)), np.array(b.astype(mx.float32))
    if dtype == mx.float16:
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
    if ref is None or dtype not in (mx.float16, mx.bfloat16):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)
        return
    # A chain that amplifies errors (exp of exp of exp) carries the unfused graph's roundings
    # far past any fixed tolerance. Then the fused result must be at least as close as the
    # unfused one to the chain evaluated in float32 (`ref`), give or take two roundings.
    r = np.array(ref.astype(mx.float32))
    if dtype == mx.float16:
        r = r[keep]
    eps = 2.0**-10 if dtype == mx.float16 else 2.0**-7
    fine = np.isfinite(r)
    err_fused, err_plain = np.abs(x - r)[fine], np.abs(y - r)[fine]
    bound = np.maximum(err_plain, tol * (1 + np.abs(r[fine]))) + 2 * eps * np.abs(r[fine])
    bad = np.flatnonzero(err_fused > bound)
    assert bad.size == 0, (x[fine][bad][:5], y[fine][bad][:5], r[fine][bad][:5])


@settings(max_examples=40, deadline=None)
@given(
    program=st.lists(
        st.tuples(st.booleans(), st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=20
    ),  # fmt: skip
    dtype=st.sampled_from(["float32", "float16", "bfloat16", "float64"]),
    shape=st.sampled_from([(7,), (3, 300), (2, 3, 65), (1025,)]),
)
def test_random_chains_match_the_unfused_graph(program, dtype, shape):
    dt = getattr(mx, dtype)
    lead = shape[:-1]
    inputs = [
        mx.array(RNG.standard_normal(shape).astype(np.float32)).astype(dt),
        mx.array(RNG.standard_normal(shape[-1:]).astype(np.float32)).astype(dt),  # trailing
        mx.array(RNG.standard_normal((*lead, 1)).astype(np.float32)).astype(dt)
        if lead else mx.array(1.25, dtype=dt),  # general broadcast (or a scalar)
    ]  # fmt: skip
    mx.eval(inputs)

    def fn(a, b, c):
        vals = [a, b, c]
        for is_unary, i, j in program:
            x = vals[i % len(vals)]
            if is_unary:
                vals.append(UNARY[j % len(UNARY)](x))
            else:
                vals.append(BINARY[j % len(BINARY)](x, vals[j % len(vals)]))
        return vals[-1] * 0.5 + vals[0]

    got, want = fused_and_plain(fn, *inputs)
    assert_same(got, want, dt, ref=fn(*(i.astype(mx.float32) for i in inputs)))


def test_node_counts_fall_and_values_hold():
    x = mx.random.normal((64, 256))
    b = mx.random.normal((256,))
    mx.eval(x, b)

    def f(x, b):
        return nn.gelu(x * 2 + b) * mx.sigmoid(x) - 1

    plain = f(x, b)
    fused = mx.compile(f)(x, b)
    assert nodes(plain) >= 8 and nodes(fused) == 1
    assert_same(fused, plain)
    # Strided (transposed) inputs are read through a dense copy.
    xt = mx.random.normal((256, 64)).T
    mx.eval(xt)
    got, want = fused_and_plain(f, xt, b)
    assert_same(got, want)


def test_what_something_else_holds_becomes_a_second_output():
    x = mx.random.normal((100,))
    mx.eval(x)
    kept = {}

    def f(x):
        h = mx.exp(x) + 1
        kept["h"] = h  # the caller keeps an intermediate: the fused node writes it too
        return mx.tanh(h) * 3

    y = mx.compile(f)(x)
    h = kept["h"]
    assert nodes(y) == 1 and nodes(h) == 1
    np.testing.assert_allclose(np.array(h), np.exp(np.array(x)) + 1, rtol=1e-6)
    np.testing.assert_allclose(np.array(y), np.tanh(np.exp(np.array(x)) + 1) * 3, rtol=1e-6)

    def two_outputs(x):
        a = mx.sin(x) * 2
        return a, a + 1  # an output inside another output's chain: one pass writes both

    a, b = mx.compile(two_outputs)(x)
    assert nodes(a, b) == 1
    np.testing.assert_allclose(np.array(a), np.sin(np.array(x)) * 2, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.array(b), np.array(a) + np.float32(1))


def test_what_feeds_the_chain_back_stays_apart():
    x = mx.random.normal((100,))
    mx.eval(x)

    def f(x):
        h = mx.exp(x) + 1
        # h's sum feeds the chain that reads h: h cannot be a second output of that chain
        # (the fused node would wait on itself), so it stays a node of its own.
        return mx.tanh(h) * 3 + mx.sum(h)

    y = mx.compile(f)(x)
    assert nodes(y) == 3  # exp+add, sum, tanh*3+
    xn = np.exp(np.array(x)) + 1
    np.testing.assert_allclose(np.array(y), np.tanh(xn) * 3 + xn.sum(), rtol=1e-5)

    def late_reader(x):
        h = mx.exp(x) + 1
        y = mx.tanh(h) * 3
        return mx.sum(y) + mx.max(h)  # max reads h after y's chain: h is its second output

    z = mx.compile(late_reader)(x)
    assert nodes(z) == 4  # exp+add+tanh*3 (two outputs), sum, max, +
    np.testing.assert_allclose(z.item(), float((np.tanh(xn) * 3).sum() + xn.max()), rtol=1e-4)


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_optimizer_update_is_one_node_per_parameter(dtype):
    mx.random.seed(5)
    shapes = {"w": (33, 70), "b": (70,)}
    params = {k: mx.random.normal(shape).astype(dtype) for k, shape in shapes.items()}
    grads = {k: mx.random.normal(v.shape).astype(dtype) for k, v in params.items()}
    mx.eval(params, grads)

    def run(compiled):
        opt = optim.AdamW(1e-2, weight_decay=0.1)
        ps = dict(params)
        opt.init(ps)
        mx.eval(opt.state)

        def step(g, p):
            return opt.apply_gradients(g, p)

        f = mx.compile(step, inputs=opt.state, outputs=opt.state) if compiled else step
        out = []
        for _ in range(3):
            new = f(grads, ps)
            if compiled:
                # p, m and v of a parameter come from one pass over its elements; what else
                # the graph holds is the scalars of the learning rate, shared by parameters.
                w, m, v = new["w"], opt.state["w"]["m"], opt.state["w"]["v"]
                assert nodes(w, m, v) == nodes(w) == nodes(new["w"], new["b"]) - 1
                assert set(mx._core._graph_ops([w, m, v])) <= {"Fused", "AsType"}
            mx.eval(new, opt.state)
            ps.update(new)
            out.append({k: np.array(v.astype(mx.float32)) for k, v in new.items()})
        moments = {k: np.array(opt.state["w"][k].astype(mx.float32)) for k in ("m", "v")}
        return out, moments

    (got, got_state), (want, want_state) = run(True), run(False)
    tol = 1e-5 if dtype == mx.float32 else 2e-2
    for g, w in zip(got, want, strict=True):
        for k in g:
            np.testing.assert_allclose(g[k], w[k], rtol=tol, atol=tol)
    for k in want_state:
        np.testing.assert_allclose(got_state[k], want_state[k], rtol=tol, atol=tol)


def test_compile_with_transforms():
    x = mx.random.normal((32, 8))
    mx.eval(x)

    def f(x):
        return mx.sum(nn.silu(x) * mx.tanh(x))

    # grad of a compiled function: traced, so left unfused, and right.
    g1 = mx.grad(mx.compile(f))(x)
    g2 = mx.grad(f)(x)
    assert_same(g1, g2)
    # A compiled gradient step: the backward graph's chains fuse.
    step = mx.compile(mx.grad(f))
    g3 = step(x)
    assert_same(g3, g2)
    assert nodes(g3) < nodes(mx.grad(f)(x))
    v = mx.vmap(mx.compile(lambda r: mx.exp(r) * 2 + 1))(x)
    np.testing.assert_allclose(np.array(v), np.exp(np.array(x)) * 2 + 1, rtol=1e-5)


def test_compiled_training_step_updates_state_and_fuses():
    mx.random.seed(3)
    model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 1))
    opt = optim.AdamW(1e-2)
    x, y = mx.random.normal((64, 16)), mx.random.normal((64, 1))
    state = [model.state, opt.state]

    def loss_fn(x, y):
        return nn.losses.mse_loss(model(x), y)

    vg = nn.value_and_grad(model, loss_fn)

    def step(x, y):
        loss, grads = vg(x, y)
        opt.update(model, grads)
        return loss

    compiled = mx.compile(step, inputs=state, outputs=state)
    losses = []
    for _ in range(30):
        loss = compiled(x, y)
        mx.eval(loss, model.parameters(), opt.state)
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_compile_from_threads():
    f = mx.compile(lambda a: mx.tanh(a * 3) + mx.exp(-a))
    xs = [mx.random.normal((500,)) for _ in range(8)]
    mx.eval(xs)
    out = [None] * 8

    def work(i):
        for _ in range(20):
            out[i] = f(xs[i])
            mx.eval(out[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        xn = np.array(xs[i])
        np.testing.assert_allclose(np.array(out[i]), np.tanh(xn * 3) + np.exp(-xn), rtol=1e-5)


def test_disable_compile_skips_fusion():
    x = mx.random.normal((10,))
    mx.eval(x)
    f = mx.compile(lambda x: mx.exp(x) * 2 + 1)
    mx.disable_compile()
    try:
        assert nodes(f(x)) == 3
    finally:
        mx.enable_compile()
    assert nodes(f(x)) == 1


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_transformer_block_nodes_before_and_after(dtype):
    mx.random.seed(0)
    layer = nn.TransformerEncoderLayer(64, 4, mlp_dims=256, activation=nn.gelu)
    layer.set_dtype(getattr(mx, dtype))
    x = mx.random.normal((2, 16, 64)).astype(getattr(mx, dtype))
    mx.eval(layer.parameters(), x)

    def loss(x):
        return mx.sum(layer(x, None).astype(mx.float32) ** 2)

    vg = nn.value_and_grad(layer, loss)
    plain = vg(x)
    fused = mx.compile(vg)(x)
    before = nodes(plain[0], *[g for _, g in mx.utils.tree_flatten(plain[1])])
    after = nodes(fused[0], *[g for _, g in mx.utils.tree_flatten(fused[1])])
    assert after < before
    assert_same(fused[0], plain[0], mx.float32 if dtype == "float32" else mx.bfloat16)


GPU = mx.is_available(mx.gpu)
FUSE_SCRIPT = """
import fastsync as mx, numpy as np
mx.set_default_device(mx.gpu)
rng = np.random.default_rng(1)
out = {}
for dt in ("float32", "float16", "bfloat16", "float64"):
    x = mx.array(rng.standard_normal((37, 129)).astype(np.float32)).astype(getattr(mx, dt))
    b = mx.array(rng.standard_normal((129,)).astype(np.float32)).astype(getattr(mx, dt))
    f = mx.compile(lambda x, b: mx.tanh(mx.exp(-mx.abs(x)) * b + 1.5) - mx.sigmoid(x) * x)
    out[dt] = np.array(f(x, b).astype(mx.float32))
print(mx.device_info(mx.gpu)["fused_kernels"])
np.savez(__import__("sys").argv[1], **out)
"""


@pytest.mark.skipif(not GPU, reason="no CUDA device")
def test_gpu_generated_and_interpreted_kernels_agree(tmp_path):
    import subprocess
    import sys

    results = {}
    for mode in ("auto", "interpreted"):
        path = tmp_path / f"{mode}.npz"
        env = {**__import__("os").environ, "FASTSYNC_FUSED_KERNELS": mode}
        r = subprocess.run([sys.executable, "-c", FUSE_SCRIPT, str(path)], env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
        assert r.returncode == 0, r.stderr
        results[mode] = (r.stdout.strip(), np.load(path))
    assert results["interpreted"][0].startswith("interpreted")
    # Where NVRTC loads (the toolkit, or pip's nvidia-cuda-nvrtc), auto generates kernels.
    if not results["auto"][0].startswith("nvrtc"):
        pytest.skip(f"NVRTC not found here: {results['auto'][0]}")
    # Same functors; the generated code may contract a product and a sum into one
    # rounding where the interpreter rounds twice.
    tols = {"float32": 1e-6, "float16": 1e-3, "bfloat16": 8e-3, "float64": 1e-14}
    for dt, tol in tols.items():
        np.testing.assert_allclose(results["auto"][1][dt], results["interpreted"][1][dt],
                                   rtol=tol, atol=tol)  # fmt: skip


@pytest.mark.skipif(not GPU, reason="no CUDA device")
def test_gpu_fused_kernels_setting_is_checked():
    import subprocess
    import sys

    env = {**__import__("os").environ, "FASTSYNC_FUSED_KERNELS": "fastest"}
    r = subprocess.run([sys.executable, "-c", FUSE_SCRIPT, "/dev/null"], env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode != 0 and "FASTSYNC_FUSED_KERNELS" in r.stderr
