"""Print one table comparing every backend with NumPy and PyTorch, measured in one process.

    python -m benchmarks.report                    # 2 threads, then 1 thread
    python -m benchmarks.report --threads 2 --case resnet --peer numba torch numpy

Each row: op, case, direction, backend:algorithm, median ms, GFLOP/s (conv2d) or
GB/s (pooling), time relative to ``numpy:im2col`` and to ``torch`` (below 1 is
faster), and the first call's time (compilation on a cold cache), never part of
the median. The header gives the machine's float32 ``np.matmul`` rate, measured in
the same run, as the ceiling for conv2d GFLOP/s.
"""
import argparse

from fastconv import bench


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1],
                        help="thread counts to measure, one table each (default: 2 1)")
    parser.add_argument("--case", nargs="+", default=[],
                        help="only cases whose name contains one of these strings")
    parser.add_argument("--peer", nargs="+", default=[],
                        help="only peers (backend:algorithm or torch) containing one of these strings")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per peer")
    args = parser.parse_args(argv)
    pick = lambda names, wanted: [n for n in names if not wanted or any(w in n for w in wanted)]  # noqa: E731
    cases = [c for c in bench.CASES if c.name in pick([c.name for c in bench.CASES], args.case)]
    for line in bench.report(args.threads, cases, args.rounds, pick(bench.peers(), args.peer)):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
