"""f. compute kernels: add, sum, softmax, matmul, transpose copy (NumPy is a peer here)."""

import pytest
from fastsync.bench.suites import row_names, time_row


@pytest.mark.parametrize("row", row_names("f."))
def test_kernel(benchmark, lib, prepared, row):
    time_row(benchmark, lib, prepared(row), heavy=True)
