"""compile's trace-and-replay (src/replay.h, python/fastsync/_compile.py): traced once per
input signature, replayed without Python afterwards, with MLX's semantics for shapes,
constants, implicit state, transforms and errors. On the GPU through .ci/gpu."""

import threading

import fastsync as mx
import fastsync.nn as nn
import fastsync.optimizers as optim
import numpy as np
import pytest

RNG = np.random.default_rng(11)


def arr(*shape, dtype=np.float32):
    return mx.array(RNG.standard_normal(shape).astype(dtype))


class Counted:
    """A function that counts how often its Python body runs."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def test_replays_new_values_without_running_python():
    f = Counted(lambda x, y: (mx.exp(x) * 2 + y, mx.sum(x * y, axis=1)))
    cf = mx.compile(f)
    for _ in range(5):
        x, y = arr(4, 7), arr(4, 7)
        got = cf(x, y)
        want = f.fn(x, y)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-5, atol=1e-6)
    assert f.calls == 1


def test_new_shapes_dtypes_and_constants_trace_again():
    f = Counted(lambda x, k: x * k + 1)
    cf = mx.compile(f)
    cf(arr(3), 2)
    cf(arr(3), 2)
    assert f.calls == 1
    cf(arr(4), 2)  # new shape
    cf(arr(3).astype(mx.float16), 2)  # new dtype
    out = cf(arr(3), 5.0)  # new constant
    assert f.calls == 4
    x = arr(3)
    np.testing.assert_allclose(np.array(cf(x, 5.0)), np.array(x) * 5 + 1, rtol=1e-6)
    assert f.calls == 4
    assert out.shape == (3,)


def test_shapeless_replays_across_shapes_and_refuses_fixed_shapes():
    f = Counted(lambda x, y: mx.tanh(x) * y + mx.exp(-x))
    cf = mx.compile(f, shapeless=True)
    for shape in [(3,), (5,), (17,)]:
        x, y = arr(*shape), arr(*shape)
        want = np.tanh(np.array(x)) * np.array(y) + np.exp(-np.array(x))
        np.testing.assert_allclose(np.array(cf(x, y)), want, rtol=1e-5)
    cf(arr(2, 3), arr(2, 3))  # a new rank traces again
    assert f.calls == 2
    # Broadcasting and reductions follow their inputs.
    g = mx.compile(lambda x, b: mx.sum(mx.maximum(x + b, 0), axis=-1), shapeless=True)
    for rows in [2, 9]:
        x, b = arr(rows, 6), arr(6)
        want = np.maximum(np.array(x) + np.array(b), 0).sum(-1)
        np.testing.assert_allclose(np.array(g(x, b)), want, rtol=1e-5)
    # A reshape's target was fixed when traced: replaying it on a new shape raises.
    h = mx.compile(lambda x: x.reshape(-1, 2) * 2, shapeless=True)
    h(arr(2, 4))
    with pytest.raises(ValueError, match="shapeless"):
        h(arr(3, 4))
    assert h(arr(2, 4)).shape == (4, 2)


def test_shapeless_grads_and_fills_follow_new_shapes():
    # A fill or a spread cotangent whose shape came from an input's shape follows that
    # input when replayed on a new shape (it kept the traced shape, silently, before).
    z = mx.compile(lambda x: mx.zeros_like(x) + mx.ones_like(x) * 2, shapeless=True)
    for shape in [(3,), (1,), (4,)]:
        np.testing.assert_array_equal(np.array(z(arr(*shape))), np.full(shape, 2.0))
    g = mx.compile(mx.grad(lambda x: mx.sum(x * x)), shapeless=True)
    for n in [3, 1, 5]:
        x = arr(n)
        np.testing.assert_allclose(np.array(g(x)), 2 * np.array(x), rtol=1e-6)
    gy = mx.compile(mx.grad(lambda x, y: mx.sum(x * y), argnums=1), shapeless=True)
    for rows, cols in [(3, 4), (2, 4), (5, 4)]:
        x, y = arr(rows, cols), arr(cols)
        np.testing.assert_allclose(np.array(gy(x, y)), np.array(x).sum(0), rtol=1e-5)
    # A reduction over some axes puts its cotangent back through expand_dims, whose
    # shape follows its input's; so do max's (shared among ties) and prod's.
    ga = mx.compile(mx.grad(lambda x: (mx.sum(x, axis=-1) ** 2).sum()), shapeless=True)
    for rows in [2, 4, 1]:
        x = arr(rows, 3)
        want = np.repeat(2 * np.array(x).sum(-1, keepdims=True), 3, -1)
        np.testing.assert_allclose(np.array(ga(x)), want, rtol=1e-5)
    gm = mx.compile(mx.grad(lambda x: mx.max(x, axis=0).sum()), shapeless=True)
    for rows in [2, 3]:
        a = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
        want = np.zeros_like(a)
        want[-1] = 1
        np.testing.assert_array_equal(np.array(gm(mx.array(a))), want)
    # expand_dims and squeeze themselves follow new shapes; a squeezed axis that is no
    # longer of size 1 raises.
    e = mx.compile(lambda x: mx.squeeze(mx.expand_dims(x, (0, 2)) * 2, 0), shapeless=True)
    for n in [2, 5]:
        np.testing.assert_array_equal(np.array(e(mx.ones((n, 3)))), np.full((n, 1, 3), 2.0))
    sq = mx.compile(lambda x: mx.squeeze(x, 1), shapeless=True)
    assert sq(mx.ones((3, 1))).shape == (3,)
    with pytest.raises(ValueError, match="squeeze"):
        sq(mx.ones((3, 2)))
    # Under vmap too: the fill and the spread follow the batched input.
    vz = mx.compile(mx.vmap(mx.grad(lambda x: mx.sum(mx.ones_like(x) * x * x))), shapeless=True)
    for b in [2, 3]:
        x = arr(b, 4)
        np.testing.assert_allclose(np.array(vz(x)), 2 * np.array(x), rtol=1e-6)


def test_aliasing_is_part_of_the_signature():
    cf = mx.compile(lambda a, b: a * 2 + b)
    x, y = arr(5), arr(5)
    np.testing.assert_allclose(np.array(cf(x, x)), np.array(x) * 3, rtol=1e-6)
    np.testing.assert_allclose(np.array(cf(x, y)), np.array(x) * 2 + np.array(y), rtol=1e-6)
    np.testing.assert_allclose(np.array(cf(y, y)), np.array(y) * 3, rtol=1e-6)


def test_result_structure_and_constants_come_back():
    def f(d):
        return {"s": d["a"] + d["b"], "n": 3, "t": (d["a"], None)}

    cf = mx.compile(f)
    for _ in range(2):
        a, b = arr(2), arr(2)
        out = cf({"a": a, "b": b})
        assert out["n"] == 3 and out["t"][1] is None
        np.testing.assert_allclose(np.array(out["s"]), np.array(a) + np.array(b), rtol=1e-6)
        np.testing.assert_array_equal(np.array(out["t"][0]), np.array(a))


def test_captured_arrays_are_constants_and_closure_state_needs_inputs():
    w = arr(3)
    cf = mx.compile(lambda x: x * w)
    x = arr(3)
    np.testing.assert_allclose(np.array(cf(x)), np.array(x) * np.array(w), rtol=1e-6)
    # As in MLX: an array read from a closure is fixed at the trace...
    w2 = w
    w = arr(3)
    np.testing.assert_allclose(np.array(cf(x)), np.array(x) * np.array(w2), rtol=1e-6)
    # ...and state named in inputs= is read fresh each call.
    state = [arr(3)]
    sf = mx.compile(lambda x: x * state[0], inputs=state)
    sf(x)
    state[0] = arr(3)
    np.testing.assert_allclose(np.array(sf(x)), np.array(x) * np.array(state[0]), rtol=1e-6)


def test_outputs_state_is_written_back_each_call():
    state = [mx.array(0.0), {"m": mx.zeros((2,))}]

    def tick(x):
        state[0] = state[0] + 1
        state[1]["m"] = state[1]["m"] * 0.5 + x
        return state[0] * 10

    f = Counted(tick)
    cf = mx.compile(f, inputs=state, outputs=state)
    m = np.zeros(2, np.float32)
    for i in range(1, 6):
        x = arr(2)
        m = m * 0.5 + np.array(x)
        assert cf(x).item() == i * 10
        assert state[0].item() == i
        np.testing.assert_allclose(np.array(state[1]["m"]), m, rtol=1e-5)
    assert f.calls == 1
    with pytest.raises(TypeError, match="in place"):
        mx.compile(lambda: mx.array(1.0), outputs=mx.array(1.0))()


def test_compiled_training_matches_uncompiled_step_for_step():
    def train(compiled, steps=6):
        mx.random.seed(7)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        opt = optim.Adam(1e-2)
        opt.init(model.trainable_parameters())
        x, y = mx.random.normal((32, 8)), mx.random.normal((32, 2))
        state = [model.state, opt.state]
        vg = nn.value_and_grad(model, lambda x, y: nn.losses.mse_loss(model(x), y))

        def step(x, y):
            loss, grads = vg(x, y)
            opt.update(model, grads)
            return loss

        if compiled:
            step = mx.compile(step, inputs=state, outputs=state)
        losses = []
        for _ in range(steps):
            loss = step(x, y)
            mx.eval(loss, state)
            losses.append(loss.item())
        return losses, np.array(model.layers[0].weight)

    (l1, w1), (l2, w2) = train(False), train(True)
    np.testing.assert_allclose(l1, l2, rtol=1e-4)
    np.testing.assert_allclose(w1, w2, rtol=1e-4, atol=1e-6)
    assert l2[-1] < l2[0]


def test_random_draws_are_fresh_on_every_replay():
    f = Counted(lambda x: x + mx.random.normal(x.shape))
    cf = mx.compile(f)
    z = mx.zeros((64,))
    a, b = np.array(cf(z)), np.array(cf(z))
    assert f.calls == 1
    assert not np.allclose(a, b)
    assert 0.5 < a.std() < 1.5 and 0.5 < b.std() < 1.5
    # Dropout inside a compiled training step gets a new mask each call, and the MLX
    # idiom of naming the random state is accepted.
    drop = nn.Dropout(0.5)
    state = [mx.random.state]
    cd = mx.compile(lambda x: drop(x), inputs=state, outputs=state)
    ones = mx.ones((256,))
    m1, m2 = np.array(cd(ones)), np.array(cd(ones))
    assert set(np.unique(m1)) <= {0.0, 2.0}
    assert not np.array_equal(m1, m2)
    # With an explicit key the draw is a function of the key.
    kf = mx.compile(lambda k: mx.random.uniform(shape=(4,), key=k))
    k = mx.random.key(1)
    np.testing.assert_array_equal(np.array(kf(k)), np.array(kf(k)))


def test_reading_values_while_tracing_raises_and_leaves_things_usable():
    def bad_item(x):
        return x * 2 if (x.sum() > 0).item() else x

    def bad_eval(x):
        y = x * 2
        mx.eval(y)
        return y

    x = arr(3)
    for fn in (bad_item, bad_eval):
        with pytest.raises(ValueError, match="compile"):
            mx.compile(fn)(x)
    # The process and the arrays stay usable; uncompiled the same functions run.
    assert np.array(bad_eval(x)).shape == (3,)
    assert mx.compile(lambda x: x + 1)(x).shape == (3,)
    with pytest.raises(TypeError, match="arguments"):
        mx.compile(lambda m: m)(object())


def test_transforms_compose_both_ways():
    def f(x):
        return mx.sum(nn.gelu(x) * mx.sin(x))

    x = arr(6, 5)
    want = np.array(mx.grad(f)(x))
    cg = mx.compile(mx.grad(f))
    for _ in range(2):
        np.testing.assert_allclose(np.array(cg(x)), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(mx.grad(mx.compile(f))(x)), want, rtol=1e-5, atol=1e-6)
    y = mx.vmap(mx.compile(lambda r: mx.exp(r) * 2))(x)
    np.testing.assert_allclose(np.array(y), np.exp(np.array(x)) * 2, rtol=1e-5)


def test_nested_compiled_functions():
    inner = mx.compile(lambda x: mx.tanh(x) + mx.random.uniform(shape=x.shape) * 0)
    outer = Counted(lambda x: inner(x) * 2 + inner(x * 3))
    co = mx.compile(outer)
    for _ in range(3):
        x = arr(4)
        xn = np.array(x)
        np.testing.assert_allclose(np.array(co(x)), np.tanh(xn) * 2 + np.tanh(xn * 3), rtol=1e-5)
    assert outer.calls == 1


def test_disable_compile_runs_python_each_call():
    f = Counted(lambda x: x + 1)
    cf = mx.compile(f)
    mx.disable_compile()
    try:
        cf(arr(2))
        cf(arr(2))
    finally:
        mx.enable_compile()
    assert f.calls == 2


def test_replay_from_many_threads():
    f = Counted(lambda a, b: mx.tanh(a * 3) + mx.exp(-b) * a)
    cf = mx.compile(f)
    cf(arr(300), arr(300))
    errors = []

    def work():
        try:
            for _ in range(25):
                a, b = arr(300), arr(300)
                got = np.array(cf(a, b))
                an, bn = np.array(a), np.array(b)
                np.testing.assert_allclose(got, np.tanh(an * 3) + np.exp(-bn) * an, rtol=1e-5)
        except Exception as e:  # noqa: BLE001 (surfaced below)
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert f.calls == 1
