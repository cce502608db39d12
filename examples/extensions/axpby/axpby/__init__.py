"""alpha * x + beta * y as one fastsync primitive (fastsync's extension example)."""

import fastsync  # noqa: F401  (loads libfastsync and registers fastsync's types first)

from ._axpby import axpby

__all__ = ["axpby"]
