"""fastconv: a convolutional-network engine to learn from, with kernels that are fast.

Every convolution and pooling op exists as a naive loop (the ground truth) and as
accelerated kernels (NumPy im2col, Numba, Cython, CUDA) behind one NumPy API::

    import fastconv.functional as F
    y = F.conv2d(x, w, b, stride=1, padding=1, backend="numpy")
"""
import os

# The OpenMP threads of the Numba and Cython kernels wait for the next parallel loop by
# spinning on their core, then sleep. Left to spin for long, they took the cores from the
# BLAS threads of the products that follow (numba:im2col ran 2x slower on 2 cores); made
# to sleep at once, every kernel paid 35-60 us to wake them. So GNU OpenMP (read when it
# loads) spins 10000 rounds, 0.1-0.5 ms here: longer than a layer's Python between two
# kernels. PyTorch loads the same runtime (libgomp.so.1) and runs as fast with this as
# with its own defaults, while sleeping at once made its kernels up to 1.8x slower
# (LeNet's conv2, max-pool backward): a handicap in any comparison made in one process.
# An environment that says how OpenMP threads should wait decides instead.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
# OpenBLAS's threads, likewise, spin for 2**28 cycles (about 0.1 s) after each product,
# and so take a core from every kernel that runs within that time: a Numba kernel right
# after a numba:im2col product ran 2x slower on 2 cores (resnet_3x3 forward 19 ms
# instead of 10), and a LeNet-5 training step took 5.2 ms instead of 4.1-4.5. Let them
# sleep after 2**4 cycles. (Read when OpenBLAS loads: import fastconv before NumPy.)
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from .backends import (  # noqa: E402
    BackendUnavailable,
    available_backends,
    available_kernels,
    get_backend,
    set_backend,
    unavailable_backends,
    use_backend,
)

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "available_backends",
    "available_kernels",
    "get_backend",
    "set_backend",
    "unavailable_backends",
    "use_backend",
    "__version__",
]
