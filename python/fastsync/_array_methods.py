"""The array methods MLX has that forward to a module-level op: ``a.swapaxes(0, 1)`` is
``mx.swapaxes(a, 0, 1)``, and pickling/copying. Attached to the compiled ``array`` class at
import.
"""

import numpy as np

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


def _rebuild(data, dtype_name):
    """Unpickles an array: NumPy data and the fastsync dtype's name."""
    return _core.array(data, getattr(_core, "bool_" if dtype_name == "bool" else dtype_name))


def _reduce(self):
    # bfloat16 has no NumPy dtype: it travels as float32, which holds it exactly.
    data = self.astype(_core.float32) if self.dtype == _core.bfloat16 else self
    return _rebuild, (np.array(data), self.dtype.name)


def attach():
    for name in _FORWARDED:
        if hasattr(_core, name) and not hasattr(_core.array, name):
            setattr(_core.array, name, _forward(name))
    if not hasattr(_core.array, "copy"):
        _core.array.copy = lambda self: _core.array(self)
    # Arrays are immutable values (assignment rebinds), so copies may share the data.
    _core.array.__reduce__ = _reduce
    _core.array.__copy__ = lambda self: _core.array(self)
    _core.array.__deepcopy__ = lambda self, memo: _core.array(self)
