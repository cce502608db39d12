"""b. dispatch: tiny adds on 16 float32, evaluated once or after every op."""

import pytest
from fastsync.bench.suites import row_names, time_row


@pytest.mark.parametrize("row", row_names("b."))
def test_dispatch(benchmark, lib, prepared, row):
    time_row(benchmark, lib, prepared(row))
