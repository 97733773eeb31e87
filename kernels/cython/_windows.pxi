# Window arithmetic shared by the kernels (included, not a module of its own).
import numpy as np


cdef Py_ssize_t[:, ::1] tap_ranges(Py_ssize_t S, Py_ssize_t dilation, Py_ssize_t stride,
                                   Py_ssize_t padding, Py_ssize_t W, Py_ssize_t OW):
    """For each kernel column s, the output columns [lo, hi) whose tap s reads inside x.

    Tap s of output column j reads input column ``j*stride - padding + s*dilation``,
    which must lie in [0, W). Operands of // are never negative, so C and Python
    division agree.
    """
    cdef Py_ssize_t[:, ::1] ranges = np.empty((S, 2), dtype=np.intp)
    cdef Py_ssize_t s, left, lo, hi
    for s in range(S):
        left = s * dilation - padding
        lo = 0 if left >= 0 else (stride - 1 - left) // stride
        hi = 0 if left >= W else (W - 1 - left) // stride + 1
        ranges[s, 0] = min(lo, OW)
        ranges[s, 1] = max(min(hi, OW), ranges[s, 0])
    return ranges
