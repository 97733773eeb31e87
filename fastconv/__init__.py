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
