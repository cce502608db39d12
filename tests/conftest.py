import os

import fastsync as mx
import pytest

# The suite captures every run of GPU ops into CUDA graphs (users get only runs of small ops
# captured; read once, at the first GPU eval): every GPU test then exercises capture and replay.
os.environ.setdefault("FASTSYNC_CUDA_GRAPHS", "1")


def pytest_configure(config):
    # FASTSYNC_DEFAULT_DEVICE=gpu runs the whole suite on the GPU; otherwise it runs on the
    # CPU, also where a GPU would be fastsync's default device (as MLX's).
    dev = os.environ.get("FASTSYNC_DEFAULT_DEVICE")
    if dev == "gpu":
        if not mx.is_available(mx.gpu):
            raise pytest.UsageError("FASTSYNC_DEFAULT_DEVICE=gpu but no GPU is available")
        mx.set_default_device(mx.gpu)
    else:
        mx.set_default_device(mx.cpu)


def _defaults():
    """The default device and default streams, by name.

    Cheap, and starts nothing on a GPU that is not already the default device: the GPU's
    default stream is asked for only when the GPU is the default device (then the suite
    runs on it anyway); the CPU's always, since every CPU op uses it.
    """
    device = mx.default_device()
    found = {"default device": device, "default stream of the CPU": mx.default_stream(mx.cpu)}
    if device == mx.gpu:
        found["default stream of the GPU"] = mx.default_stream(mx.gpu)
    return found


@pytest.fixture(autouse=True)
def keep_defaults():
    """Fails a test that leaves the default device or a default stream changed, and puts
    them back, so that the tests after it run where the suite meant them to."""
    before = _defaults()
    yield
    # Names in both only (the GPU's stream is asked for only while the GPU is the default
    # device, whose change is reported itself); and no comparison with None, which Stream's
    # __eq__ rejects with a TypeError.
    after = _defaults()
    changed = [f"{name}: {value!r} -> {after[name]!r}"
               for name, value in before.items() if name in after and after[name] != value]
    if not changed:
        return
    mx.set_default_device(before["default device"])
    for name, value in before.items():
        if name.startswith("default stream"):
            mx.set_default_stream(value)
    now = _defaults()
    left = [name for name, value in before.items() if name in now and now[name] != value]
    note = (f"; still changed after restoring ({', '.join(left)}): a `with mx.stream(...)` "
            "block left open?" if left else "; restored")
    pytest.fail("the test left " + "; ".join(changed) + note, pytrace=False)


@pytest.fixture
def memory_limit():
    """Restores the memory limit a test changes."""
    old = mx.get_memory_limit()
    yield
    mx.set_memory_limit(old)


@pytest.fixture(params=["cpu", "gpu"])
def device(request):
    """Runs a test with the CPU and, where there is one, the GPU: the device its ops run on
    (its default stream's, and its new streams')."""
    d = mx.cpu if request.param == "cpu" else mx.gpu
    if not mx.is_available(d):
        pytest.skip("no GPU")
    with mx.stream(d):
        yield d
