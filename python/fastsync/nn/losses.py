"""Loss functions (MLX's names, arguments and default reductions)."""

from __future__ import annotations

import math

from .. import _core as mx

__all__ = [
    "binary_cross_entropy", "cosine_similarity_loss", "cross_entropy", "gaussian_nll_loss",
    "hinge_loss", "huber_loss", "kl_div_loss", "l1_loss", "log_cosh_loss",
    "margin_ranking_loss", "mse_loss", "nll_loss", "smooth_l1_loss", "triplet_loss",
]  # fmt: skip

Reduction = str


def _reduce(loss, reduction: Reduction, name: str):
    if reduction == "mean":
        return mx.mean(loss)
    if reduction == "sum":
        return mx.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"[{name}] reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _same_shape(name: str, a, b, what=("predictions", "targets")):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"[{name}] {what[0]} shape {tuple(a.shape)} and {what[1]} shape {tuple(b.shape)} differ"
        )


def cross_entropy(
    logits,
    targets,
    weights=None,
    axis: int = -1,
    label_smoothing: float = 0.0,
    reduction: Reduction = "none",
):
    """Cross entropy of ``logits`` against class indices, or against probabilities of
    ``logits``'s shape; ``label_smoothing`` mixes in the uniform distribution."""
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"[cross_entropy] label_smoothing must be in [0, 1): {label_smoothing}")
    probs = tuple(targets.shape) == tuple(logits.shape)
    if not probs and targets.ndim != logits.ndim - 1:
        raise ValueError(
            f"[cross_entropy] targets of shape {tuple(targets.shape)} are neither class indices "
            f"nor probabilities for logits of shape {tuple(logits.shape)}"
        )
    if probs:
        score = mx.sum(logits * targets, axis=axis)
    else:
        idx = mx.expand_dims(targets, axis)
        score = mx.take_along_axis(logits, idx, axis=axis).squeeze(axis)
    lse = mx.logsumexp(logits, axis=axis)
    if label_smoothing:
        score = (1 - label_smoothing) * score + label_smoothing * mx.mean(logits, axis=axis)
    loss = lse - score
    if weights is not None:
        if tuple(weights.shape) != tuple(loss.shape):
            raise ValueError(
                f"[cross_entropy] weights shape {tuple(weights.shape)} must match the loss "
                f"shape {tuple(loss.shape)}"
            )
        loss = loss * weights
    return _reduce(loss, reduction, "cross_entropy")


def binary_cross_entropy(
    inputs, targets, weights=None, with_logits: bool = True, reduction: Reduction = "mean"
):
    """Binary cross entropy of logits (or probabilities when ``with_logits`` is False)."""
    _same_shape("binary_cross_entropy", inputs, targets, ("inputs", "targets"))
    if with_logits:
        loss = mx.logaddexp(0.0, inputs) - inputs * targets
    else:
        log_p = mx.maximum(mx.log(inputs), -100.0)
        log_not_p = mx.maximum(mx.log(1 - inputs), -100.0)
        loss = -(targets * log_p + (1 - targets) * log_not_p)
    if weights is not None:
        loss = loss * weights
    return _reduce(loss, reduction, "binary_cross_entropy")


def l1_loss(predictions, targets, reduction: Reduction = "mean"):
    _same_shape("l1_loss", predictions, targets)
    return _reduce(mx.abs(predictions - targets), reduction, "l1_loss")


def mse_loss(predictions, targets, reduction: Reduction = "mean"):
    _same_shape("mse_loss", predictions, targets)
    return _reduce(mx.square(predictions - targets), reduction, "mse_loss")


def nll_loss(inputs, targets, axis: int = -1, reduction: Reduction = "none"):
    """Negative log likelihood of class indices under log-probabilities ``inputs``."""
    picked = mx.take_along_axis(inputs, mx.expand_dims(targets, axis), axis=axis)
    return _reduce(-picked.squeeze(axis), reduction, "nll_loss")


def gaussian_nll_loss(
    inputs, targets, vars, full: bool = False, eps: float = 1e-6, reduction: Reduction = "mean"
):  # noqa: A002 (MLX's name)
    """Negative log likelihood of ``targets`` under normals of mean ``inputs``, var ``vars``."""
    _same_shape("gaussian_nll_loss", inputs, targets, ("inputs", "targets"))
    _same_shape("gaussian_nll_loss", inputs, vars, ("inputs", "vars"))
    v = mx.maximum(vars, eps)
    loss = 0.5 * (mx.log(v) + mx.square(targets - inputs) / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def kl_div_loss(inputs, targets, axis: int = -1, reduction: Reduction = "none"):
    """KL divergence from ``targets`` to ``inputs``, both given as log-probabilities."""
    loss = mx.sum(mx.exp(targets) * (targets - inputs), axis=axis)
    return _reduce(loss, reduction, "kl_div_loss")


def smooth_l1_loss(predictions, targets, beta: float = 1.0, reduction: Reduction = "mean"):
    """Quadratic below ``beta``, linear above."""
    _same_shape("smooth_l1_loss", predictions, targets)
    diff = mx.abs(predictions - targets)
    loss = mx.where(diff < beta, 0.5 * mx.square(diff) / beta, diff - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def triplet_loss(
    anchors,
    positives,
    negatives,
    axis: int = -1,
    p: int = 2,
    margin: float = 1.0,
    eps: float = 1e-6,
    reduction: Reduction = "none",
):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the p-norm distance along ``axis``."""

    def dist(x, y):
        return mx.sqrt(mx.sum(mx.power(x - y, p), axis=axis) + eps)

    loss = mx.maximum(dist(anchors, positives) - dist(anchors, negatives) + margin, 0)
    return _reduce(loss, reduction, "triplet_loss")


def hinge_loss(inputs, targets, reduction: Reduction = "none"):
    return _reduce(mx.maximum(1 - inputs * targets, 0), reduction, "hinge_loss")


def huber_loss(inputs, targets, delta: float = 1.0, reduction: Reduction = "none"):
    err = mx.abs(inputs - targets)
    quad = mx.minimum(err, delta)
    loss = 0.5 * mx.square(quad) + delta * (err - quad)
    return _reduce(loss, reduction, "huber_loss")


def log_cosh_loss(inputs, targets, reduction: Reduction = "none"):
    err = inputs - targets
    return _reduce(mx.logaddexp(err, -err) - math.log(2), reduction, "log_cosh_loss")


def cosine_similarity_loss(x1, x2, axis: int = 1, eps: float = 1e-8, reduction: Reduction = "none"):
    """Cosine similarity of ``x1`` and ``x2`` along ``axis``."""
    n1 = mx.sqrt(mx.sum(mx.square(x1), axis=axis))
    n2 = mx.sqrt(mx.sum(mx.square(x2), axis=axis))
    loss = mx.sum(x1 * x2, axis=axis) / mx.maximum(n1 * n2, eps)
    return _reduce(loss, reduction, "cosine_similarity_loss")


def margin_ranking_loss(
    inputs1, inputs2, targets, margin: float = 0.0, reduction: Reduction = "none"
):
    """``max(0, -targets * (inputs1 - inputs2) + margin)``; targets are 1 or -1."""
    _same_shape("margin_ranking_loss", inputs1, inputs2, ("inputs1", "inputs2"))
    _same_shape("margin_ranking_loss", inputs1, targets, ("inputs1", "targets"))
    loss = mx.maximum(-targets * (inputs1 - inputs2) + margin, 0)
    return _reduce(loss, reduction, "margin_ranking_loss")
