"""Validate every cuda kernel version on real shapes, then time it against PyTorch/cuDNN.

One command on a GPU machine (a few minutes)::

    python benchmarks/gpu_check.py

For every conv2d version (forward and backward) and both pooling ops it checks the
float32 result against the NumPy backend (computed in float64), times the kernel
(median of several runs after a warm-up that includes compilation, reported apart),
and times PyTorch on the same GPU when torch is installed, with TF32 off so both sides
do true float32 arithmetic. It prints one table and the card's name, and exits 1 if a
result is wrong. Then it times one LeNet-5 training epoch (10,000 random 32x32 digits,
batch 64, SGD) three ways: fastconv on the GPU (``model.to("cuda")``), PyTorch on the
same GPU, and fastconv's ``auto`` on the CPU.

``--tiny`` runs the same code on tiny shapes under the Numba CUDA simulator (it sets
``NUMBA_ENABLE_CUDASIM=1`` unless that is already set), to prove the script works.
"""
from __future__ import annotations

import os
import sys

if "--tiny" in sys.argv[1:]:  # the simulator must be switched on before Numba is imported
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
from numba import cuda  # noqa: E402
from numba.core.errors import NumbaPerformanceWarning  # noqa: E402

import fastconv  # noqa: E402
import fastconv.functional as F  # noqa: E402
from fastconv.kernels import cuda as gpu  # noqa: E402
from fastconv import nn  # noqa: E402
from fastconv.models import lenet5  # noqa: E402
from fastconv.optim import SGD  # noqa: E402
from fastconv.shapes import conv2d_geometry, pool2d_geometry  # noqa: E402
from fastconv.torch_models import to_torch  # noqa: E402
from fastconv.training import fit  # noqa: E402


class ConvCase(NamedTuple):
    name: str
    x_shape: tuple
    w_shape: tuple
    stride: int = 1
    padding: int = 0
    dilation: int = 1


class PoolCase(NamedTuple):
    name: str
    x_shape: tuple
    kernel: int
    stride: int
    padding: int = 0


CONV_CASES = [
    ConvCase("resnet 3x3", (64, 64, 56, 56), (64, 64, 3, 3), padding=1),
    ConvCase("resnet stem 7x7/2", (32, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3),
    ConvCase("lenet conv1", (64, 1, 28, 28), (6, 1, 5, 5), padding=2),
    ConvCase("lenet conv2", (64, 6, 14, 14), (16, 6, 5, 5)),
    ConvCase("dilated 3x3", (16, 32, 28, 28), (32, 32, 3, 3), padding=2, dilation=2),
]
POOL_CASES = [
    PoolCase("2x2/2", (64, 64, 56, 56), 2, 2),
    PoolCase("3x3/2 pad 1", (32, 64, 112, 112), 3, 2, 1),
]
TINY_CONV_CASES = [
    ConvCase("tiny 3x3", (2, 2, 6, 5), (3, 2, 3, 3), padding=1),
    ConvCase("tiny strided", (1, 2, 7, 7), (2, 2, 2, 3), stride=2, padding=1, dilation=(1, 2)),
]
TINY_POOL_CASES = [PoolCase("tiny 3x3/2 pad 1", (1, 2, 7, 6), 3, 2, 1)]
RTOL = 1e-4  # float32 against float64: max |error| / max |reference|


class Row(NamedTuple):
    kernel: str
    case: str
    ms: float
    gflops: float | None
    torch_ms: float | None
    error: float
    compile_s: float


def median_ms(fn, repeat, synchronize):
    """Median wall time of ``fn()`` in milliseconds, synchronising the device around it."""
    times = []
    for _ in range(repeat):
        synchronize()
        start = time.perf_counter()
        fn()
        synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def relative_error(got, expected):
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    return float(np.max(np.abs(np.asarray(got, dtype=np.float64) - expected))) / scale


class Torch:
    """PyTorch on the same GPU, float32 with TF32 off; ``None`` timings when unavailable."""

    def __init__(self, enabled):
        self.torch = None
        if not enabled:
            return
        try:
            import torch
        except ImportError:
            return
        if torch.cuda.is_available():
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.benchmark = True
            self.torch = torch

    def tensors(self, *arrays):
        return [self.torch.from_numpy(a).cuda().requires_grad_() for a in arrays]

    def conv(self, x, w, b, dy, case, repeat):
        if self.torch is None:
            return None, None
        F = self.torch.nn.functional
        x, w, b = self.tensors(x, w, b)
        dy = self.torch.from_numpy(dy).cuda()
        sync = self.torch.cuda.synchronize
        run = lambda: F.conv2d(x, w, b, case.stride, case.padding, case.dilation)
        y = run()
        grads = lambda: self.torch.autograd.grad(y, (x, w, b), dy, retain_graph=True)
        grads()
        return median_ms(run, repeat, sync), median_ms(grads, repeat, sync)

    def pool(self, kind, x, dy, case, repeat):
        if self.torch is None:
            return None, None
        op = getattr(self.torch.nn.functional, f"{kind}_pool2d")
        (x,) = self.tensors(x)
        dy = self.torch.from_numpy(dy).cuda()
        sync = self.torch.cuda.synchronize
        run = lambda: op(x, case.kernel, case.stride, case.padding)
        y = run()
        grads = lambda: self.torch.autograd.grad(y, (x,), dy, retain_graph=True)
        grads()
        return median_ms(run, repeat, sync), median_ms(grads, repeat, sync)


def timed(fn, repeat, synchronize):
    """(first call's seconds, which includes compilation; median ms of the next calls; result)."""
    start = time.perf_counter()
    result = fn()
    synchronize()
    compile_s = time.perf_counter() - start
    return compile_s, median_ms(fn, repeat, synchronize), result


def check_conv(case, rng, torch, repeat):
    x = rng.standard_normal(case.x_shape).astype(np.float32)
    w = (rng.standard_normal(case.w_shape) / np.sqrt(np.prod(case.w_shape[1:]))).astype(np.float32)
    b = rng.standard_normal(case.w_shape[0]).astype(np.float32)
    args = (case.stride, case.padding, case.dilation)
    g = conv2d_geometry(x, w, b, *args)
    dy = rng.standard_normal(g.output_shape).astype(np.float32)
    f64 = [a.astype(np.float64) for a in (x, w, b, dy)]
    y_ref = F.conv2d(*f64[:3], *args, backend="numpy")
    grads_ref = F.conv2d_backward(f64[3], f64[0], f64[1], *args, backend="numpy")
    xd, wd, bd, dyd = (cuda.to_device(a) for a in (x, w, b, dy))
    pairs = (g.stride, g.padding, g.dilation)
    torch_fwd, torch_bwd = torch.conv(x, w, b, dy, case, repeat)
    rows = []
    for algorithm in gpu.ALGORITHMS:
        forward = lambda: gpu.conv2d_forward(xd, wd, bd, *pairs, algorithm=algorithm)
        backward = lambda: gpu.conv2d_backward(dyd, xd, wd, *pairs, algorithm=algorithm)
        c_fwd, ms_fwd, y = timed(forward, repeat, cuda.synchronize)
        c_bwd, ms_bwd, grads = timed(backward, repeat, cuda.synchronize)
        err_fwd = relative_error(y.copy_to_host(), y_ref)
        err_bwd = max(relative_error(d.copy_to_host(), r) for d, r in zip(grads, grads_ref))
        rows.append(Row(f"conv2d {algorithm}", case.name, ms_fwd, g.flops / ms_fwd / 1e6,
                        torch_fwd, err_fwd, c_fwd))
        rows.append(Row(f"conv2d {algorithm} bwd", case.name, ms_bwd, 2 * g.flops / ms_bwd / 1e6,
                        torch_bwd, err_bwd, c_bwd))
    return rows


def check_pool(case, rng, torch, repeat):
    x = rng.standard_normal(case.x_shape).astype(np.float32)
    g = pool2d_geometry(x, case.kernel, case.stride, case.padding)
    dy = rng.standard_normal(g.output_shape).astype(np.float32)
    xd, dyd = cuda.to_device(x), cuda.to_device(dy)
    pairs = (g.kernel, g.stride, g.padding)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    rows = []
    for kind in ("max", "avg"):
        y_ref = getattr(F, f"{kind}_pool2d")(x64, *pairs, backend="numpy")
        dx_ref = getattr(F, f"{kind}_pool2d_backward")(dy64, x64, *pairs, backend="numpy")
        forward = lambda: getattr(F, f"{kind}_pool2d")(xd, *pairs, backend="cuda")
        if kind == "max":  # from the indices forward kept, as in training and as torch's
            _, indices = F.max_pool2d(xd, *pairs, return_indices=True, backend="cuda")
            backward = lambda: F.max_pool2d_backward(dyd, xd, *pairs, indices=indices, backend="cuda")
        else:
            backward = lambda: F.avg_pool2d_backward(dyd, xd, *pairs, backend="cuda")
        c_fwd, ms_fwd, y = timed(forward, repeat, cuda.synchronize)
        c_bwd, ms_bwd, dx = timed(backward, repeat, cuda.synchronize)
        torch_fwd, torch_bwd = torch.pool(kind, x, dy, case, repeat)
        err_fwd, err_bwd = relative_error(y.copy_to_host(), y_ref), relative_error(dx.copy_to_host(), dx_ref)
        rows.append(Row(f"{kind}_pool2d", case.name, ms_fwd, None, torch_fwd, err_fwd, c_fwd))
        rows.append(Row(f"{kind}_pool2d bwd", case.name, ms_bwd, None, torch_bwd, err_bwd, c_bwd))
    return rows


def tiny_model():
    """What stands in for LeNet-5 on the simulator: one of each layer, on 6x6 images."""
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 10))


def fastconv_epoch_s(make_model, backend, x, y, batch_size):
    """Seconds of one training epoch of ``make_model()`` on ``backend``, after a warm-up
    batch (compilation, ``auto``'s tuning) that is not counted."""
    model = make_model().to(backend)
    train = dict(epochs=1, batch_size=batch_size, progress=False)
    fit(model, x[:batch_size], y[:batch_size], optimizer=SGD(model.parameters(), lr=0.01), **train)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    cuda.synchronize()
    start = time.perf_counter()
    fit(model, x, y, optimizer=optimizer, **train)
    cuda.synchronize()
    return time.perf_counter() - start


def torch_epoch_s(torch, make_model, x, y, batch_size):
    """The same epoch in PyTorch on the GPU: the same model and weights, SGD and one
    loss.item() per batch."""
    if torch is None:
        return None
    model = to_torch(make_model()).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def epoch(count):
        for i in range(0, count, batch_size):
            xb, yb = x[i:i + batch_size].cuda(), y[i:i + batch_size].cuda()
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            loss.item()

    epoch(batch_size)  # warm-up: cuDNN's algorithm search
    torch.cuda.synchronize()
    start = time.perf_counter()
    epoch(len(x))
    torch.cuda.synchronize()
    return time.perf_counter() - start


def lenet_epochs(torch, tiny):
    """One LeNet-5 epoch on the GPU (fastconv and PyTorch) and on the CPU (fastconv auto);
    with ``tiny``, a tiny model on the simulator instead, to prove the path runs."""
    samples, batch_size, size, make_model = (4, 2, 6, tiny_model) if tiny else (10_000, 64, 32, lenet5)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((samples, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 10, samples)
    gpu_s = fastconv_epoch_s(make_model, "cuda", x, y, batch_size)
    torch_s = torch_epoch_s(torch.torch, make_model, x, y, batch_size)
    cpu_s = fastconv_epoch_s(make_model, "numpy" if tiny else "auto", x, y, batch_size)
    name = "a tiny stand-in for LeNet-5" if tiny else "LeNet-5"
    print(f"\n{name}, one epoch of {samples:,} digits, batch {batch_size}, SGD momentum 0.9:")
    print(f"  fastconv on the GPU  {gpu_s:8.2f} s")
    if torch_s is not None:
        print(f"  PyTorch on the GPU   {torch_s:8.2f} s   (fastconv / PyTorch: {gpu_s / torch_s:.2f})")
    print(f"  fastconv on the CPU  {cpu_s:8.2f} s   (GPU speed-up: {cpu_s / gpu_s:.1f}x)")


def card_name():
    name = getattr(cuda.current_context().device, "name", "CUDA simulator")
    return name.decode() if isinstance(name, bytes) else name


def print_table(rows):
    header = (f"{'kernel':<24} {'shape':<18} {'ms':>9} {'GFLOP/s':>9} {'torch ms':>9} {'vs torch':>8} "
              f"{'rel err':>8} {'compile s':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        gflops = f"{r.gflops:9.0f}" if r.gflops is not None else f"{'-':>9}"
        torch_ms = f"{r.torch_ms:9.3f}" if r.torch_ms is not None else f"{'-':>9}"
        ratio = f"{r.torch_ms / r.ms:8.2f}" if r.torch_ms is not None else f"{'-':>8}"
        print(f"{r.kernel:<24} {r.case:<18} {r.ms:9.3f} {gflops} {torch_ms} {ratio} {r.error:8.1e} "
              f"{r.compile_s:9.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny shapes on the CUDA simulator")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed runs per kernel (default 10; 1 with --tiny)")
    options = parser.parse_args(argv)
    warnings.simplefilter("ignore", NumbaPerformanceWarning)  # small grids of the tiny shapes
    if "cuda" not in fastconv.available_backends():
        print(f"cuda backend unavailable: {fastconv.unavailable_backends()['cuda']}")
        return 1
    tiny = options.tiny
    repeat = options.repeat or (1 if tiny else 10)
    conv_cases, pool_cases = (TINY_CONV_CASES, TINY_POOL_CASES) if tiny else (CONV_CASES, POOL_CASES)
    torch = Torch(enabled=not tiny)
    rng = np.random.default_rng(0)
    rows = [row for case in conv_cases for row in check_conv(case, rng, torch, repeat)]
    rows += [row for case in pool_cases for row in check_pool(case, rng, torch, repeat)]
    print(f"card: {card_name()}" + ("" if torch.torch else "  (no PyTorch on the GPU: no comparison)"))
    print("float32; GFLOP/s counts 2 FLOPs per multiply-add, backward = dx + dw (2x forward);")
    print("vs torch = torch ms / our ms: our throughput as a fraction of PyTorch's")
    print("(cuDNN for conv2d, TF32 off)\n")
    print_table(rows)
    wrong = [r for r in rows if not r.error <= RTOL]
    for r in wrong:
        print(f"WRONG: {r.kernel} on {r.case}: relative error {r.error:.1e} > {RTOL:.0e}")
    lenet_epochs(torch, tiny)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
