"""``fastconv bench``: time every kernel on this machine and print one table.

Rows cover conv2d and pooling (forward and backward) and the LeNet-5 training step, on
every available ``backend:algorithm``, ``auto`` (after its one-time tuning) and PyTorch
when it is installed, all on the same thread count. See :mod:`fastconv.bench` for what
is measured and how.
"""
from __future__ import annotations

import json
import sys

from tqdm import tqdm

from fastconv import bench

HELP = "time every kernel on this machine: one table of ms, GFLOP/s or GB/s, and speed-ups"


def add_arguments(parser):
    parser.add_argument("--ops", nargs="+", choices=sorted({c.op for c in bench.CASES}),
                        help="ops to time (default: all)")
    parser.add_argument("--backends", nargs="+", metavar="BACKEND",
                        help="backends (all their algorithms), backend:algorithm specs, "
                             "'auto' or 'torch' (default: all available)")
    parser.add_argument("--shapes", nargs="+", choices=[c.name for c in bench.CASES],
                        metavar="SHAPE", help=f"shapes to time (default: all): "
                                              f"{', '.join(c.name for c in bench.CASES)}")
    parser.add_argument("--threads", nargs="+", type=int, metavar="N",
                        help="thread counts to measure (default: all cores)")
    parser.add_argument("--quick", action="store_true",
                        help=f"fewer rounds, on {', '.join(bench.QUICK_CASES)} unless --shapes is given")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead")
    parser.add_argument("--plot", metavar="PATH", help="also draw a roofline chart (PNG) to PATH")


def _cases(args):
    names = args.shapes or (bench.QUICK_CASES if args.quick else [c.name for c in bench.CASES])
    return [c for c in bench.CASES if c.name in names and (not args.ops or c.op in args.ops)]


def run(args) -> int:
    def fail(message):
        print(f"fastconv bench: error: {message}", file=sys.stderr)
        return 2

    try:
        peers = bench.select_peers(args.backends) if args.backends else bench.peers()
    except ValueError as exc:
        return fail(exc)
    cases = _cases(args)
    if not cases:
        return fail("no shape matches --ops and --shapes")
    import numba  # here, not at the top: other commands need not load it

    cores = numba.config.NUMBA_NUM_THREADS
    if any(not 1 <= n <= cores for n in args.threads or []):
        return fail(f"--threads must lie between 1 and {cores}")
    thread_counts = args.threads or [cores]
    rounds, max_seconds = (5, 0.5) if args.quick else (15, 3.0)
    roofs, rows, failures = {}, [], []
    status = 0
    try:
        with tqdm(total=bench.tasks(cases, thread_counts), desc="fastconv bench", unit="case",
                  file=sys.stderr) as bar:
            for count, roof, new_rows, new_failures in bench.run(cases, peers, thread_counts,
                                                                 rounds, max_seconds):
                roofs[count] = roof
                rows += new_rows
                failures += new_failures
                bar.update()
    except KeyboardInterrupt:
        status = 130
        print("fastconv bench: interrupted; results so far:", file=sys.stderr)
    if args.json:
        print(json.dumps({"roofs": {n: r._asdict() for n, r in roofs.items()},
                          "rows": [r._asdict() for r in rows],
                          "failures": [f._asdict() for f in failures],
                          "interrupted": status != 0}, indent=1))
    else:
        print(bench.format_table(roofs, rows, failures))
    if args.plot:
        bench.plot_roofline(roofs, rows, args.plot)
    return status
