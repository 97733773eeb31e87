"""The naive backend: explicit loops over every output element, written to be read.

This is the ground truth. Each function computes its formula directly, one output
(or one gradient contribution) at a time, and is never optimized.
"""
from .conv import conv2d_backward, conv2d_forward  # noqa: F401 (the backend contract)
from .pool import (  # noqa: F401 (the backend contract)
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward_indices,
    max_pool2d_forward,
    max_pool2d_forward_indices,
)

ALGORITHMS = ("loops",)

