import os

import fastsync as mx
import pytest


def pytest_configure(config):
    # FASTSYNC_DEFAULT_DEVICE=gpu runs the whole suite on the GPU.
    dev = os.environ.get("FASTSYNC_DEFAULT_DEVICE")
    if dev == "gpu":
        if not mx.is_available(mx.gpu):
            raise pytest.UsageError("FASTSYNC_DEFAULT_DEVICE=gpu but no GPU is available")
        mx.set_default_device(mx.gpu)


@pytest.fixture
def memory_limit():
    """Restores the memory limit a test changes."""
    old = mx.get_memory_limit()
    yield
    mx.set_memory_limit(old)
