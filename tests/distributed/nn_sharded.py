"""Tensor-parallel nn layers and average_gradients over 2 ranks; run by
tests/test_distributed.py through ``python -m fastsync.launch -n 2``. Prints
``PASS <section> rank=<r>`` per section; any failure raises, which aborts the job."""

import fastsync as mx
import fastsync.nn as nn
import numpy as np
from fastsync import distributed as dist
from fastsync.nn.layers.distributed import shard_inplace, shard_linear
from fastsync.utils import tree_flatten

group = dist.init(strict=True)
rank, size = group.rank(), group.size()
assert size == 2


def passed(section):
    print(f"PASS {section} rank={rank}", flush=True)


def close(a, b, tol=1e-4):
    np.testing.assert_allclose(np.array(a), np.array(b), rtol=tol, atol=tol)


# Same weights and input on both ranks (same seed).
mx.random.seed(0)
up, down = nn.Linear(8, 16), nn.Linear(16, 8)
x = mx.random.normal((3, 8))


def full(x, up_w, up_b, down_w, down_b):
    return mx.sum(mx.square(nn.relu(x @ up_w.T + up_b) @ down_w.T + down_b))


# A sharded MLP: the hidden features split over the ranks, one all_sum forward.
s_up = shard_linear(up, "all-to-sharded")
s_down = shard_linear(down, "sharded-to-all")
assert s_up.weight.shape == (8, 8) and s_down.weight.shape == (8, 8)
close(s_down(nn.relu(s_up(x))), down(nn.relu(up(x))))
passed("forward")


def sharded_loss(x, uw, ub, dw):
    s_up.weight, s_up.bias, s_down.weight = uw, ub, dw
    return mx.sum(mx.square(s_down(nn.relu(s_up(x)))))


g_full = mx.grad(full, argnums=(0, 1, 2, 3))(x, up.weight, up.bias, down.weight, down.bias)
g_sh = mx.grad(sharded_loss, argnums=(0, 1, 2, 3))(x, s_up.weight, s_up.bias, s_down.weight)
rows = slice(rank * 8, rank * 8 + 8)
close(g_sh[0], g_full[0])  # the input's gradient is summed over the ranks
close(g_sh[1], g_full[1][rows])
close(g_sh[2], g_full[2][rows])
close(g_sh[3], g_full[3][:, rows])
passed("grad")

# Fused projections: each segment is sliced on its own.
qkv = nn.Linear(4, 12)
s_qkv = shard_linear(qkv, "all-to-sharded", segments=3)
w = np.array(qkv.weight)
want = np.concatenate([w[s * 4 + rank * 2 : s * 4 + rank * 2 + 2] for s in range(3)])
close(s_qkv.weight, want)
q = nn.QuantizedLinear.from_linear(nn.Linear(64, 64), group_size=32, bits=8)
s_q = shard_linear(q, "sharded-to-all")
xq = mx.random.normal((2, 64))
close(s_q(xq[:, rank * 32 : rank * 32 + 32]), q(xq), 1e-3)
lin = nn.Linear(6, 4)
w0 = np.array(lin.weight)
shard_inplace(lin, "sharded-to-all")
close(lin.weight, w0[:, rank * 3 : rank * 3 + 3])
passed("segments")

# average_gradients: rank r contributes r + 1; both small (packed) and large messages.
grads = {"a": mx.full((5,), rank + 1.0), "b": [mx.full((3, 2), 2.0 * (rank + 1))]}
for size_limit in (0, 8, 1 << 20):
    avg = nn.average_gradients(grads, all_reduce_size=size_limit)
    close(avg["a"], np.full(5, 1.5))
    close(avg["b"][0], np.full((3, 2), 3.0))
half = nn.average_gradients(grads, communication_type=mx.float16)
assert half["a"].dtype == mx.float32
close(half["a"], np.full(5, 1.5))
assert [k for k, _ in tree_flatten(avg)] == ["a", "b.0"]
passed("average")
