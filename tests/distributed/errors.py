"""Errors over 2 ranks: each surfaces as a RuntimeError on the rank it
concerns, and both ranks carry on. Prints ``PASS <section> rank=<r>``."""

import os

import fastsync as mx
from fastsync import distributed as dist

group = dist.init(strict=True)
rank = group.rank()
assert group.size() == 2


def passed(section):
    print(f"PASS {section} rank={rank}", flush=True)


def raises(fn, *words):
    try:
        fn()
    except RuntimeError as e:
        text = str(e)
        assert all(w in text for w in words), f"{words} not all in: {text}"
        return text
    raise AssertionError(f"no RuntimeError raised (wanted {words})")


# A message larger than the receive (MPI_ERR_TRUNCATE, an MPI error code):
# only the receiver fails; the sender's small message went out eagerly.
if rank == 0:
    mx.eval(dist.send(mx.ones((8,)), 1))
else:
    print(raises(lambda: mx.eval(dist.recv((4,), mx.float32, 0)), "[recv]", "larger"),
          flush=True)
passed("recv_truncated")

# A message smaller than the receive, detected from its element count; read
# through tolist(), which raises too.
if rank == 0:
    mx.eval(dist.send(mx.ones((2,)), 1))
else:
    raises(lambda: dist.recv((4,), mx.float32, 0).tolist(), "[recv]", "held 2 elements")
passed("recv_short")

# Different dtypes with the same byte count cannot be told apart by MPI;
# different byte counts can.
if rank == 0:
    mx.eval(dist.send(mx.ones((4,), dtype=mx.float64), 1))
else:
    raises(lambda: mx.eval(dist.recv((4,), mx.float32, 0)), "[recv]")
passed("recv_dtype")

# all_gather of different shapes: every rank sees every rank's shape, so both
# raise and neither waits.
raises(lambda: mx.eval(dist.all_gather(mx.zeros((3 + rank,)))), "[all_gather]",
       "rank 0: 3 float32", "rank 1: 4 float32")
raises(lambda: mx.eval(dist.all_gather(mx.zeros((2, 3) if rank == 0 else (3, 2)))),
       "[all_gather]", "another shape")
passed("gather_mismatch")

# Reductions of different sizes, checked because the test runs this script
# with FASTSYNC_DISTRIBUTED_CHECKS=1 (the check costs a collective, so it is
# off by default).
if os.environ.get("FASTSYNC_DISTRIBUTED_CHECKS") == "1":
    raises(lambda: mx.eval(dist.all_sum(mx.ones((5 + rank,)))), "[all_sum]",
           "rank 0: 5 float32", "rank 1: 6 float32")
    raises(lambda: mx.eval(dist.all_max(mx.ones((2,), dtype=mx.int32 if rank else mx.int64))),
           "[all_max]", "int32", "int64")
    passed("reduce_mismatch")

# The runtime and the communicator are still usable on both ranks.
total = dist.all_sum(mx.array([1.0 + rank]))
assert total.item() == 3.0, total.item()
passed("usable_after")
