"""Per-primitive time of a model row's step (fastsync.bench.models): where a training step
or a decode step goes. On the GPU from CUDA events around each op's launches
(src/backend/cuda/profile.h); on the CPU from the stream workers timing each op's compute
(src/backend/cpu/profile.h).

    python bench/op_profile.py --task train        # the GPU training row's shape
    python bench/op_profile.py --task generate     # the GPU generation row's shape
    python bench/op_profile.py --task prefill      # its prompt (fresh caches per step)
    python bench/op_profile.py --detail            # per primitive, output shape and dtype
    python bench/op_profile.py --device cpu        # the CPU rows' shapes, on the CPU

Prints, per primitive, the calls per step, the device milliseconds per step (GPU: between
the events around its launches; CPU: its compute on the stream's worker) and the host
milliseconds its encoding took, largest first, with the step's wall time beside them. The
timing serializes nothing but adds a little host time.
"""

import argparse
import os
import sys
import time
from types import SimpleNamespace

import fastsync as mx
import fastsync.nn as nn
import fastsync.optimizers as optim
from fastsync.bench import models


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=["train", "generate", "prefill"], default="train")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--detail", action="store_true", help="rows per output shape and dtype")
    ap.add_argument("--device", choices=["gpu", "cpu"], default="gpu")
    a = ap.parse_args()
    knob = "FASTSYNC_GPU_PROFILE" if a.device == "gpu" else "FASTSYNC_CPU_PROFILE"
    if a.detail and os.environ.get(knob) != "2":
        # Read when the library loads: run again with it set.
        os.environ[knob] = "2"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    profile = mx._core._gpu_profile if a.device == "gpu" else mx._core._cpu_profile
    task = "generate" if a.task == "prefill" else a.task
    cfg = SimpleNamespace(**models.SHAPES[a.device][task])
    if a.task == "train":
        _, _, step, state = models.train_step(mx, nn, optim, cfg)
        x, y = models.counting_batch(mx, cfg)
        mx.eval(x, y)

        def one():
            mx.eval(step(x, y), state)
    else:
        model, KVCache = models.llama_model(mx, nn, cfg)
        caches = [KVCache() for _ in model.blocks]
        prompt = mx.random.randint(0, cfg.vocab, (1, cfg.prompt))
        tok = mx.argmax(model(prompt, caches), -1)
        mx.eval(tok)
        box = [tok]

        def one():
            if a.task == "prefill":
                fresh = [KVCache() for _ in model.blocks]
                mx.eval(mx.argmax(model(prompt, fresh), axis=-1))
                return
            box[0] = mx.argmax(model(box[0][:, None], caches), axis=-1)
            mx.eval(box[0])

    for _ in range(3):
        one()
    mx.synchronize()
    profile(True)  # clear, then record
    t0 = time.perf_counter()
    for _ in range(a.steps):
        one()
    wall = (time.perf_counter() - t0) / a.steps * 1e3
    mx.synchronize()
    prof = profile(False)
    rows = sorted(prof.items(), key=lambda kv: -kv[1][1])
    gpu = sum(v[1] for v in prof.values()) / a.steps
    host = sum(v[2] for v in prof.values()) / a.steps
    dev = a.device.upper()
    print(f"{a.task} step on the {dev} ({cfg.dtype}): wall {wall:.2f} ms/step; summed over ops: "
          f"{dev} {gpu:.2f} ms, host encode {host:.2f} ms")  # fmt: skip
    width = max([28] + [len(n) for n, _ in rows[: a.top]])
    print(f"{'primitive':{width}} {'calls':>6} {dev + ' ms':>9} {'host ms':>9}   (per step)")
    for name, (count, g, h) in rows[: a.top]:
        print(f"{name:{width}} {count / a.steps:6.0f} {g / a.steps:9.3f} {h / a.steps:9.3f}")


if __name__ == "__main__":
    main()
