"""Fit a two-layer network to a noisy sine with mx.value_and_grad and plain SGD.

    python examples/regression.py            # default device (the GPU when there is one)
    python examples/regression.py --cpu

Parameters are a dict of arrays (any tree works); the gradient comes back as the same
tree. fastsync.utils.tree_map applies the update; one async_eval per step keeps the next
step's graph building while this one computes.
"""

import argparse
import math

import fastsync as mx
from fastsync.utils import tree_map


def init(key, width=64):
    k1, k2 = mx.random.split(key)
    return {
        "w1": mx.random.normal((1, width), key=k1) * 1.0,
        "b1": mx.zeros((width,)),
        "w2": mx.random.normal((width, 1), key=k2) / math.sqrt(width),
        "b2": mx.zeros((1,)),
    }


def predict(params, x):
    h = mx.tanh(x @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


def loss_fn(params, x, y):
    return mx.mean(mx.square(predict(params, x) - y))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", action="store_true", help="run on the CPU")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=0.01)
    args = ap.parse_args()
    if args.cpu:
        mx.set_default_device(mx.cpu)

    key = mx.random.key(0)
    kx, kn, kp = mx.random.split(key, 3)
    x = mx.random.uniform(-math.pi, math.pi, (256, 1), key=kx)
    y = mx.sin(x) + 0.05 * mx.random.normal((256, 1), key=kn)
    params = init(kp)

    step = mx.value_and_grad(loss_fn)
    for i in range(args.steps):
        loss, grads = step(params, x, y)
        params = tree_map(lambda p, g: p - args.lr * g, params, grads)
        mx.async_eval(params, loss)
        if i % 100 == 0 or i == args.steps - 1:
            print(f"step {i:4d}  loss {loss.item():.4f}")
    return loss.item()


if __name__ == "__main__":
    main()
