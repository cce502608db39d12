"""One model row of issue 15, for one library in this process: a warm run, then three runs,
each run's figure on one line with the peak. The same runners as ``python -m fastsync.bench
--only model.`` (``fastsync.bench.models``), without its harness, so rows of several
libraries can be alternated process by process on one machine::

    python bench/model_row.py generate fastsync --device gpu
    python bench/model_row.py generate mlx --device gpu
    python bench/model_row.py train torch --device gpu
"""

import argparse
import importlib

from fastsync.bench import models


def runner(task, lib, device, cfg):
    if lib == "torch":
        import torch

        dev = "cuda" if device == "gpu" else "cpu"
        make = models.torch_generate_runner if task == "generate" else models.torch_train_runner
        return make(torch, cfg, dev)
    mx = importlib.import_module("mlx.core" if lib == "mlx" else "fastsync")
    nn = importlib.import_module(f"{'mlx' if lib == 'mlx' else 'fastsync'}.nn")
    mx.set_default_device(mx.gpu if device == "gpu" else mx.cpu)
    if task == "generate":
        return models.generate_runner(mx, nn, cfg)
    optim = importlib.import_module(f"{'mlx' if lib == 'mlx' else 'fastsync'}.optimizers")
    return models.train_runner(mx, nn, optim, cfg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=["generate", "train"])
    ap.add_argument("lib", choices=["fastsync", "mlx", "torch"])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="gpu")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    run = runner(a.task, a.lib, a.device, models.shapes(a.task, a.device, False))
    run(warm=True)
    key = "generation tok/s" if a.task == "generate" else "steps/s"
    rs = [run() for _ in range(a.runs)]
    figures = " ".join(f"{r[key]:.2f}" for r in rs)
    peak = max(r.get("peak MiB", 0.0) for r in rs)
    print(f"{a.task} {a.lib} {a.device}: {key} {figures}; peak {peak:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
