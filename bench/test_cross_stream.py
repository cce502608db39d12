"""c. cross-stream: adds alternating between two new streams vs all on one stream.

The hop/one ratio of ``python -m fastsync.bench`` is the ratio of the two groups' medians.
"""

import pytest
from fastsync.bench.suites import row_names, time_row


@pytest.mark.parametrize("row", row_names("c."))
def test_cross_stream(benchmark, lib, prepared, row):
    time_row(benchmark, lib, prepared(row))
