"""The numba backend: kernels written as Python loops, compiled by Numba, run in parallel.

conv2d has two algorithms, ``direct`` loops and ``im2col`` + GEMM (``numba:direct``,
``numba:im2col``); without a choice the backend picks the faster one per shape
(:func:`choose_algorithm`). Pooling is direct loops. All kernels compile once per
dtype and are cached on disk (see :mod:`.jit`); they run on ``numba.get_num_threads()``
threads.
"""
from .conv import ALGORITHMS, choose_algorithm, conv2d_backward, conv2d_forward  # noqa: F401
from .pool import (  # noqa: F401 (the backend contract)
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward_indices,
    max_pool2d_forward,
    max_pool2d_forward_indices,
)

#: max_pool2d_backward_indices checks in its scatter, at no cost, that each index lies
#: in its plane (and raises as :func:`fastconv.shapes.check_index_range`), so the caller
#: need not read the indices once more to check them.
CHECKS_INDEX_RANGE = True
