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

# Reductions of different sizes or dtypes: checked by default.
if os.environ.get("FASTSYNC_DISTRIBUTED_CHECKS") != "0":
    raises(lambda: mx.eval(dist.all_sum(mx.ones((5 + rank,)))), "[all_sum]",
           "rank 0: 5 float32", "rank 1: 6 float32")
    raises(lambda: mx.eval(dist.all_sum(mx.ones((1,) if rank else (100000,)))), "[all_sum]",
           "rank 0: 100000 float32", "rank 1: 1 float32")
    raises(lambda: mx.eval(dist.all_max(mx.ones((2,), dtype=mx.int32 if rank else mx.int64))),
           "[all_max]", "int32", "int64")
    # One rank's values fit the check's exchange (128 bytes), the other's do not.
    raises(lambda: mx.eval(dist.all_sum(mx.ones((32 + rank,)))), "[all_sum]",
           "rank 0: 32 float32", "rank 1: 33 float32")
    passed("reduce_mismatch")

# A collective whose input failed on one rank (an out-of-range gather index
# there): that rank gets its own error, the other a RuntimeError naming it,
# and both took part, so the next collective lines up.
idx = mx.array([0, 1, 99 if rank == 0 else 2])
spoiled = dist.all_sum(mx.take(mx.arange(3, dtype=mx.float32), idx))
if rank == 0:
    try:
        spoiled.tolist()
        raise AssertionError("the spoiled input's error was not raised")
    except IndexError as e:
        assert "out of bounds" in str(e), e
else:
    raises(spoiled.tolist, "[all_sum]", "rank 0 failed")
gathered = dist.all_gather(mx.take(mx.arange(3), mx.array([5 if rank else 0])))
if rank == 1:
    try:
        mx.eval(gathered)
        raise AssertionError("the spoiled input's error was not raised")
    except IndexError:
        pass
else:
    raises(lambda: mx.eval(gathered), "[all_gather]", "rank 1 failed")
# A send of a spoiled array: the receiver raises instead of computing on what came.
if rank == 0:
    sent = dist.send(mx.take(mx.arange(4, dtype=mx.float32), mx.array([0, 9])), 1)
    try:
        mx.eval(sent)
        raise AssertionError("the spoiled input's error was not raised")
    except IndexError:
        pass
else:
    raises(lambda: dist.recv((2,), mx.float32, 0).tolist(), "[recv]", "rank 0 sent was spoiled")
in_step = dist.all_sum(mx.array([10.0 * (rank + 1)]))
assert in_step.item() == 30.0, in_step.item()
passed("spoiled_input")

# The runtime and the communicator are still usable on both ranks.
total = dist.all_sum(mx.array([1.0 + rank]))
assert total.item() == 3.0, total.item()
passed("usable_after")
