"""Dtype utilities in Python, as ``mlx.core`` has them: finfo, iinfo, the dtype categories
and issubdtype, the Array API's isdtype / result_type / can_cast, and the constants
(pi, e, inf, nan, euler_gamma, newaxis).

Type promotion is never reimplemented here: result_type asks the C++ ops by building a tiny
lazy graph (dtype inference does not evaluate), so it always agrees with what an op returns.
complex64 is used only where ``_core`` has it.
"""

import enum
import functools
import math

import numpy as np

from . import _core

__all__ = [
    "DtypeCategory", "can_cast", "complexfloating", "e", "euler_gamma", "finfo", "floating",
    "generic", "iinfo", "inexact", "inf", "integer", "isdtype", "issubdtype", "nan",
    "newaxis", "number", "pi", "result_type", "signedinteger", "unsignedinteger",
]

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan
euler_gamma = 0.5772156649015329
newaxis = None

_complex64 = getattr(_core, "complex64", None)


class DtypeCategory(enum.Enum):
    """Categories of dtypes, a tree as NumPy's abstract scalar types (see issubdtype)."""

    complexfloating = 0
    floating = 1
    inexact = 2
    signedinteger = 3
    unsignedinteger = 4
    integer = 5
    number = 6
    generic = 7


DtypeCategory.__module__ = "fastsync"
complexfloating = DtypeCategory.complexfloating
floating = DtypeCategory.floating
inexact = DtypeCategory.inexact
signedinteger = DtypeCategory.signedinteger
unsignedinteger = DtypeCategory.unsignedinteger
integer = DtypeCategory.integer
number = DtypeCategory.number
generic = DtypeCategory.generic

_PARENT = {
    complexfloating: inexact,
    floating: inexact,
    inexact: number,
    signedinteger: integer,
    unsignedinteger: integer,
    integer: number,
    number: generic,
}

# Each dtype's category; bool_ sits directly under generic, as in NumPy.
_KIND = {_core.bool_: generic}
_KIND.update({getattr(_core, f"int{b}"): signedinteger for b in (8, 16, 32, 64)})
_KIND.update({getattr(_core, f"uint{b}"): unsignedinteger for b in (8, 16, 32, 64)})
_KIND.update({_core.float16: floating, _core.bfloat16: floating})
_KIND.update({_core.float32: floating, _core.float64: floating})
if _complex64 is not None:
    _KIND[_complex64] = complexfloating


def _check_dtype(dtype, fn):
    if not isinstance(dtype, _core.Dtype):
        raise TypeError(f"[{fn}] expected a fastsync Dtype, got {type(dtype).__name__}")
    return dtype


def _kind(dtype):
    if dtype not in _KIND:
        raise ValueError(f"unknown dtype {dtype.name}")
    return _KIND[dtype]


def _is_sub_category(a, b):
    while a is not None:
        if a is b:
            return True
        a = _PARENT.get(a)
    return False


def issubdtype(arg1, arg2):
    """Whether ``arg1`` is ``arg2`` or lies below it in the category tree.

    Each argument is a Dtype or a DtypeCategory. A dtype is a subtype only of itself and
    its categories; a category is never a subtype of a dtype.
    """
    for a in (arg1, arg2):
        if not isinstance(a, (_core.Dtype, DtypeCategory)):
            raise TypeError(
                f"[issubdtype] arguments must be Dtype or DtypeCategory, got {type(a).__name__}"
            )
    if isinstance(arg1, _core.Dtype):
        if isinstance(arg2, _core.Dtype):
            return arg1 == arg2
        return _is_sub_category(_kind(arg1), arg2)
    if isinstance(arg2, _core.Dtype):
        return False
    return _is_sub_category(arg1, arg2)


# Float formats: (mantissa bits, exponent bits) of each IEEE-like type.
_FLOAT_FORMATS = {
    _core.float16: (10, 5),
    _core.bfloat16: (7, 8),
    _core.float32: (23, 8),
    _core.float64: (52, 11),
}


class finfo:
    """Machine limits of a floating point dtype (of its real part for complex64).

    Attributes: ``dtype``, ``bits``, ``min``, ``max``, ``eps``, ``tiny`` (alias
    ``smallest_normal``), ``smallest_subnormal``, as Python floats computed from the format.
    """

    def __init__(self, dtype):
        _check_dtype(dtype, "finfo")
        if _kind(dtype) is complexfloating:
            dtype = _core.float32
        if dtype not in _FLOAT_FORMATS:
            raise ValueError(f"[finfo] dtype {dtype.name} is not inexact.")
        nmant, nexp = _FLOAT_FORMATS[dtype]
        emax = 2 ** (nexp - 1) - 1
        self.dtype = dtype
        self.bits = 1 + nmant + nexp
        self.eps = math.ldexp(1.0, -nmant)
        self.max = math.ldexp(2.0 - self.eps, emax)
        self.min = -self.max
        self.smallest_normal = math.ldexp(1.0, 1 - emax)
        self.tiny = self.smallest_normal
        self.smallest_subnormal = math.ldexp(1.0, 1 - emax - nmant)

    def __repr__(self):
        return f"finfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype.name})"


class iinfo:
    """Machine limits of an integer dtype: ``dtype``, ``bits``, ``min``, ``max`` (Python ints)."""

    def __init__(self, dtype):
        _check_dtype(dtype, "iinfo")
        kind = _kind(dtype)
        if kind not in (signedinteger, unsignedinteger):
            raise ValueError(f"[iinfo] dtype {dtype.name} is not integral.")
        self.dtype = dtype
        self.bits = 8 * dtype.size
        if kind is signedinteger:
            self.min, self.max = -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1
        else:
            self.min, self.max = 0, 2**self.bits - 1

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype.name})"


_KINDS = {
    "bool": lambda c: c is generic,
    "signed integer": lambda c: c is signedinteger,
    "unsigned integer": lambda c: c is unsignedinteger,
    "integral": lambda c: c in (signedinteger, unsignedinteger),
    "real floating": lambda c: c is floating,
    "complex floating": lambda c: c is complexfloating,
    "numeric": lambda c: c is not generic,
}


def isdtype(dtype, kind):
    """Array API ``isdtype``: whether ``dtype`` is of ``kind``.

    ``kind`` is a Dtype, one of the strings 'bool', 'signed integer', 'unsigned integer',
    'integral', 'real floating', 'complex floating', 'numeric', or a tuple of these.
    """
    _check_dtype(dtype, "isdtype")
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, _core.Dtype):
        return dtype == kind
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"[isdtype] unknown kind {kind!r}; expected one of {list(_KINDS)}")
        return _KINDS[kind](_kind(dtype))
    raise TypeError(f"[isdtype] kind must be a Dtype, a str or a tuple, got {type(kind).__name__}")


@functools.cache
def _promote(a, b):
    # The C++ promotion, read off a lazy add of two scalars (nothing is evaluated).
    return _core.add(_core.zeros((), a), _core.zeros((), b)).dtype


def _weak(acc, scalar):
    # A Python scalar beside an array: the array's dtype wins unless the scalar is of a
    # higher kind (as in an op with a scalar operand).
    if isinstance(scalar, complex) and _complex64 is None:
        raise TypeError("[result_type] complex scalars need complex64, which this build lacks")
    if acc is None:
        return _core.array(scalar).dtype
    return (_core.zeros((), acc) + scalar).dtype


def result_type(*arrays_and_dtypes):
    """The dtype an op on all the arguments would return.

    Arguments are arrays, Dtypes, NumPy arrays or dtypes, or Python scalars; Python scalars
    are weakly typed (``result_type(mx.array([1], mx.int8), 1)`` is int8).
    """
    if not arrays_and_dtypes:
        raise ValueError("[result_type] at least one array or dtype is required")
    acc, scalars = None, []
    for x in arrays_and_dtypes:
        if isinstance(x, _core.array):
            dt = x.dtype
        elif isinstance(x, _core.Dtype):
            dt = x
        elif isinstance(x, (np.ndarray, np.generic, np.dtype)):  # before float: np.float64
            name = np.dtype(getattr(x, "dtype", x)).name
            dt = getattr(_core, "bool_" if name == "bool" else name, None)
            if not isinstance(dt, _core.Dtype):
                raise TypeError(f"[result_type] unsupported NumPy dtype {name}")
        elif isinstance(x, (bool, int, float, complex)):
            scalars.append(x)
            continue
        else:
            raise TypeError(f"[result_type] unsupported argument of type {type(x).__name__}")
        acc = dt if acc is None else _promote(acc, dt)
    for s in scalars:
        acc = _weak(acc, s)
    return acc


def can_cast(from_, to):
    """Whether ``from_`` (a Dtype or array) promotes to ``to`` under fastsync's rules."""
    if isinstance(from_, _core.array):
        from_ = from_.dtype
    _check_dtype(from_, "can_cast")
    _check_dtype(to, "can_cast")
    return _promote(from_, to) == to
