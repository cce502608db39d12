"""Optimizers: the ``Optimizer`` base (state as a tree shaped like the parameters) and
MLX's optimizers with their arguments and defaults."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import _core as mx
from ..utils import tree_flatten, tree_map, tree_reduce, tree_unflatten

__all__ = [
    "Optimizer", "SGD", "RMSprop", "Adagrad", "AdaDelta", "Adam", "AdamW", "Adamax", "Lion",
    "Adafactor", "MultiOptimizer", "clip_grad_norm",
]  # fmt: skip


def _is_node(x) -> bool:
    return isinstance(x, (dict, list, tuple))


def _fill_state(params, state):
    """``state`` with an empty dict for each leaf of ``params`` it lacks (existing kept)."""
    if isinstance(params, dict):
        for k, v in params.items():
            if _is_node(v):
                state[k] = _fill_state(v, state.get(k, {} if isinstance(v, dict) else []))
            else:
                state.setdefault(k, {})
        return state
    state = list(state)
    for i, v in enumerate(params):
        fresh = {} if isinstance(v, dict) or not _is_node(v) else []
        if i >= len(state):
            state.append(fresh)
        if _is_node(v):
            state[i] = _fill_state(v, state[i])
    return state


class Optimizer:
    """The base of the optimizers.

    Subclasses define ``init_single(parameter, state)`` (fill the parameter's state dict)
    and ``apply_single(gradient, parameter, state) -> new parameter``. The state is a tree
    shaped like the parameters, plus ``"step"`` and each hyper-parameter that may be
    scheduled (``"learning_rate"``). A hyper-parameter given as a callable is a schedule:
    it is called with the step before each update.
    """

    def __init__(self, schedulers: dict | None = None):
        self._initialized = False
        self._state = {"step": mx.array(0, mx.uint64)}
        self._schedulers = dict(schedulers or {})
        # Scalars derived from the learning rate, made once per rate and dtype rather than
        # once per parameter: each is a node (a kernel on the GPU) of every step's graph.
        self._derived = {}

    def update(self, model, gradients) -> None:
        """Apply ``gradients`` to ``model``'s parameters in place."""
        model.update(self.apply_gradients(gradients, model))

    def init(self, parameters) -> None:
        """Create the state of every parameter that has none (called on the first update)."""
        self._state = _fill_state(parameters, self._state)

        def one(p, s):
            if not s:
                self.init_single(p, s)

        tree_map(one, parameters, self._state)
        self._initialized = True

    def init_single(self, parameter, state: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define init_single")

    def _from_lr(self, dtype, name="lr", make=None, uses=None):
        """The learning rate in ``dtype`` (or ``make(it)``), shared by all parameters of
        that dtype while the rate is the same array and ``uses`` (the other settings
        ``make`` reads, which a user may change between steps) is equal."""
        rate = self.learning_rate
        hit = self._derived.get((name, dtype))
        if hit is None or hit[0] is not rate or hit[1] != uses:
            lr = rate.astype(dtype)
            hit = (rate, uses, make(lr) if make else lr)
            self._derived[(name, dtype)] = hit
        return hit[2]

    def apply_single(self, gradient, parameter, state: dict):
        raise NotImplementedError(f"{type(self).__name__} must define apply_single")

    def apply_gradients(self, gradients, parameters):
        """The parameters after one step (a tree shaped like ``gradients``)."""
        if not self._initialized:
            self.init(gradients)
        for name, schedule in self._schedulers.items():
            self._state[name] = mx.array(schedule(self.step))
        self._state["step"] = self.step + 1
        return tree_map(self.apply_single, gradients, parameters, self._state)

    @property
    def state(self) -> dict:
        """The optimizer's state tree (save it with ``tree_flatten`` to resume training)."""
        return self._state

    @state.setter
    def state(self, state: dict) -> None:
        self._initialized = False
        self._state = state

    @property
    def step(self):
        return self._state["step"]

    @property
    def learning_rate(self):
        return self._state["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self._state["learning_rate"] = mx.array(value)

    def _maybe_schedule(self, name: str, value) -> None:
        if callable(value):
            self._schedulers[name] = value
            value = value(self.step)
        self._state[name] = mx.array(value)


def _check_betas(name: str, betas) -> tuple[float, float]:
    b = tuple(betas)
    if len(b) != 2:
        raise ValueError(f"[{name}] betas must be two numbers, got {betas!r}")
    return b


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum (optionally Nesterov's), dampening and
    L2 weight decay."""

    def __init__(
        self,
        learning_rate: float | Callable,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
    ):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("[SGD] Nesterov momentum needs momentum > 0 and no dampening")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.dampening, self.nesterov = dampening, nesterov

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._from_lr(gradient.dtype)
        if self.weight_decay:
            gradient = gradient + self.weight_decay * parameter
        if self.momentum <= 0:
            return parameter - lr * gradient
        v = self.momentum * state["v"]
        v = v + ((1 - self.dampening) * gradient if self.dampening > 0 else gradient)
        state["v"] = v
        step = gradient + self.momentum * v if self.nesterov else v
        return parameter - lr * step


class RMSprop(Optimizer):
    def __init__(self, learning_rate: float | Callable, alpha: float = 0.99, eps: float = 1e-8):
        if alpha < 0 or eps < 0:
            raise ValueError(f"[RMSprop] alpha and eps must be non-negative, got {alpha}, {eps}")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.alpha, self.eps = alpha, eps

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._from_lr(gradient.dtype)
        v = self.alpha * state["v"] + (1 - self.alpha) * mx.square(gradient)
        state["v"] = v
        return parameter - lr * gradient / (mx.sqrt(v) + self.eps)


class Adagrad(Optimizer):
    def __init__(self, learning_rate: float | Callable, eps: float = 1e-8):
        if eps < 0:
            raise ValueError(f"[Adagrad] eps must be non-negative, got {eps}")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.eps = eps

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._from_lr(gradient.dtype)
        v = state["v"] + mx.square(gradient)
        state["v"] = v
        return parameter - lr * gradient / (mx.sqrt(v) + self.eps)


class AdaDelta(Optimizer):
    def __init__(self, learning_rate: float | Callable, rho: float = 0.9, eps: float = 1e-6):
        if rho < 0 or eps < 0:
            raise ValueError(f"[AdaDelta] rho and eps must be non-negative, got {rho}, {eps}")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.rho, self.eps = rho, eps

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)
        state["u"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._from_lr(gradient.dtype)
        rho, eps = self.rho, self.eps
        v = rho * state["v"] + (1 - rho) * mx.square(gradient)
        d = mx.sqrt(state["u"] + eps) / mx.sqrt(v + eps) * gradient
        state["v"] = v
        state["u"] = rho * state["u"] + (1 - rho) * mx.square(d)
        return parameter - lr * d


class Adam(Optimizer):
    """Adam; ``bias_correction`` divides the moments by ``1 - beta**step``."""

    def __init__(
        self,
        learning_rate: float | Callable,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        bias_correction: bool = False,
    ):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas, self.eps = _check_betas(type(self).__name__, betas), eps
        self.bias_correction = bias_correction

    def init_single(self, parameter, state):
        state["m"] = mx.zeros_like(parameter)
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._from_lr(gradient.dtype)
        b1, b2 = self.betas
        m = b1 * state["m"] + (1 - b1) * gradient
        v = b2 * state["v"] + (1 - b2) * mx.square(gradient)
        state["m"], state["v"] = m, v
        if self.bias_correction:
            step = self.step.astype(mx.float32)
            c1 = (lr / (1 - mx.power(b1, step))).astype(gradient.dtype)
            c2 = mx.rsqrt(1 - mx.power(b2, step)).astype(gradient.dtype)
            return parameter - c1 * m / (mx.sqrt(v) * c2 + self.eps)
        return parameter - lr * m / (mx.sqrt(v) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay: parameters shrink by ``lr * weight_decay`` first."""

    def __init__(
        self,
        learning_rate: float | Callable,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        bias_correction: bool = False,
    ):
        super().__init__(learning_rate, betas, eps, bias_correction)
        self.weight_decay = weight_decay

    def apply_single(self, gradient, parameter, state):
        wd = self.weight_decay
        decay = self._from_lr(gradient.dtype, "decay", lambda lr: 1 - lr * wd, uses=wd)
        return super().apply_single(gradient, parameter * decay, state)


class Adamax(Adam):
    """Adam with the infinity norm in place of the second moment."""

    def __init__(
        self, learning_rate: float | Callable, betas: Sequence[float] = (0.9, 0.999), eps=1e-8
    ):
        if eps < 0:
            raise ValueError(f"[Adamax] eps must be non-negative, got {eps}")
        super().__init__(learning_rate, betas, eps)

    def apply_single(self, gradient, parameter, state):
        lr = self._from_lr(gradient.dtype)
        b1, b2 = self.betas
        m = b1 * state["m"] + (1 - b1) * gradient
        v = mx.maximum(b2 * state["v"], mx.abs(gradient))
        state["m"], state["v"] = m, v
        return parameter - lr * m / (v + self.eps)


class Lion(Optimizer):
    """Lion: the sign of an interpolated momentum, with decoupled weight decay."""

    def __init__(
        self,
        learning_rate: float | Callable,
        betas: Sequence[float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = _check_betas("Lion", betas)
        self.weight_decay = weight_decay

    def init_single(self, parameter, state):
        state["m"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._from_lr(gradient.dtype)
        b1, b2 = self.betas
        c = b1 * state["m"] + (1 - b1) * gradient
        state["m"] = b2 * state["m"] + (1 - b2) * gradient
        if self.weight_decay > 0:
            parameter = (1 - lr * self.weight_decay) * parameter
        return parameter - lr * mx.sign(c)


class Adafactor(Optimizer):
    """Adafactor: second moments factored into row and column averages for matrices,
    relative step sizes scaled by the parameter's RMS, and update clipping."""

    def __init__(
        self,
        learning_rate: float | Callable | None = None,
        eps: tuple[float, float] = (1e-30, 1e-3),
        clip_threshold: float = 1.0,
        decay_rate: float = -0.8,
        beta_1: float | None = None,
        weight_decay: float = 0.0,
        scale_parameter: bool = True,
        relative_step: bool = True,
        warmup_init: bool = False,
    ):
        if learning_rate is None and not relative_step:
            raise ValueError("[Adafactor] give a learning_rate or use relative_step=True")
        super().__init__()
        if learning_rate is not None:
            self._maybe_schedule("learning_rate", learning_rate)
        self.eps, self.clip_threshold, self.decay_rate = tuple(eps), clip_threshold, decay_rate
        self.beta_1, self.weight_decay = beta_1, weight_decay
        self.scale_parameter, self.relative_step = scale_parameter, relative_step
        self.warmup_init = warmup_init

    def init_single(self, parameter, state):
        if parameter.ndim >= 2:
            shape = tuple(parameter.shape)
            state["exp_avg_sq_row"] = mx.zeros(shape[:-1], dtype=parameter.dtype)
            state["exp_avg_sq_col"] = mx.zeros(shape[:-2] + shape[-1:], dtype=parameter.dtype)
        else:
            state["exp_avg_sq"] = mx.zeros_like(parameter)
        if self.beta_1 is not None:
            state["exp_avg"] = mx.zeros_like(parameter)

    @staticmethod
    def _rms(x):
        return mx.sqrt(mx.mean(mx.square(x)))

    def _lr(self, step, parameter_rms):
        if self.relative_step:
            min_step = 1e-6 * step if self.warmup_init else 1e-2
            rate = mx.minimum(min_step, mx.rsqrt(step))
        else:
            rate = self.learning_rate
        if self.scale_parameter:
            return mx.maximum(self.eps[1], parameter_rms) * rate
        return rate

    def apply_single(self, gradient, parameter, state):
        step = self.step.astype(mx.float32)
        lr = self._lr(step, self._rms(parameter)).astype(gradient.dtype)
        beta_2 = 1.0 - mx.power(step, self.decay_rate).astype(gradient.dtype)
        update = mx.square(gradient) + self.eps[0]
        if gradient.ndim >= 2:
            row = beta_2 * state["exp_avg_sq_row"] + (1 - beta_2) * mx.mean(update, axis=-1)
            col = beta_2 * state["exp_avg_sq_col"] + (1 - beta_2) * mx.mean(update, axis=-2)
            state["exp_avg_sq_row"], state["exp_avg_sq_col"] = row, col
            r = mx.rsqrt(row / mx.mean(row, axis=-1, keepdims=True))
            c = mx.rsqrt(col)
            update = mx.expand_dims(r, -1) * mx.expand_dims(c, -2) * gradient
        else:
            v = beta_2 * state["exp_avg_sq"] + (1 - beta_2) * update
            state["exp_avg_sq"] = v
            update = mx.rsqrt(v) * gradient
        update = update / mx.maximum(1.0, self._rms(update) / self.clip_threshold)
        update = lr * update
        if self.beta_1 is not None:
            update = self.beta_1 * state["exp_avg"] + (1 - self.beta_1) * update
            state["exp_avg"] = update
        if self.weight_decay:
            parameter = parameter - self.weight_decay * lr * parameter
        return parameter - update


class MultiOptimizer(Optimizer):
    """Different optimizers for different parameters: a parameter goes to the first
    optimizer whose filter ``filter(path, parameter)`` accepts it, else to the last."""

    def __init__(self, optimizers: list[Optimizer], filters: list[Callable] = ()):
        if len(filters) != len(optimizers) - 1:
            raise ValueError(
                f"[MultiOptimizer] {len(optimizers)} optimizers need {len(optimizers) - 1} "
                f"filters, got {len(filters)}"
            )
        super().__init__()
        self.optimizers = list(optimizers)
        self.filters = list(filters)

    def _split(self, tree):
        parts = [[] for _ in self.optimizers]
        for path, g in tree_flatten(tree):
            for i, f in enumerate(self.filters):
                if f(path, g):
                    parts[i].append((path, g))
                    break
            else:
                parts[-1].append((path, g))
        return [tree_unflatten(p) if p else {} for p in parts]

    def init(self, parameters):
        for opt, part in zip(self.optimizers, self._split(parameters), strict=True):
            opt.init(part)
        self._initialized = True

    def apply_gradients(self, gradients, parameters):
        self._state["step"] = self.step + 1
        out = []
        for opt, part in zip(self.optimizers, self._split(gradients), strict=True):
            out.extend(tree_flatten(opt.apply_gradients(part, parameters)) if part else [])
        return tree_unflatten(out)

    @property
    def state(self):
        return {"step": self.step, "states": [o.state for o in self.optimizers]}

    @state.setter
    def state(self, state):
        self._state = {"step": state["step"]}
        for o, s in zip(self.optimizers, state["states"], strict=True):
            o.state = s

    @property
    def learning_rate(self):
        return self.optimizers[0].learning_rate


def clip_grad_norm(grads, max_norm: float):
    """``(grads scaled so their global L2 norm is at most max_norm, the norm before)``."""
    squares = tree_reduce(lambda acc, g: acc + mx.sum(mx.square(g.astype(mx.float32))), grads, 0.0)
    total = mx.sqrt(squares)
    scale = mx.minimum(max_norm / (total + 1e-6), 1.0)
    return tree_map(lambda g: (g * scale).astype(g.dtype), grads), total
