"""``fastconv tour``: write the guided tour of conv2d forward, from the naive loop to the
fastest kernel, with the lines that change at each step pulled from the kernels' source
and each step timed on this machine.

    fastconv tour --out docs/tour.md

CUDA steps are timed only on a real GPU (never on the simulator).
"""
from __future__ import annotations

import datetime
import importlib.util
import os
import platform
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

from .. import bench
from ..backends import available_kernels

HELP = "write the guided tour from naive loops to the fastest conv2d kernel, timed here (markdown)"

#: LeNet-5's second convolution on a batch of 64: small enough for the naive loops.
CASE = bench.ConvCase(name="LeNet-5's second layer on a batch of 64",
                      N=64, C=6, H=14, W=14, K=16, R=5, S=5, stride=1, padding=0)


class Step(NamedTuple):
    spec: str  # the kernel timed, backend:algorithm
    title: str
    module: str  # where the lines come from (a .pyx next to a compiled module of that name)
    lines: tuple  # (first, last) pairs: from the first line containing `first` to the next containing `last`
    why: str


STEPS = [
    Step("naive:loops", "The naive loop", "fastconv.kernels.naive.conv",
         (("for n in range(g.N):", "y[n, k] += b[k]"),),
         "The definition, one output pixel at a time: every one of the N*K*OH*OW outputs gathers "
         "its (C, R, S) window with slicing and sums the C*R*S products with `np.sum`. The arithmetic "
         "is tiny; the Python interpreter's microseconds per iteration are the whole cost."),
    Step("numpy:im2col", "NumPy: im2col + one matrix product", "fastconv.kernels.numpy.conv",
         (("def im2col(x, g):", "return view.transpose"),
          ("for start, stop in batch_chunks", "y[start:stop] = _from_matrix")),
         "Copy every window into a column of one (C*R*S, N*OH*OW) matrix (a strided view, then one "
         "copy), and the whole convolution becomes one matrix product with the filters as a "
         "(K, C*R*S) matrix. No Python loop is left per pixel, and BLAS runs the product with "
         "cache blocking and SIMD near the machine's peak."),
    Step("numba:direct", "Numba: one tap at a time over whole planes, in SIMD register tiles",
         "fastconv.kernels.numba.shifted",
         (("for t in range(taps.size):", "s30, s31, s32 = fma(first, v, s30)"),),
         "Back to loops, compiled by Numba. Each thread takes one image, its padded planes "
         "flattened one after the other (an image without padding already is, and is read in "
         "place); output (i, j) is computed at position i*Wp + j of a 'wide' row, so that every "
         "tap (c, r, s) of every output reads one contiguous run of the image: no window is "
         "copied. The loop over the C*R*S taps keeps 12 sums in vector registers, 4 filters x 3 "
         "vectors of positions (`load`, `splat` and `fma` from `simd.py`, a few lines of LLVM IR "
         "each, since Numba has no vector type): per tap 3 vector loads and 4 broadcast weights "
         "feed 12 fused multiply-adds, the recipe of a BLAS micro-kernel. The vectors start where "
         "outputs are used, skipping the columns past each row's end. Where rows still waste "
         "lanes (this layer's 10 outputs, or MNIST's 14, in 2 vectors of 8) and the filters fill "
         "whole vectors (16, 32 or more), `filter_lanes.py` puts the filters in the lanes instead "
         "and broadcasts the pixels, as it does for this layer: 6 positions x 2 vectors of 8 "
         "filters, the same 12 sums."),
    Step("numba:im2col", "Numba: compiled im2col + BLAS", "fastconv.kernels.numba.im2col",
         (("for chunk in _chunks(g):", "_images_from_columns(w2d @ col"),),
         "The NumPy recipe with its copies compiled and parallel: im2col writes each (image, tap) "
         "row of the column matrix in one thread, chunks of images keep that matrix a few MiB "
         "(in cache, pages reused), and BLAS does the arithmetic. The images sit side by side, "
         "so even LeNet's small 10x10 outputs make one wide product."),
    Step("cython:im2col", "Cython: im2col compiled ahead of time", "fastconv.kernels.cython._im2col",
         (("for plane in prange(N * C", "cols[row, n, out + j] = x[n, c, h, j * sw + left]"),),
         "The same im2col as typed C loops compiled at install (no JIT warm-up), without the GIL, "
         "one (image, channel) plane per OpenMP thread; the padding border is written as zeros "
         "instead of padding a copy of x. The product is again one BLAS call."),
    Step("cuda:v1_direct", "CUDA v1: one thread per output", "fastconv.kernels.cuda.conv_forward",
         (("index = cuda.grid(1)", "y[n, k, i, j] = acc + b[k]"),),
         "The naive loop body as a GPU kernel: all N*K*OH*OW outputs are computed at once by "
         "thousands of threads. Every thread still reads its whole window and filter from global "
         "memory, so it is bound by memory traffic, not arithmetic."),
    Step("cuda:v2_tiled", "CUDA v2: tiles in shared memory", "fastconv.kernels.cuda.conv_forward",
         (("for e in range(tid, patch_h * patch_w, threads):", "acc[f] += value * filters"),),
         "A block stages the input tile it needs (with its halo) and 8 filters in shared memory "
         "once per channel; each thread then accumulates its pixel for all 8 filters in "
         "registers. Each input value is fetched from global memory once per block instead of "
         "once per tap and filter."),
    Step("cuda:v3_im2col", "CUDA v3: im2col + tiled GEMM", "fastconv.kernels.cuda.conv_forward",
         (("def im2col_gemm(", "gemm.matmul("),),
         "im2col on the GPU writes every receptive field once, then a shared-memory tiled matrix "
         "product with 4x4 register blocking does all the arithmetic and writes straight into "
         "NCHW: the GPU's version of the BLAS recipe."),
]


def add_arguments(parser):
    parser.add_argument("--out", metavar="PATH", help="write the markdown here (default: standard output)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="CPU threads for Numba, BLAS and OpenMP (default: all cores)")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per kernel (default: 15)")


def source_file(module: str) -> Path:
    """The source of ``module``: its .py file, or the .pyx a compiled module was built from."""
    origin = Path(importlib.util.find_spec(module).origin)
    return origin if origin.suffix == ".py" else origin.parent / (module.rpartition(".")[2] + ".pyx")


def excerpt(step: Step) -> str:
    """The lines of ``step.module`` that ``step.lines`` names, pieces separated by "..."."""
    lines = source_file(step.module).read_text().splitlines()
    pieces = []
    for first, last in step.lines:
        try:
            start = next(i for i, line in enumerate(lines) if first in line)
            stop = next(i for i in range(start, len(lines)) if last in lines[i])
        except StopIteration:
            raise ValueError(f"{step.module} no longer has the lines {first!r} ... {last!r}") from None
        pieces.append(textwrap.dedent("\n".join(lines[start:stop + 1])))
    return "\n...\n".join(pieces)


def gpu_here() -> bool:
    """A real CUDA GPU runs the cuda backend (the simulator does not count)."""
    return any(k.backend == "cuda" for k in available_kernels()) and not numba.config.ENABLE_CUDASIM


def measure(steps, case, thread_count: int, rounds: int):
    """{spec: (median seconds, max |y - y_naive|)} for the steps that run here."""
    runnable = {f"{k.backend}:{k.algorithm}" for k in available_kernels()}
    specs = [s.spec for s in steps if s.spec in runnable and (not s.spec.startswith("cuda") or gpu_here())]
    calls = {spec: bench.make_call(case, spec, "forward") for spec in specs}
    with bench.threads(thread_count):
        outputs = {spec: call() for spec, call in calls.items()}  # also the warm-up (compilation)
        timings = bench.measure(calls, rounds)
    reference = outputs[steps[0].spec]
    return {spec: (timings[spec].median_s, float(np.abs(outputs[spec] - reference).max())) for spec in specs}


def machine(thread_count: int) -> str:
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = "none"
    if gpu_here():
        name = numba.cuda.get_current_device().name
        gpu = name.decode() if isinstance(name, bytes) else name
    return (f"{cpu}, {os.cpu_count()} logical CPUs ({thread_count} used); GPU: {gpu}; "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"NumPy {np.__version__}, Numba {numba.__version__}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f}" if seconds < 0.01 else f"{seconds * 1e3:,.1f}"


def render(steps, case, results: dict, description: str, date: str) -> str:
    """The tour as markdown, from measured results ({spec: (seconds, max difference)})."""
    g = case.geometry
    flops = g.flops
    naive = results.get(steps[0].spec, (None,))[0]
    out = [
        "# A tour of conv2d forward: from the naive loop to the fastest kernel",
        "",
        f"Generated by `fastconv tour --out docs/tour.md` on {date}.  ",
        f"Machine: {description}.",
        "",
        f"Every step computes the same convolution, {case.name}: "
        f"x ({g.N}, {g.C}, {g.H}, {g.W}), w ({g.K}, {g.C}, {g.R}, {g.S}), no padding, stride 1, "
        f"y ({g.N}, {g.K}, {g.OH}, {g.OW}): {flops / 1e6:.1f} MFLOP, float32. Each time is the "
        "median of repeated calls after a warm-up call (Numba compiles there); the kernels "
        "take turns, so they all see the same machine load. The difference is the largest "
        "|y - y_naive|: float32 sums in another order differ in the last bits.",
        "",
        "| step | kernel | time (ms) | GFLOP/s | x naive | x previous | max difference |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    previous = None
    for number, step in enumerate(steps, 1):
        if step.spec not in results:
            reason = "no GPU here" if step.spec.startswith("cuda") else "backend not available here"
            out.append(f"| {number}. {step.title} | `{step.spec}` | not measured: {reason} | | | | |")
            continue
        seconds, difference = results[step.spec]
        faster = lambda base: f"{base / seconds:,.1f}" if base else ""  # noqa: E731
        out.append(f"| {number}. {step.title} | `{step.spec}` | {_ms(seconds)} | {flops / seconds / 1e9:,.2f} "
                   f"| {faster(naive)} | {faster(previous)} | {difference:.1e} |")
        previous = seconds
    for number, step in enumerate(steps, 1):
        timing = (f"{_ms(results[step.spec][0])} ms" if step.spec in results
                  else "not measured: no GPU here" if step.spec.startswith("cuda") else "not measured here")
        out += [
            "",
            f"## {number}. {step.title} (`{step.spec}`, {timing})",
            "",
            step.why,
            "",
            f"From `{source_file(step.module).name}` (`{step.module}`):",
            "",
            "```" + ("cython" if source_file(step.module).suffix == ".pyx" else "python"),
            excerpt(step),
            "```",
        ]
    return "\n".join(out) + "\n"


def run(args) -> int:
    results = measure(STEPS, CASE, args.threads, args.rounds)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = render(STEPS, CASE, results, machine(args.threads), date)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(args.out)
    else:
        sys.stdout.write(text)
    return 0
