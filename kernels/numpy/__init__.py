"""The NumPy backend: whole-array operations instead of Python loops.

conv2d is rewritten as one matrix product (im2col + GEMM, which NumPy hands to BLAS),
pooling as reductions over a strided view of all windows at once.
"""
from .conv import conv2d_backward, conv2d_forward  # noqa: F401 (the backend contract)
from .pool import (  # noqa: F401 (the backend contract)
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward_indices,
    max_pool2d_forward,
    max_pool2d_forward_indices,
)

ALGORITHMS = ("im2col",)

