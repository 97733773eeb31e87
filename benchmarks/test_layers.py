"""conv2d and pooling, forward and backward, on every available kernel and on PyTorch.

Cases: :data:`fastconv.bench.CASES`. Peers: every ``backend:algorithm`` of
``fastconv.available_kernels()`` plus ``torch`` when installed (the naive loops only
on the LeNet-sized cases, two rounds). Each benchmark makes one untimed call first;
its time (compilation included, on a cold cache) goes to ``extra_info["first_call_s"]``,
next to the rate in GFLOP/s (conv2d) or GB/s (pooling) and the thread count.
Peers of one case and direction share a group: ``pytest benchmarks/`` prints them
side by side.
"""
import time

import pytest

from fastconv import bench

PAIRS = [(case, peer) for case in bench.CASES for peer in bench.peers() if bench.runs_on(peer, case)]


@pytest.mark.parametrize("direction", bench.DIRECTIONS)
@pytest.mark.parametrize("case, peer", PAIRS, ids=[f"{c.name}-{p}" for c, p in PAIRS])
def test_layer(benchmark, bench_threads, case, peer, direction):
    call = bench.make_call(case, peer, direction)
    start = time.perf_counter()
    call()
    first_call_s = time.perf_counter() - start
    benchmark.group = f"{case.op} {case.name} {direction}"
    if peer.startswith("naive"):
        benchmark.pedantic(call, rounds=2, iterations=1)
    else:
        benchmark(call)
    benchmark.extra_info.update({case.unit: case.rate(direction, benchmark.stats.stats.median),
                                 "first_call_s": first_call_s, "threads": bench_threads})
