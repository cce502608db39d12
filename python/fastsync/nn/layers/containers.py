"""Sequential: modules (or callables) applied in order."""

from __future__ import annotations

from .base import Module


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x):
        for m in self.layers:
            x = m(x)
        return x
