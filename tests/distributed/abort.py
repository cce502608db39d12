"""Rank 1 dies of an uncaught exception while rank 0 waits for a message
from it: the exit hook aborts the job, so rank 0 does not wait forever."""

import fastsync as mx
from fastsync import distributed as dist

group = dist.init(strict=True)
if group.rank() == 0:
    print("rank 0 waiting", flush=True)
    mx.eval(dist.recv((4,), mx.float32, 1))
    print("rank 0 got a message it should never get", flush=True)
else:
    raise ValueError("rank 1 failed on purpose")
