"""Thread count for the whole benchmark session: ``FASTCONV_BENCH_THREADS`` (default 2).

Numba, BLAS and PyTorch all run on that many threads, so rows compare like with like;
freed memory is kept for the next arrays, as in ``fastconv bench``
(:func:`fastconv.cli.keep_freed_memory`).
"""
import os

import pytest

from fastconv import bench
from fastconv.cli import keep_freed_memory

THREADS = int(os.environ.get("FASTCONV_BENCH_THREADS", "2"))


@pytest.fixture(scope="session", autouse=True)
def bench_threads():
    keep_freed_memory()
    with bench.threads(THREADS):
        yield THREADS
