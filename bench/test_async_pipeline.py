"""d. async pipeline: dependent ``x = maximum(x @ w, 0)`` steps; eval each step, async_eval
each step, and the generation pattern. n/a (skipped) where the library has no matmul."""

import pytest
from fastsync.bench.suites import row_names, time_row


@pytest.mark.parametrize("row", row_names("d."))
def test_pipeline(benchmark, lib, prepared, row):
    time_row(benchmark, lib, prepared(row), heavy=True)
