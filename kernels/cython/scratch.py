"""Work buffers that live across calls, one set per thread.

A fresh buffer of tens of megabytes costs a page fault per 4 KiB page on first touch,
often more than the GEMM that reads it. The column matrix of im2col is only scratch
(never returned), so each thread keeps one buffer per (purpose, dtype) and grows it
when a larger call comes. Returned arrays never come from here.
"""
import math
import threading

import numpy as np

_local = threading.local()


def scratch(purpose: str, shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape``, reused by the next call for ``purpose``."""
    buffers = _local.__dict__.setdefault("buffers", {})
    key = (purpose, np.dtype(dtype))
    size = math.prod(shape)
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)
