"""Normalization layers over the feature (last) axis: LayerNorm, RMSNorm, GroupNorm,
InstanceNorm, BatchNorm. Inputs are channels-last, as in MLX."""

from __future__ import annotations

from ... import _core as mx
from ... import fast
from .base import Module


class LayerNorm(Module):
    """Normalizes the last axis; learns a scale (and bias) when ``affine``."""

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = True, bias: bool = True):
        super().__init__()
        if affine:
            self.weight = mx.ones((dims,))
            if bias:
                self.bias = mx.zeros((dims,))
        self.dims, self.eps = dims, eps

    def _extra_repr(self) -> str:
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        return fast.layer_norm(x, self.get("weight"), self.get("bias"), self.eps)


class RMSNorm(Module):
    """Divides the last axis by its root mean square; learns a scale."""

    def __init__(self, dims: int, eps: float = 1e-5):
        super().__init__()
        self.weight = mx.ones((dims,))
        self.eps = eps

    def _extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def __call__(self, x):
        return fast.rms_norm(x, self["weight"], self.eps)


class GroupNorm(Module):
    """Normalizes groups of channels over the channel group and every spatial axis.

    Channel ``c`` belongs to group ``c % num_groups``; with ``pytorch_compatible`` groups
    are instead consecutive runs of ``dims // num_groups`` channels, as in PyTorch.
    """

    def __init__(
        self,
        num_groups: int,
        dims: int,
        eps: float = 1e-5,
        affine: bool = True,
        pytorch_compatible: bool = False,
    ):
        super().__init__()
        if dims % num_groups:
            raise ValueError(f"[GroupNorm] {dims} channels do not split into {num_groups} groups")
        if affine:
            self.weight = mx.ones((dims,))
            self.bias = mx.zeros((dims,))
        self.num_groups, self.dims, self.eps = num_groups, dims, eps
        self.pytorch_compatible = pytorch_compatible

    def _extra_repr(self) -> str:
        return f"{self.num_groups}, {self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        batch, shape, g = x.shape[0], x.shape, self.num_groups
        if self.pytorch_compatible:
            y = x.reshape(batch, -1, g, self.dims // g).swapaxes(1, 2).reshape(batch, g, -1)
            y = fast.layer_norm(y, None, None, self.eps)
            y = y.reshape(batch, g, -1, self.dims // g).swapaxes(1, 2).reshape(shape)
        else:
            y = x.reshape(batch, -1, g)
            mean = mx.mean(y, axis=1, keepdims=True)
            var = mx.var(y, axis=1, keepdims=True)
            y = ((y - mean) * mx.rsqrt(var + self.eps)).reshape(shape)
        if "weight" in self:
            y = y * self["weight"] + self["bias"]
        return y


class InstanceNorm(Module):
    """Normalizes each channel of each sample over the spatial axes (all but first and last)."""

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = False):
        super().__init__()
        if affine:
            self.weight = mx.ones((dims,))
            self.bias = mx.zeros((dims,))
        self.dims, self.eps = dims, eps

    def __call__(self, x):
        if x.ndim < 3:
            raise ValueError(f"[InstanceNorm] expects (N, ..., C) with spatial axes, got {x.ndim}D")
        axes = tuple(range(1, x.ndim - 1))
        mean = mx.mean(x, axis=axes, keepdims=True)
        var = mx.var(x, axis=axes, keepdims=True)
        y = (x - mean) * mx.rsqrt(var + self.eps)
        if "weight" in self:
            y = y * self["weight"] + self["bias"]
        return y


class BatchNorm(Module):
    """Normalizes each feature (last axis) over the batch and spatial axes.

    In training mode the batch's statistics are used and, with ``track_running_stats``,
    folded into ``running_mean`` / ``running_var`` (``momentum`` is the new batch's share);
    in eval mode the running statistics are used. They are state, never trained.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        if affine:
            self.weight = mx.ones((num_features,))
            self.bias = mx.zeros((num_features,))
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.track_running_stats = track_running_stats
        if track_running_stats:
            self.running_mean = mx.zeros((num_features,))
            self.running_var = mx.ones((num_features,))
            self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def unfreeze(self, *args, **kwargs):
        """Unfreeze parameters; the running statistics stay frozen."""
        super().unfreeze(*args, **kwargs)
        if self.track_running_stats:
            self.freeze(keys=["running_mean", "running_var"], recurse=False)
        return self

    def _extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={'weight' in self}, track_running_stats={self.track_running_stats}"
        )

    def __call__(self, x):
        if x.ndim < 2 or x.ndim > 4:
            raise ValueError(f"[BatchNorm] expects 2 to 4 dimensions (N, ..., C), got {x.ndim}")
        if x.shape[-1] != self.num_features:
            raise ValueError(
                f"[BatchNorm] the last axis has {x.shape[-1]} features, not {self.num_features}"
            )
        if self.training or not self.track_running_stats:
            axes = tuple(range(x.ndim - 1))
            mean = mx.mean(x, axis=axes)
            var = mx.var(x, axis=axes)
            if self.training and self.track_running_stats:
                m = self.momentum
                self.running_mean = (1 - m) * self.running_mean + m * mx.stop_gradient(mean)
                self.running_var = (1 - m) * self.running_var + m * mx.stop_gradient(var)
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean) * mx.rsqrt(var + self.eps)
        if "weight" in self:
            y = y * self["weight"] + self["bias"]
        return y
