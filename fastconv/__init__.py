"""fastconv: a convolutional-network engine to learn from, with kernels that are fast.

Every convolution and pooling op exists as a naive loop (the ground truth) and as
accelerated kernels (NumPy im2col, Numba, Cython, CUDA) behind one NumPy API::

    import fastconv.functional as F
    y = F.conv2d(x, w, b, stride=1, padding=1, backend="numpy")
"""
import os

# The OpenMP threads of the Numba and Cython kernels spin after each parallel loop by
# default, taking the cores from the BLAS threads of the matrix products that follow
# (numba:im2col ran 2x slower on 2 cores): let them sleep instead, unless told otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
