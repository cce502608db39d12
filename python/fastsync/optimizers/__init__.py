"""``fastsync.optimizers``: ``mlx.optimizers``'s optimizers and learning-rate schedules."""

from .optimizers import *  # noqa: F403
from .optimizers import __all__ as _opt_all
from .schedulers import *  # noqa: F403
from .schedulers import __all__ as _sched_all

__all__ = [*_opt_all, *_sched_all]
