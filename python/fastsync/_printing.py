"""``printoptions``: set_printoptions for the duration of a ``with`` block (as NumPy's)."""

import contextlib

from . import _core


@contextlib.contextmanager
def printoptions(**options):
    """Print arrays with ``options`` (``precision=``) inside the block, as before after it."""
    old = _core.get_printoptions()
    _core.set_printoptions(**options)
    try:
        yield
    finally:
        _core.set_printoptions(**old)
