"""Thread count for the whole benchmark session: ``FASTCONV_BENCH_THREADS`` (default 2).

Numba, BLAS and PyTorch all run on that many threads, so rows compare like with like.
"""
import os

import pytest

from fastconv import bench

THREADS = int(os.environ.get("FASTCONV_BENCH_THREADS", "2"))


@pytest.fixture(scope="session", autouse=True)
def bench_threads():
    with bench.threads(THREADS):
        yield THREADS
