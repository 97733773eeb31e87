"""The NumPy backend: whole-array operations instead of Python loops.

conv2d is rewritten as one matrix product (im2col + GEMM, which NumPy hands to BLAS),
pooling as reductions over a strided view of all windows at once.
"""
from .conv import conv2d_backward, conv2d_forward
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward

ALGORITHMS = ("im2col",)

__all__ = [
    "ALGORITHMS",
    "conv2d_forward",
    "conv2d_backward",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
]
