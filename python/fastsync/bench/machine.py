"""What else runs on the machine while the benchmark measures: called once by ``__main__``
before any measurement, on the main thread."""

from __future__ import annotations

import os
import shutil
import subprocess


def other_gpu_processes(run=subprocess.run) -> list[str] | None:
    """Other processes holding a context on a GPU, as ``"pid name"``, from ``nvidia-smi``;
    ``None`` when that cannot be told (no ``nvidia-smi``, or it failed).

    A GPU shared with another process time-slices between their contexts: while the other
    keeps a kernel running (a test suite's shard left behind, a spinning wait), every
    synchronization here can wait out its slice, about 2 ms on an H100, whatever the library.
    Figures taken then say nothing about the libraries measured."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = run([exe, "--query-compute-apps=pid,process_name", "--format=csv,noheader"],
                  capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    me = os.getpid()
    found = []
    for line in out.stdout.splitlines():
        pid, _, name = line.partition(",")
        pid = pid.strip()
        if not pid.isdigit() or int(pid) == me:
            continue
        found.append(f"{pid} {name.strip()}")
    return found
