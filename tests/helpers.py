"""Shared test helpers: random configurations, kernel lists and comparisons."""
from __future__ import annotations

import os

import numpy as np

from fastconv.backends import available_backends, available_kernels
from fastconv.shapes import output_size

KERNELS = available_kernels()
ACCELERATED = [k for k in KERNELS if k.backend != "naive"]
SIMULATED_CUDA = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

# Backends that layer and model tests run on. Training even a tiny model on the simulated
# GPU (~250 us per thread) takes many minutes; there the cuda kernels are proven op by op
# (tests/test_kernels.py, tests/test_gradcheck.py, tests/test_cuda.py) instead.
MODEL_BACKENDS = [b for b in available_backends() if not (b == "cuda" and SIMULATED_CUDA)]

# float32 kernels sum in different orders (GEMM blocking, SIMD, fastmath), so they agree
# with the naive loops to a few ulps of the magnitude of the terms, not bit for bit.
TOLERANCE = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def case_count(kernel, full: int) -> int:
    """How many random cases a kernel gets: the simulated GPU runs ~250 us per thread."""
    return 4 if kernel.backend == "cuda" and SIMULATED_CUDA else full


def assert_close(actual, expected, dtype, what=""):
    actual = np.asarray(actual)
    assert actual.dtype == np.dtype(dtype), f"{what}: dtype {actual.dtype}, expected {np.dtype(dtype)}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOLERANCE[np.dtype(dtype).type])


def random_conv_case(rng: np.random.Generator, max_size: int = 9):
    """A random valid conv2d configuration: odd sizes, non-square kernels, stride, padding, dilation."""
    while True:
        N, C, K = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
        H, W = rng.integers(1, max_size + 1, size=2)
        R, S = rng.integers(1, 5, size=2)
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
        oh = output_size(H, R, stride[0], padding[0], dilation[0])
        ow = output_size(W, S, stride[1], padding[1], dilation[1])
        if oh >= 1 and ow >= 1:
            return dict(
                x_shape=(int(N), int(C), int(H), int(W)),
                w_shape=(int(K), int(C), int(R), int(S)),
                stride=stride,
                padding=padding,
                dilation=dilation,
            )


def random_pool_case(rng: np.random.Generator, max_size: int = 9):
    """A random valid pooling configuration, padding at most half the kernel."""
    while True:
        N, C = rng.integers(1, 4), rng.integers(1, 4)
        H, W = rng.integers(1, max_size + 1, size=2)
        kernel = tuple(int(v) for v in rng.integers(1, 5, size=2))
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        oh = output_size(H, kernel[0], stride[0], padding[0])
        ow = output_size(W, kernel[1], stride[1], padding[1])
        if oh >= 1 and ow >= 1:
            return dict(
                x_shape=(int(N), int(C), int(H), int(W)),
                kernel=kernel,
                stride=stride,
                padding=padding,
            )
