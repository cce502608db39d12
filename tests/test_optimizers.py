"""fastsync.optimizers: each optimizer over three steps against a NumPy transcription of
its update rule, schedules against their formulas, state handling, and a model trained."""

import math

import fastsync as mx
import fastsync.nn as nn
import fastsync.optimizers as optim
import numpy as np
import pytest
from fastsync.utils import tree_flatten, tree_map

RNG = np.random.default_rng(3)
SHAPES = {"w": (4, 3), "b": (3,), "layers": [{"k": (2, 5)}]}


def numpy_tree():
    return {
        "w": RNG.standard_normal((4, 3)),
        "b": RNG.standard_normal(3),
        "layers": [{"k": RNG.standard_normal((2, 5))}],
    }


def flat(tree):
    return [np.asarray(v, dtype=np.float64) for _, v in tree_flatten(tree)]


def to_mx(tree):
    return tree_map(lambda a: mx.array(a.astype(np.float32)), tree)


def run(opt, reference, steps=3):
    """Runs ``opt`` and ``reference(step, g, p, state) -> p`` side by side."""
    params = numpy_tree()
    grads = [numpy_tree() for _ in range(steps)]
    p_mx = to_mx(params)
    p_np = flat(params)
    states = [{} for _ in p_np]
    for t in range(steps):
        p_mx = opt.apply_gradients(to_mx(grads[t]), p_mx)
        mx.eval(p_mx)
        p_np = [
            reference(t + 1, g, p, s) for g, p, s in zip(flat(grads[t]), p_np, states, strict=True)
        ]
    for got, want in zip(flat(p_mx), p_np, strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    assert int(opt.step.item()) == steps


def ref_sgd(lr, momentum=0.0, wd=0.0, damp=0.0, nesterov=False):
    def f(t, g, p, s):
        g = g + wd * p
        if momentum <= 0:
            return p - lr * g
        v = momentum * s.get("v", 0) + ((1 - damp) * g)
        s["v"] = v
        return p - lr * (g + momentum * v if nesterov else v)

    return f


@pytest.mark.parametrize(
    "kw",
    [{}, {"momentum": 0.9}, {"momentum": 0.9, "weight_decay": 0.1, "dampening": 0.2},
     {"momentum": 0.8, "nesterov": True}],
)  # fmt: skip
def test_sgd(kw):
    ref = ref_sgd(0.1, kw.get("momentum", 0), kw.get("weight_decay", 0),
                  kw.get("dampening", 0), kw.get("nesterov", False))  # fmt: skip
    run(optim.SGD(0.1, **kw), ref)


def test_rmsprop_adagrad_adadelta():
    def rms(t, g, p, s):
        s["v"] = 0.9 * s.get("v", 0) + 0.1 * g**2
        return p - 0.01 * g / (np.sqrt(s["v"]) + 1e-8)

    run(optim.RMSprop(0.01, alpha=0.9), rms)

    def ada(t, g, p, s):
        s["v"] = s.get("v", 0) + g**2
        return p - 0.1 * g / (np.sqrt(s["v"]) + 1e-8)

    run(optim.Adagrad(0.1), ada)

    def delta(t, g, p, s):
        v = 0.9 * s.get("v", 0) + 0.1 * g**2
        d = np.sqrt(s.get("u", 0) + 1e-6) / np.sqrt(v + 1e-6) * g
        s["v"], s["u"] = v, 0.9 * s.get("u", 0) + 0.1 * d**2
        return p - 1.0 * d

    run(optim.AdaDelta(1.0), delta)


def ref_adam(lr, b1, b2, eps, bias=False, wd=0.0):
    def f(t, g, p, s):
        p = p * (1 - lr * wd)
        m = b1 * s.get("m", 0) + (1 - b1) * g
        v = b2 * s.get("v", 0) + (1 - b2) * g**2
        s["m"], s["v"] = m, v
        if bias:
            return p - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        return p - lr * m / (np.sqrt(v) + eps)

    return f


@pytest.mark.parametrize("bias", [False, True])
def test_adam_adamw_adamax(bias):
    run(optim.Adam(0.01, bias_correction=bias), ref_adam(0.01, 0.9, 0.999, 1e-8, bias))
    run(optim.AdamW(0.01, betas=[0.8, 0.99], weight_decay=0.1, bias_correction=bias),
        ref_adam(0.01, 0.8, 0.99, 1e-8, bias, 0.1))  # fmt: skip

    def amax(t, g, p, s):
        m = 0.9 * s.get("m", 0) + 0.1 * g
        v = np.maximum(0.999 * s.get("v", 0), np.abs(g))
        s["m"], s["v"] = m, v
        return p - 0.01 * m / (v + 1e-8)

    run(optim.Adamax(0.01), amax)


def test_adamw_reads_weight_decay_changed_between_steps():
    # A constant learning rate keeps its array from step to step; the decay factor made
    # from it must still follow weight_decay.
    opt = optim.AdamW(learning_rate=0.1, weight_decay=0.5)
    p = {"w": mx.ones((1,))}
    zero = {"w": mx.zeros((1,))}
    p = opt.apply_gradients(zero, p)
    assert p["w"].item() == pytest.approx(0.95)
    opt.weight_decay = 0.0
    p = opt.apply_gradients(zero, p)
    assert p["w"].item() == pytest.approx(0.95)
    opt.weight_decay = 1.0
    p = opt.apply_gradients(zero, p)
    assert p["w"].item() == pytest.approx(0.95 * 0.9)


def test_lion():
    def lion(t, g, p, s):
        m = s.get("m", 0)
        c = 0.9 * m + 0.1 * g
        s["m"] = 0.99 * m + 0.01 * g
        p = (1 - 0.01 * 0.1) * p
        return p - 0.01 * np.sign(c)

    run(optim.Lion(0.01, weight_decay=0.1), lion)


@pytest.mark.parametrize("beta_1", [None, 0.9])
def test_adafactor(beta_1):
    def rms(x):
        return np.sqrt(np.mean(x**2))

    def ref(t, g, p, s):
        lr = max(1e-3, rms(p)) * min(1e-2, 1 / math.sqrt(t))
        beta_2 = 1 - t**-0.8
        u = g**2 + 1e-30
        if g.ndim >= 2:
            row = beta_2 * s.get("row", 0) + (1 - beta_2) * u.mean(-1)
            col = beta_2 * s.get("col", 0) + (1 - beta_2) * u.mean(-2)
            s["row"], s["col"] = row, col
            r = 1 / np.sqrt(row / row.mean(-1, keepdims=True))
            upd = r[..., :, None] * (1 / np.sqrt(col))[..., None, :] * g
        else:
            v = beta_2 * s.get("v", 0) + (1 - beta_2) * u
            s["v"] = v
            upd = g / np.sqrt(v)
        upd = upd / max(1.0, rms(upd) / 1.0) * lr
        if beta_1 is not None:
            upd = beta_1 * s.get("avg", 0) + (1 - beta_1) * upd
            s["avg"] = upd
        return p - upd

    run(optim.Adafactor(beta_1=beta_1), ref)
    with pytest.raises(ValueError, match="learning_rate"):
        optim.Adafactor(relative_step=False)


def test_schedules():
    steps = mx.array([0, 1, 5, 10, 20], mx.uint64)
    s = np.array([0, 1, 5, 10, 20], dtype=np.float64)

    def check(fn, want):
        np.testing.assert_allclose(np.array(fn(steps)), want, rtol=1e-5)

    check(optim.exponential_decay(0.1, 0.9), 0.1 * 0.9**s)
    check(optim.step_decay(0.1, 0.5, 4), 0.1 * 0.5 ** (s // 4))
    check(optim.cosine_decay(0.1, 10, 0.01),
          0.01 + 0.5 * (1 + np.cos(np.pi * np.minimum(s, 10) / 10)) * 0.09)  # fmt: skip
    check(optim.linear_schedule(0.0, 1.0, 10), np.minimum(s, 10) / 10)
    joined = optim.join_schedules(
        [optim.linear_schedule(0.0, 1.0, 5), optim.exponential_decay(1.0, 0.5)], [5]
    )
    check(joined, np.where(s < 5, s / 5, 0.5 ** np.maximum(s - 5, 0)))
    with pytest.raises(ValueError, match="boundaries"):
        optim.join_schedules([optim.linear_schedule(0, 1, 2)], [3])
    with pytest.raises(ValueError, match="at least 1"):
        optim.cosine_decay(0.1, 0)


def test_scheduled_learning_rate_and_setter():
    opt = optim.SGD(learning_rate=optim.exponential_decay(1.0, 0.5))
    p = {"x": mx.zeros((2,))}
    g = {"x": mx.ones((2,))}
    lrs = []
    for _ in range(3):
        p = opt.apply_gradients(g, p)
        lrs.append(opt.learning_rate.item())
    assert lrs == [1.0, 0.5, 0.25]
    np.testing.assert_allclose(np.array(p["x"]), [-1.75, -1.75])
    opt2 = optim.Adam(0.1)
    opt2.learning_rate = 0.5
    assert opt2.learning_rate.item() == 0.5


def test_state_tree_and_restore():
    opt = optim.Adam(0.01)
    params = to_mx(numpy_tree())
    grads = to_mx(numpy_tree())
    params = opt.apply_gradients(grads, params)
    keys = sorted(k for k, _ in tree_flatten(opt.state))
    assert keys == sorted(["step", "learning_rate", "w.m", "w.v", "b.m", "b.v",
                           "layers.0.k.m", "layers.0.k.v"])  # fmt: skip
    # A second optimizer given the first's state continues identically.
    twin = optim.Adam(0.01)
    twin.state = tree_map(lambda x: x, opt.state)
    a = opt.apply_gradients(grads, params)
    b = twin.apply_gradients(grads, params)
    for x, y in zip(flat(a), flat(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_multi_optimizer_and_clip_grad_norm():
    sgd, adam = optim.SGD(0.1), optim.Adam(0.01)
    multi = optim.MultiOptimizer([sgd, adam], [lambda path, g: path.startswith("w")])
    params, grads = to_mx(numpy_tree()), to_mx(numpy_tree())
    out = multi.apply_gradients(grads, params)
    np.testing.assert_allclose(
        np.array(out["w"]), np.array(params["w"]) - 0.1 * np.array(grads["w"]), rtol=1e-6
    )
    assert "w" not in adam.state and "b" in adam.state
    with pytest.raises(ValueError, match="filters"):
        optim.MultiOptimizer([sgd, adam])

    big = {"a": mx.full((4,), 3.0), "b": [mx.full((2,), 4.0)]}
    norm = math.sqrt(4 * 9 + 2 * 16)
    clipped, total = optim.clip_grad_norm(big, 1.0)
    assert abs(total.item() - norm) < 1e-4
    got = np.concatenate([np.array(v) for _, v in tree_flatten(clipped)])
    assert abs(np.linalg.norm(got) - 1.0) < 1e-4
    same, _ = optim.clip_grad_norm(big, 100.0)
    np.testing.assert_array_equal(np.array(same["a"]), np.array(big["a"]))


@pytest.mark.parametrize(
    "make",
    [lambda: optim.SGD(0.05, momentum=0.9), lambda: optim.Adam(0.02), lambda: optim.AdamW(0.02),
     lambda: optim.Lion(0.01), lambda: optim.RMSprop(0.01), lambda: optim.Adafactor()],
    ids=["sgd", "adam", "adamw", "lion", "rmsprop", "adafactor"],
)  # fmt: skip
def test_a_model_trains(make):
    mx.random.seed(1)
    x = mx.random.normal((128, 6))
    y = mx.sin(x @ mx.random.normal((6, 1)))
    model = nn.Sequential(nn.Linear(6, 32), nn.SiLU(), nn.Linear(32, 1))
    opt = make()
    step = nn.value_and_grad(model, lambda x, y: nn.losses.mse_loss(model(x), y))
    first = None
    for _ in range(200):
        loss, grads = step(x, y)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state)
        first = first if first is not None else loss.item()
    assert loss.item() < 0.6 * first
