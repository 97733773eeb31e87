"""What every cuda kernel launcher shares: device memory in and out, output allocation,
launch sizes and one compiled kernel per float dtype.

Arrays arrive as NumPy arrays (copied to the device) or as device arrays (used in
place). An op returns NumPy arrays when any of its array inputs was a NumPy array and
device arrays otherwise, so a model that keeps its tensors on the GPU never copies.
"""
import functools

import numba
import numpy as np
from numba import cuda

from fastconv import buffers
from fastconv.shapes import is_device_array

THREADS_1D = 128  # threads per block of the one-thread-per-element kernels


def to_device(a):
    """A device view of ``a``: NumPy arrays are copied over, device arrays are kept."""
    if a is None:
        return None
    if not is_device_array(a):
        return cuda.to_device(np.ascontiguousarray(a))
    if not hasattr(a, "copy_to_host"):  # another library's GPU array: wrap, do not copy
        a = cuda.as_cuda_array(a)
    if not a.is_c_contiguous():
        raise ValueError(f"device arrays must be C-contiguous, got a strided view of shape {a.shape}")
    return a


def wants_host(*arrays) -> bool:
    """True when the caller passed at least one NumPy array: the results go back to the host."""
    return any(a is not None and not is_device_array(a) for a in arrays)


def deliver(host: bool, *outputs):
    """Copy results to the host if the caller works there; one array comes back bare."""
    if host:
        outputs = tuple(None if o is None else o.copy_to_host() for o in outputs)
    return outputs[0] if len(outputs) == 1 else outputs


def empty(shape, dtype):
    """An output array on the device, poisoned while :func:`fastconv.buffers.poisoned` is on."""
    if buffers.is_poisoned():
        return cuda.to_device(buffers.empty(shape, dtype))
    return cuda.device_array(shape, dtype=dtype)


def bias_or_zeros(b, K, dtype):
    """The bias vector on the device, or zeros, so kernels always add ``b[k]``."""
    return to_device(b) if b is not None else _zeros(K, np.dtype(dtype))


@functools.lru_cache(maxsize=64)
def _zeros(K, dtype):
    """A zero vector on the device, copied over once per length and dtype (kernels only read it)."""
    return cuda.to_device(np.zeros(K, dtype=dtype))


def grid_1d(size: int):
    """(blocks, threads) for one thread per element of ``size`` elements."""
    threads = max(1, min(THREADS_1D, size))
    return (size + threads - 1) // threads, threads


def launch(kernel, grid, block, *args, shared_bytes=0):
    """``kernel[grid, block](*args)``, skipped when the grid is empty (a zero-size batch)."""
    if min(grid if isinstance(grid, tuple) else (grid,)) > 0:
        kernel[grid, block, 0, shared_bytes](*args)


def per_dtype(factory):
    """Build a kernel once per float dtype.

    Shared and local arrays need their element type when the kernel compiles, and
    accumulating in the input's own type keeps float32 kernels in float32 arithmetic,
    so each kernel is written as ``factory(ftype)`` and built on first use.
    """
    build = functools.cache(lambda dtype: factory(numba.from_dtype(dtype)))
    return lambda dtype: build(np.dtype(dtype))
