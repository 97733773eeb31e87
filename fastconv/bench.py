"""Benchmark cases and measurements shared by ``benchmarks/`` and the benchmark report.

A *case* is one layer shape (conv2d or pooling); a *peer* is something that can run
it: every available fastconv kernel (``"numba:direct"``, ``"numpy:im2col"``, ...) and,
when it is installed, ``"torch"`` (``torch.nn.functional`` on the same arrays, no copy).
:func:`make_call` turns (case, peer, direction) into a function of no arguments;
:func:`measure` times several of them alternately in one process, after a warm-up
call whose time (Numba's compilation, for a first run) is reported separately.

Work per call, to turn times into rates: a conv2d forward does ``2*N*K*OH*OW*C*R*S``
FLOPs and its backward twice that (dx and dw; db is negligible); pooling is memory
bound, so it is rated by the bytes it must read and write.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from typing import NamedTuple

import numpy as np

import fastconv.functional as F
from fastconv.backends import available_kernels
from fastconv.shapes import ConvGeometry, PoolGeometry, output_size

DIRECTIONS = ("forward", "backward")
REFERENCE = "numpy:im2col"
TORCH = "torch"


class ConvCase(NamedTuple):
    name: str
    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    stride: int
    padding: int

    op = "conv2d"
    unit = "GFLOP/s"

    @property
    def geometry(self) -> ConvGeometry:
        OH = output_size(self.H, self.R, self.stride, self.padding)
        OW = output_size(self.W, self.S, self.stride, self.padding)
        pair = lambda v: (v, v)  # noqa: E731
        return ConvGeometry(self.N, self.C, self.H, self.W, self.K, self.R, self.S, OH, OW,
                            pair(self.stride), pair(self.padding), (1, 1))

    def work(self, direction: str, itemsize: int) -> float:
        """FLOPs of one call."""
        return self.geometry.flops * (1 if direction == "forward" else 2)

    def rate(self, direction: str, seconds: float, itemsize: int = 4) -> float:
        """GFLOP/s of a call that took ``seconds``."""
        return self.work(direction, itemsize) / seconds / 1e9


class PoolCase(NamedTuple):
    name: str
    kind: str  # "max" or "avg"
    N: int
    C: int
    H: int
    W: int
    kernel: int
    stride: int
    padding: int

    unit = "GB/s"
    rate = ConvCase.rate

    @property
    def op(self) -> str:
        return f"{self.kind}_pool2d"

    @property
    def geometry(self) -> PoolGeometry:
        OH = output_size(self.H, self.kernel, self.stride, self.padding)
        OW = output_size(self.W, self.kernel, self.stride, self.padding)
        pair = lambda v: (v, v)  # noqa: E731
        return PoolGeometry(self.N, self.C, self.H, self.W, pair(self.kernel), OH, OW,
                            pair(self.stride), pair(self.padding))

    def work(self, direction: str, itemsize: int) -> float:
        """Bytes one call must move: forward reads x and writes y; backward reads dy
        (and x, for max) and writes dx."""
        g = self.geometry
        x, y = np.prod(g.input_shape), np.prod(g.output_shape)
        if direction == "forward":
            return float(x + y) * itemsize
        return float(y + x + (x if self.kind == "max" else 0)) * itemsize


CONV_CASES = [
    ConvCase("lenet_c1", 64, 1, 32, 32, 6, 5, 5, 1, 0),
    ConvCase("lenet_c2", 64, 6, 14, 14, 16, 5, 5, 1, 0),
    ConvCase("mnist_c2", 50, 16, 14, 14, 32, 5, 5, 1, 2),
    ConvCase("keras_c2", 128, 32, 13, 13, 64, 3, 3, 1, 0),
    ConvCase("resnet_3x3", 8, 64, 56, 56, 64, 3, 3, 1, 1),
    ConvCase("resnet_s2", 8, 64, 56, 56, 128, 3, 3, 2, 1),
    ConvCase("pointwise_1x1", 8, 256, 28, 28, 64, 1, 1, 1, 0),
]
POOL_CASES = [
    PoolCase("max2_64x16x28x28", "max", 64, 16, 28, 28, 2, 2, 0),
    PoolCase("max3s2_8x64x112x112", "max", 8, 64, 112, 112, 3, 2, 1),
    PoolCase("avg2_64x6x28x28", "avg", 64, 6, 28, 28, 2, 2, 0),
]
CASES = CONV_CASES + POOL_CASES
#: The naive loops take seconds per call: they run only on these (LeNet-sized) cases.
NAIVE_CASES = ("lenet_c1", "lenet_c2", "avg2_64x6x28x28")


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def peers() -> list[str]:
    """Every available fastconv kernel spec, then "torch" when it is installed."""
    specs = [kernel.spec for kernel in available_kernels()]
    return specs + ([TORCH] if torch_available() else [])


def runs_on(peer: str, case) -> bool:
    """Whether ``peer`` is benchmarked on ``case``: the naive loops only on small cases,
    and pooling (which has no algorithms) once per backend, under its first spec."""
    if peer.startswith("naive") and case.name not in NAIVE_CASES:
        return False
    if isinstance(case, PoolCase) and peer != TORCH:
        backend = peer.partition(":")[0]
        return peer == next(p for p in peers() if p.partition(":")[0] == backend)
    return True


def _arrays(case, dtype, seed):
    rng = np.random.default_rng(seed)
    g = case.geometry
    arrays = {"x": rng.standard_normal(g.input_shape).astype(dtype),
              "dy": rng.standard_normal(g.output_shape).astype(dtype)}
    if isinstance(case, ConvCase):
        arrays["w"] = rng.standard_normal(g.weight_shape).astype(dtype)
        arrays["b"] = rng.standard_normal(g.K).astype(dtype)
    return arrays


def make_call(case, peer: str, direction: str, dtype=np.float32, seed: int = 0):
    """A function of no arguments that runs ``case`` once on ``peer``."""
    a = _arrays(case, dtype, seed)
    if peer == TORCH:
        return _torch_call(case, direction, a)
    x, dy = a["x"], a["dy"]
    if isinstance(case, ConvCase):
        w, b, s, p = a["w"], a["b"], case.stride, case.padding
        if direction == "forward":
            return lambda: F.conv2d(x, w, b, s, p, backend=peer)
        return lambda: F.conv2d_backward(dy, x, w, s, p, backend=peer)
    forward = getattr(F, case.op)
    backward = getattr(F, f"{case.op}_backward")
    k, s, p = case.kernel, case.stride, case.padding
    if direction == "forward":
        return lambda: forward(x, k, s, p, backend=peer)
    return lambda: backward(dy, x, k, s, p, backend=peer)


def _torch_call(case, direction, a):
    """The same op through PyTorch's functional API (and the backward ops autograd runs)."""
    import torch
    import torch.nn.functional as TF

    t = {name: torch.from_numpy(v) for name, v in a.items()}
    x, dy = t["x"], t["dy"]
    aten = torch.ops.aten
    if isinstance(case, ConvCase):
        w, b, s, p = t["w"], t["b"], case.stride, case.padding
        if direction == "forward":
            return lambda: TF.conv2d(x, w, b, s, p)
        return lambda: aten.convolution_backward(
            dy, x, w, [case.K], [s, s], [p, p], [1, 1], False, [0, 0], 1, [True, True, True])
    k, s, p = case.kernel, case.stride, case.padding
    if case.kind == "max":
        if direction == "forward":
            return lambda: TF.max_pool2d(x, k, s, p)
        _, indices = TF.max_pool2d(x, k, s, p, return_indices=True)
        return lambda: aten.max_pool2d_with_indices_backward(
            dy, x, [k, k], [s, s], [p, p], [1, 1], False, indices)
    if direction == "forward":
        return lambda: TF.avg_pool2d(x, k, s, p)
    return lambda: aten.avg_pool2d_backward(dy, x, [k, k], [s, s], [p, p], False, True, None)


@contextlib.contextmanager
def threads(count: int):
    """Run Numba, BLAS (via threadpoolctl, when installed) and PyTorch on ``count`` threads."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(count)
    torch = None
    if torch_available():
        import torch

        torch_before = torch.get_num_threads()
        torch.set_num_threads(count)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(count)
    try:
        with limits:
            yield
    finally:
        numba.set_num_threads(before)
        if torch is not None:
            torch.set_num_threads(torch_before)


class Timing(NamedTuple):
    first_call_s: float  # the warm-up call: includes compilation on a cold cache
    median_s: float
    samples: int


def measure(calls: dict, rounds: int = 15, min_sample_s: float = 2e-3,
            max_seconds: float = 3.0) -> dict[str, Timing]:
    """Time each function of ``calls`` (name -> callable), alternating between them.

    Each is called once untimed (compilation, caches, page faults), then every round
    times one sample of each function in turn, so all of them see the same machine
    load. A sample repeats a fast call until it lasts ``min_sample_s``. Slow functions
    stop early once they have used ``max_seconds``.
    """
    first, repeats = {}, {}
    for name, call in calls.items():
        start = time.perf_counter()
        call()
        first[name] = time.perf_counter() - start
        start = time.perf_counter()
        call()
        repeats[name] = max(1, int(min_sample_s / max(time.perf_counter() - start, 1e-9)))
    samples = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            if sum(samples[name]) * repeats[name] > max_seconds:
                continue
            start = time.perf_counter()
            for _ in range(repeats[name]):
                call()
            samples[name].append((time.perf_counter() - start) / repeats[name])
    return {name: Timing(first[name], statistics.median(samples[name]), len(samples[name]))
            for name in calls}


def matmul_gflops(size: int = 2048, rounds: int = 5) -> float:
    """The machine's float32 GEMM rate through ``np.matmul`` (size x size), in GFLOP/s."""
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    timing = measure({"matmul": lambda: a @ a}, rounds=rounds)["matmul"]
    return 2 * size**3 / timing.median_s / 1e9


class Row(NamedTuple):
    op: str
    case: str
    direction: str
    peer: str
    median_ms: float
    rate: float  # GFLOP/s (conv2d) or GB/s (pooling)
    unit: str
    vs_numpy: float | None
    vs_torch: float | None
    first_call_s: float


def compare(case, direction: str, peer_list: list[str], rounds: int = 15,
            dtype=np.float32) -> tuple[list[Row], dict[str, str]]:
    """Time ``case`` on every peer of ``peer_list`` that runs it, alternately.

    Returns one Row per peer, and the error message of each peer that failed.
    """
    calls, failed = {}, {}
    for peer in peer_list:
        if runs_on(peer, case):
            try:
                calls[peer] = make_call(case, peer, direction, dtype)
                calls[peer]()
            except Exception as exc:  # a broken peer must not hide the others' numbers
                failed[peer] = f"{type(exc).__name__}: {exc}"
                calls.pop(peer, None)
    timings = measure(calls, rounds)
    itemsize = np.dtype(dtype).itemsize
    ratio = lambda t, ref: t / timings[ref].median_s if ref in timings else None  # noqa: E731
    rows = [Row(case.op, case.name, direction, peer, t.median_s * 1e3,
                case.rate(direction, t.median_s, itemsize), case.unit,
                ratio(t.median_s, REFERENCE), ratio(t.median_s, TORCH), t.first_call_s)
            for peer, t in timings.items()]
    return rows, failed


HEADER = (f"{'op':<11} {'case':<20} {'dir':<4} {'backend:algorithm':<17} {'median ms':>10} "
          f"{'rate':>8} {'unit':<7} {'x numpy':>8} {'x torch':>8} {'1st call s':>10}")


def format_row(r: Row) -> str:
    """One line of the table under :data:`HEADER`."""
    fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    return (f"{r.op:<11} {r.case:<20} {r.direction[:3]:<4} {r.peer:<17} "
            f"{r.median_ms:>10.3f} {r.rate:>8.1f} {r.unit:<7} {fmt(r.vs_numpy):>8} "
            f"{fmt(r.vs_torch):>8} {r.first_call_s:>10.3f}")


def report(thread_counts=(2, 1), cases=CASES, rounds: int = 15, peer_list=None):
    """The comparison table per thread count, line by line (a generator, to print as it goes).

    Each table starts with the machine's float32 GEMM rate, measured under the same
    thread count; peers that fail are listed with their error instead of a time.
    """
    peer_list = peers() if peer_list is None else peer_list
    for count in thread_counts:
        with threads(count):
            yield f"\nthreads: {count}   np.matmul 2048x2048 float32: {matmul_gflops():.1f} GFLOP/s"
            yield HEADER
            yield "-" * len(HEADER)
            for case in cases:
                for direction in DIRECTIONS:
                    rows, failed = compare(case, direction, peer_list, rounds)
                    yield from (format_row(row) for row in rows)
                    yield from (f"{case.op:<11} {case.name:<20} {direction[:3]:<4} {peer:<17} "
                                f"failed: {error}" for peer, error in failed.items())
