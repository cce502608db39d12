"""The array methods MLX has that forward to a module-level op: ``a.swapaxes(0, 1)`` is
``mx.swapaxes(a, 0, 1)``. Attached to the compiled ``array`` class at import; no logic here.
"""

from . import _core


def _forward(op_name):
    op = getattr(_core, op_name)

    def method(self, *args, **kwargs):
        return op(self, *args, **kwargs)

    method.__name__ = op_name
    method.__doc__ = f"Same as ``fastsync.{op_name}(self, ...)``."
    return method


# Methods whose arguments after the array are the op's own.
_FORWARDED = (
    "abs", "cos", "cummax", "cummin", "cumprod", "cumsum", "diag", "diagonal", "exp",
    "flatten", "log", "log10", "log1p", "log2", "logcumsumexp", "logsumexp", "moveaxis",
    "reciprocal", "round", "rsqrt", "sin", "softmax", "split", "sqrt", "square", "squeeze",
    "std", "swapaxes", "var", "conj", "conjugate", "view",
)


def attach():
    for name in _FORWARDED:
        if hasattr(_core, name) and not hasattr(_core.array, name):
            setattr(_core.array, name, _forward(name))
    if not hasattr(_core.array, "copy"):
        _core.array.copy = lambda self: _core.array(self)
