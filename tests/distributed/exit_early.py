"""Rank 1 leaves with sys.exit(0) before a collective rank 0 enters: rank 0's
watchdog (FASTSYNC_DISTRIBUTED_TIMEOUT, set short by the test) ends the job
instead of leaving it waiting forever."""

import sys

import fastsync as mx
from fastsync import distributed as dist

group = dist.init(strict=True)
if group.rank() == 1:
    sys.exit(0)
print("rank 0 waiting", flush=True)
mx.eval(dist.all_sum(mx.ones((4,))))
print("rank 0 got a sum it should never get", flush=True)
