"""Learning-rate schedules: functions of the optimizer's step (an array) to a rate."""

from __future__ import annotations

import math
from collections.abc import Callable

from .. import _core as mx

__all__ = ["exponential_decay", "step_decay", "cosine_decay", "linear_schedule", "join_schedules"]


def exponential_decay(init: float, decay_rate: float) -> Callable:
    """``init * decay_rate ** step``."""

    def schedule(step):
        return init * (decay_rate**step)

    return schedule


def step_decay(init: float, decay_rate: float, step_size: int) -> Callable:
    """``init * decay_rate ** (step // step_size)``."""
    if step_size < 1:
        raise ValueError(f"[step_decay] step_size must be at least 1, got {step_size}")

    def schedule(step):
        return init * (decay_rate ** (step // step_size))

    return schedule


def cosine_decay(init: float, decay_steps: int, end: float = 0.0) -> Callable:
    """Half a cosine from ``init`` down to ``end`` over ``decay_steps``, then ``end``."""
    if decay_steps < 1:
        raise ValueError(f"[cosine_decay] decay_steps must be at least 1, got {decay_steps}")

    def schedule(step):
        s = mx.minimum(step, decay_steps)
        decay = 0.5 * (1.0 + mx.cos((math.pi / decay_steps) * s))
        return end + decay * (init - end)

    return schedule


def linear_schedule(init: float, end: float, steps: int) -> Callable:
    """A line from ``init`` to ``end`` over ``steps``, then ``end``."""
    if steps < 1:
        raise ValueError(f"[linear_schedule] steps must be at least 1, got {steps}")

    def schedule(step):
        s = mx.minimum(step, steps)
        return s * ((end - init) / steps) + init

    return schedule


def join_schedules(schedules: list[Callable], boundaries: list[int]) -> Callable:
    """``schedules[i]`` from ``boundaries[i-1]`` on, each counting its steps from its boundary."""
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(
            f"[join_schedules] {len(schedules)} schedules need {len(schedules) - 1} boundaries, "
            f"got {len(boundaries)}"
        )
    if not schedules:
        raise ValueError("[join_schedules] needs at least one schedule")

    def schedule(step):
        out = schedules[0](step)
        for boundary, later in zip(boundaries, schedules[1:], strict=True):
            # Clamped so that steps before the boundary do not wrap (the step is unsigned).
            local = mx.maximum(step, boundary) - boundary
            out = mx.where(step < boundary, out, later(local))
        return out

    return schedule
