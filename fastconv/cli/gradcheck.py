"""``fastconv gradcheck``: every op on every available backend against finite differences."""
from fastconv.backends import resolve
from fastconv.gradcheck import PROBLEMS, check_op, targets

HELP = "check every op's gradients on every available backend (exit 1 on any failure)"


def add_arguments(parser):
    parser.add_argument("--ops", nargs="+", choices=list(PROBLEMS), help="ops to check (default: all)")
    parser.add_argument("--backends", nargs="+", help="backends to check (default: all available)")
    parser.add_argument(
        "--methods", nargs="+", default=["elementwise", "directional"],
        choices=["elementwise", "directional"], help="which checks to run",
    )
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    for name in args.backends or []:
        try:
            resolve(name)
        except (ValueError, RuntimeError) as exc:
            print(f"fastconv gradcheck: {exc}")
            return 2
    print(f"{'op':<12} {'backend':<18} {'check':<12} {'max rel error':>14}  result")
    failures = 0
    for op, backend in targets(args.ops, args.backends):
        for method in args.methods:
            result = check_op(op, backend, method, args.seed)
            failures += not result.passed
            verdict = "pass" if result.passed else f"FAIL (> {result.tolerance:.0e})"
            print(f"{op:<12} {backend:<18} {method:<12} {result.error:>14.2e}  {verdict}", flush=True)
    print(f"{'all checks passed' if failures == 0 else f'{failures} check(s) failed'}")
    return 1 if failures else 0
