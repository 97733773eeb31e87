"""Output allocation shared by every backend, with a poison switch for tests.

Kernels allocate the arrays they return through :func:`empty`. Normally that is
``np.empty``. Inside ``with poisoned():`` it returns arrays filled with NaN instead
(integer arrays, such as max pooling's indices, with their most negative value), so
a kernel that forgets to write (or to zero before accumulating into) an element
produces garbage there and fails its comparison with the naive kernel.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

_state = threading.local()


def is_poisoned() -> bool:
    return getattr(_state, "poisoned", False)


@contextlib.contextmanager
def poisoned():
    """Make :func:`empty` hand out NaN-filled arrays in this thread."""
    before = is_poisoned()
    _state.poisoned = True
    try:
        yield
    finally:
        _state.poisoned = before


def poison(dtype):
    """The value poisoned arrays of ``dtype`` are filled with: NaN, or the most negative integer."""
    dtype = np.dtype(dtype)
    return np.nan if dtype.kind == "f" else np.iinfo(dtype).min


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised output array (filled with :func:`poison` while poisoned)."""
    if is_poisoned():
        return np.full(shape, poison(dtype), dtype=dtype)
    return np.empty(shape, dtype=dtype)
