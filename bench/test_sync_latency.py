"""a. eval round trip: ``y = x + 1; eval(y)`` and ``(x + 1).item()`` on a 0-d float32."""

import pytest
from fastsync.bench.suites import row_names, time_row


@pytest.mark.parametrize("row", row_names("a."))
def test_roundtrip(benchmark, lib, prepared, row):
    time_row(benchmark, lib, prepared(row))
