"""e. memory bound: one eval of ``acc = acc + g(i)`` over many (2048, 2048) arrays.

Peak memory (MiB, where the library counts it) and the max-RSS delta are recorded in each
benchmark's ``extra_info`` (see ``--benchmark-json``); pytest-benchmark's time is one run.
"""

import pytest
from fastsync.bench.suites import memory_row, row_names


@pytest.mark.parametrize("row", row_names("e."))
def test_memory(benchmark, lib, prepared, row):
    memory_row(benchmark, lib, prepared(row))
