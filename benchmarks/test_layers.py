"""conv2d, pooling and the LeNet-5 training step on every available kernel, auto and PyTorch.

Cases: :data:`fastconv.bench.CASES`. Peers: :func:`fastconv.bench.peers` (the naive
loops only on the LeNet-sized cases, two rounds). Each benchmark makes one untimed call
first; its time (compilation, or ``auto``'s tuning, included) goes to
``extra_info["first_call_s"]``, next to the rate in GFLOP/s (conv2d, training step) or
GB/s (pooling) and the thread count. Peers of one case and direction share a group:
``pytest benchmarks/`` prints them side by side.

    pytest benchmarks/ --benchmark-json out.json
    pytest benchmarks/ --benchmark-autosave            # then, after a change:
    pytest benchmarks/ --benchmark-compare             # compares with the last saved run
"""
import pytest

from fastconv import bench

PARAMS = [(case, peer, direction) for case in bench.CASES for peer in bench.peers()
         if bench.runs_on(peer, case) for direction in case.directions]


@pytest.mark.parametrize("case, peer, direction", PARAMS,
                         ids=[f"{c.name}-{p}-{d}" for c, p, d in PARAMS])
def test_layer(benchmark, bench_threads, case, peer, direction):
    call = bench.make_call(case, peer, direction)
    first_call_s = bench.seconds(call)
    benchmark.group = f"{case.op} {case.name} {direction}"
    if peer.startswith("naive"):
        benchmark.pedantic(call, rounds=2, iterations=1)
    else:
        benchmark(call)
    benchmark.extra_info.update({"first_call_s": first_call_s, "threads": bench_threads})
    if benchmark.stats:  # None under --benchmark-disable, where nothing is timed
        benchmark.extra_info[case.unit] = case.rate(direction, benchmark.stats.stats.median)
