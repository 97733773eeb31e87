"""Benchmark cases and measurements shared by ``fastconv bench`` and ``benchmarks/``.

A *case* is one layer shape (conv2d or pooling) or one LeNet-5 training step; a *peer*
is something that can run it: every available fastconv kernel (``"numba:direct"``,
``"numpy:im2col"``, ...), ``"auto"`` (the measured choice of :mod:`fastconv.autotune`)
and, when it is installed, ``"torch"`` (``torch.nn.functional`` on the same arrays, no
copy; for the training step, the same model in ``torch.nn``). :func:`make_call` turns
(case, peer, direction) into a function of no arguments; :func:`measure` times several
of them in turns in one process, after a warm-up call whose time (Numba's
compilation, ``auto``'s tuning) is reported separately. Max pooling's backward runs
from the indices its forward kept, on both sides, as in training.

Work per call, to turn times into rates: a conv2d forward does ``2*N*K*OH*OW*C*R*S``
FLOPs and its backward twice that (dx and dw; db is negligible); a training step does
three times the model's forward FLOPs. Pooling is memory bound, so it is rated by the
bytes it must read and write (and counted as one operation per window element, to place
it on a roofline). Rates are compared with two roofs measured in the same run: the
float32 GEMM rate of ``np.matmul`` and the copy bandwidth of ``np.copyto``.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from typing import NamedTuple

import numpy as np

import fastconv.functional as F
from fastconv.autotune import settle
from fastconv.backends import available_kernels, resolve
from fastconv.shapes import ConvGeometry, PoolGeometry, conv_geometry, pool_geometry

DIRECTIONS = ("forward", "backward")
NAIVE = "naive:loops"
REFERENCE = "numpy:im2col"
AUTO = "auto"
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
    directions = DIRECTIONS

    @property
    def geometry(self) -> ConvGeometry:
        return conv_geometry((self.N, self.C, self.H, self.W), (self.K, self.C, self.R, self.S),
                             self.stride, self.padding)

    def flops(self, direction: str) -> float:
        return float(self.geometry.flops * (1 if direction == "forward" else 2))

    def bytes(self, direction: str, itemsize: int = 4) -> float:
        """Forward reads x, w, b and writes y; backward reads dy, x, w and writes dx, dw, db."""
        g = self.geometry
        arrays = (g.input_shape, g.weight_shape, (g.K,), g.output_shape)
        factor = 1 if direction == "forward" else 2
        return float(factor * sum(np.prod(shape) for shape in arrays) * itemsize)

    def work(self, direction: str, itemsize: int = 4) -> float:
        """What the rate counts: FLOPs (GFLOP/s) or bytes (GB/s) of one call."""
        return self.flops(direction) if self.unit == "GFLOP/s" else self.bytes(direction, itemsize)

    def rate(self, direction: str, seconds: float, itemsize: int = 4) -> float:
        """GFLOP/s or GB/s of a call that took ``seconds``."""
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
    directions = DIRECTIONS
    work = ConvCase.work
    rate = ConvCase.rate

    @property
    def op(self) -> str:
        return f"{self.kind}_pool2d"

    @property
    def geometry(self) -> PoolGeometry:
        return pool_geometry((self.N, self.C, self.H, self.W), self.kernel, self.stride, self.padding)

    def flops(self, direction: str) -> float:
        return float(np.prod(self.geometry.output_shape) * self.kernel**2)

    def bytes(self, direction: str, itemsize: int = 4) -> float:
        """Forward reads x and writes y; backward reads dy (and x, for max) and writes dx."""
        g = self.geometry
        x, y = np.prod(g.input_shape), np.prod(g.output_shape)
        if direction == "forward":
            return float(x + y) * itemsize
        return float(y + x + (x if self.kind == "max" else 0)) * itemsize


class StepCase(NamedTuple):
    """One training step of LeNet-5: forward, cross-entropy, backward, SGD update."""

    name: str
    batch: int

    op = "lenet5_step"
    unit = "GFLOP/s"
    directions = ("step",)
    work = ConvCase.work
    rate = ConvCase.rate

    def model(self, peer: str | None = None):
        from fastconv.models import lenet5

        return lenet5(seed=0).to(peer)

    def flops(self, direction: str) -> float:
        return 3.0 * self.model().flops((self.batch, 1, 32, 32))

    def bytes(self, direction: str, itemsize: int = 4) -> float:
        """The batch, then every parameter read, its gradient written, and it updated."""
        return float(self.batch * 32 * 32 + 4 * self.model().parameter_count()) * itemsize


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
STEP_CASES = [StepCase("lenet5_b64", 64)]
CASES = CONV_CASES + POOL_CASES + STEP_CASES
#: The naive loops take seconds per call: they run only on these (LeNet-sized) cases.
NAIVE_CASES = ("lenet_c1", "lenet_c2", "avg2_64x6x28x28")
#: ``--quick``: one small and one large conv2d, both poolings, the training step.
QUICK_CASES = ("lenet_c2", "resnet_3x3", "max2_64x16x28x28", "avg2_64x6x28x28", "lenet5_b64")


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def peers() -> list[str]:
    """Every available fastconv kernel spec, "auto", then "torch" when it is installed."""
    specs = [kernel.spec for kernel in available_kernels()]
    return specs + [AUTO] + ([TORCH] if torch_available() else [])


def select_peers(wanted: list[str]) -> list[str]:
    """The peers named by ``wanted`` (a backend name stands for all its algorithms), in
    :func:`peers` order; a ValueError names what is unknown or unavailable here."""
    available = peers()
    for name in wanted:
        if name in available or any(p.partition(":")[0] == name for p in available):
            continue
        if name == TORCH:
            raise ValueError("torch is not installed")
        try:
            resolve(name)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(str(exc)) from None
        raise ValueError(f"backend {name!r} has nothing to benchmark here")
    return [p for p in available if p in wanted or p.partition(":")[0] in wanted]


def runs_on(peer: str, case) -> bool:
    """Whether ``peer`` is benchmarked on ``case``: the naive loops only on small cases,
    pooling and the training step (which have no algorithms) once per backend, under its
    first spec."""
    if peer.startswith("naive") and case.name not in NAIVE_CASES:
        return False
    if isinstance(case, (PoolCase, StepCase)) and ":" in peer:
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
    if isinstance(case, StepCase):
        return _step_call(case, peer, seed)
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
    if case.kind == "max":  # as in training (and for torch): from the indices forward kept
        _, indices = forward(x, k, s, p, return_indices=True, backend=peer)
        return lambda: backward(dy, x, k, s, p, indices=indices, backend=peer)
    return lambda: backward(dy, x, k, s, p, backend=peer)


def _step_call(case, peer, seed):
    from fastconv.losses import CrossEntropyLoss
    from fastconv.optim import SGD

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case.batch, 1, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, case.batch)
    if peer == TORCH:
        return _torch_step_call(case, x, labels)
    model = case.model(peer)
    loss, optimizer = CrossEntropyLoss(), SGD(model.parameters(), lr=0.01)

    def step():
        loss(model.forward(x), labels)
        model.backward(loss.backward(), input_grad=False)
        optimizer.step()

    return step


def _torch_step_call(case, x, labels):
    """The same step in PyTorch: the same model and weights
    (:func:`~fastconv.torch_models.to_torch`), loss and SGD. Autograd leaves out the
    gradient of the input, which nothing needs."""
    import torch

    from fastconv.torch_models import to_torch

    model = to_torch(case.model())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, labels = torch.from_numpy(x), torch.from_numpy(labels)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        optimizer.step()

    return step


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


def seconds(call) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


class Timing(NamedTuple):
    median_s: float
    samples: int


def measure(calls: dict, rounds: int = 15, min_sample_s: float = 2e-3,
            max_seconds: float = 3.0, turns: int = 3, settle_s: float = 0.2) -> dict[str, Timing]:
    """Time each function of ``calls`` (name -> callable), taking turns between them.

    Call each once before this (compilation, caches, page faults).
    The functions take ``turns`` turns each, in order, so that all of them see the same
    machine load; a turn is a run of ``rounds / turns`` samples, after ``settle_s`` of
    untimed calls of the same function (:func:`~fastconv.autotune.settle`, unless one
    call lasts that long), so that what ran before has left the cores. A sample
    repeats a fast call until it lasts ``min_sample_s`` (the call that sizes the samples
    counts as the first one). Slow functions stop early once they have used
    ``max_seconds``.
    """
    repeats, samples, first = {}, {}, {}
    for name, call in calls.items():
        first[name] = seconds(call)
        repeats[name] = max(1, int(min_sample_s / max(first[name], 1e-9)))
        samples[name] = [first[name]] if repeats[name] == 1 else []

    def done(name):
        return len(samples[name]) >= rounds or sum(samples[name]) * repeats[name] > max_seconds

    per_turn = -(-rounds // turns)
    for _ in range(turns):
        for name, call in calls.items():
            if not done(name) and first[name] < settle_s:
                settle(call, settle_s)
            for _ in range(per_turn):
                if done(name):
                    break
                start = time.perf_counter()
                for _ in range(repeats[name]):
                    call()
                samples[name].append((time.perf_counter() - start) / repeats[name])
    return {name: Timing(statistics.median(samples[name]), len(samples[name])) for name in calls}


class Roofs(NamedTuple):
    """This machine's ceilings, measured under the current thread count."""

    gemm_gflops: float  # float32 np.matmul
    copy_gbps: float  # np.copyto, bytes read plus bytes written

    def peak(self, unit: str) -> float:
        return self.gemm_gflops if unit == "GFLOP/s" else self.copy_gbps


def measure_roofs(matmul_size: int = 2048, copy_mib: int = 256, rounds: int = 5) -> Roofs:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((matmul_size, matmul_size)).astype(np.float32)
    src = np.ones(copy_mib * 2**18, dtype=np.float32)
    dst = np.empty_like(src)
    calls = {"gemm": lambda: a @ a, "copy": lambda: np.copyto(dst, src)}
    for call in calls.values():
        call()
    t = measure(calls, rounds=rounds)
    return Roofs(2 * matmul_size**3 / t["gemm"].median_s / 1e9,
                 2 * src.nbytes / t["copy"].median_s / 1e9)


class Row(NamedTuple):
    threads: int
    op: str
    shape: str
    direction: str
    peer: str
    median_ms: float
    rate: float  # GFLOP/s (conv2d, training step) or GB/s (pooling)
    unit: str
    pct_roof: float  # rate as a percentage of the GEMM rate (GFLOP/s) or copy bandwidth (GB/s)
    x_naive: float | None  # speed-ups: the reference's time over this peer's time
    x_numpy: float | None
    x_torch: float | None
    first_call_s: float
    flops: float
    bytes: float


class Failure(NamedTuple):
    threads: int
    op: str
    shape: str
    direction: str
    peer: str
    error: str


def compare(case, direction: str, peer_list: list[str], roofs: Roofs, thread_count: int,
            rounds: int = 15, max_seconds: float = 3.0,
            dtype=np.float32) -> tuple[list[Row], list[Failure]]:
    """Time ``case`` on every peer of ``peer_list`` that runs it, in turns.

    Returns one Row per peer, and one Failure per peer that raised.
    """
    calls, first, failed = {}, {}, []
    for peer in peer_list:
        if runs_on(peer, case):
            try:
                calls[peer] = make_call(case, peer, direction, dtype)
                first[peer] = seconds(calls[peer])
            except Exception as exc:  # a broken peer must not hide the others' numbers
                failed.append(Failure(thread_count, case.op, case.name, direction, peer,
                                      f"{type(exc).__name__}: {exc}"))
                calls.pop(peer, None)
    timings = measure(calls, rounds, max_seconds=max_seconds)
    itemsize = np.dtype(dtype).itemsize
    speedup = lambda ref, t: timings[ref].median_s / t if ref in timings else None  # noqa: E731
    rows = []
    for peer, t in timings.items():
        rate = case.rate(direction, t.median_s, itemsize)
        rows.append(Row(thread_count, case.op, case.name, direction, peer, t.median_s * 1e3,
                        rate, case.unit, 100 * rate / roofs.peak(case.unit),
                        speedup(NAIVE, t.median_s), speedup(REFERENCE, t.median_s),
                        speedup(TORCH, t.median_s), first[peer],
                        case.flops(direction), case.bytes(direction, itemsize)))
    return rows, failed


def run(cases, peer_list: list[str], thread_counts=(2,), rounds: int = 15,
        max_seconds: float = 3.0):
    """Measure every case and direction on every thread count: a generator of
    ``(thread count, roofs, rows, failures)``, one item per (thread count, case, direction)."""
    for count in thread_counts:
        with threads(count):
            roofs = measure_roofs()
            for case in cases:
                for direction in case.directions:
                    rows, failed = compare(case, direction, peer_list, roofs, count,
                                           rounds, max_seconds)
                    yield count, roofs, rows, failed


def tasks(cases, thread_counts) -> int:
    """How many items :func:`run` yields."""
    return len(thread_counts) * sum(len(case.directions) for case in cases)


HEADER = (f"{'thr':>3} {'op':<11} {'shape':<20} {'dir':<4} {'backend:algorithm':<17} "
          f"{'median ms':>10} {'rate':>8} {'unit':<7} {'% roof':>6} {'x naive':>8} "
          f"{'x numpy':>8} {'x torch':>8} {'1st call s':>10}")


def _prefix(r) -> str:
    return f"{r.threads:>3} {r.op:<11} {r.shape:<20} {r.direction[:4]:<4} {r.peer:<17} "


def format_row(r: Row) -> str:
    """One line of the table under :data:`HEADER`."""
    fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    return (f"{_prefix(r)}{r.median_ms:>10.3f} {r.rate:>8.1f} {r.unit:<7} {r.pct_roof:>6.1f} "
            f"{fmt(r.x_naive):>8} {fmt(r.x_numpy):>8} {fmt(r.x_torch):>8} {r.first_call_s:>10.3f}")


def format_table(roofs: dict[int, Roofs], rows: list[Row], failures: list[Failure]) -> str:
    """The whole table: the roofs of each thread count, one line per row, then failures."""
    lines = [f"threads {count}: np.matmul float32 {r.gemm_gflops:.1f} GFLOP/s, "
             f"np.copyto {r.copy_gbps:.1f} GB/s" for count, r in roofs.items()]
    lines += ["% roof: of the GEMM rate (GFLOP/s rows) or the copy bandwidth (GB/s rows); "
              "x naive/numpy/torch: their time over this row's time (above 1: faster); "
              "1st call: compilation and tuning, never in the median", "",
              HEADER, "-" * len(HEADER)]
    lines += [format_row(r) for r in rows]
    lines += [f"{_prefix(f)}failed: {f.error}" for f in failures]
    return "\n".join(lines)


def plot_roofline(roofs: dict[int, Roofs], rows: list[Row], path) -> None:
    """A roofline chart of ``rows``: achieved GFLOP/s against FLOPs per byte, one marker
    per row, under each thread count's GEMM roof and copy-bandwidth slope."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    intensity = [r.flops / r.bytes for r in rows] or [1.0]
    xs = np.geomspace(min(intensity) / 2, max(intensity) * 2, 100)
    for count, roof in roofs.items():
        ax.plot(xs, np.minimum(roof.gemm_gflops, roof.copy_gbps * xs), "k-" if count == max(roofs) else "k:",
                label=f"roof, {count} threads: GEMM {roof.gemm_gflops:.0f} GFLOP/s, "
                      f"copy {roof.copy_gbps:.0f} GB/s")
    markers = {"forward": "o", "backward": "s", "step": "*"}
    colors = {peer: f"C{i}" for i, peer in enumerate(dict.fromkeys(r.peer for r in rows))}
    for peer, color in colors.items():
        for direction, marker in markers.items():
            mine = [r for r in rows if r.peer == peer and r.direction == direction]
            if mine:
                ax.scatter([r.flops / r.bytes for r in mine],
                           [r.flops / r.median_ms / 1e6 for r in mine],
                           color=color, marker=marker, label=f"{peer} {direction}")
    ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOPs / byte)",
           ylabel="achieved GFLOP/s", title="fastconv kernels on this machine")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
