"""The public functional API, with the names and semantics of ``torch.nn.functional``.

Every function validates its arguments once (:mod:`fastconv.shapes`), picks a backend
(``backend=`` if given, else the current default, see :mod:`fastconv.backends`), makes
NumPy inputs C-contiguous and calls the backend's kernel::

    y = conv2d(x, w, b=None, stride=1, padding=0, dilation=1, backend=None)
    dx, dw, db = conv2d_backward(dy, x, w, stride=1, padding=0, dilation=1, backend=None)
    y = max_pool2d(x, kernel_size, stride=None, padding=0, backend=None)
    dx = max_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, backend=None)
    y = avg_pool2d(x, kernel_size, stride=None, padding=0, backend=None)
    dx = avg_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, backend=None)

Arrays are NCHW, float32 or float64; outputs have the dtype of the inputs.
"""
from __future__ import annotations

import numpy as np

from .backends import get_backend, resolve
from .shapes import check_dy, check_same_dtype, conv2d_geometry, pool2d_geometry

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
]


def _backend_for(backend, *arrays):
    """Resolve the backend; GPU arrays under 'auto' go to the cuda backend."""
    spec = get_backend() if backend is None else backend
    if spec == "auto" and any(hasattr(a, "__cuda_array_interface__") for a in arrays):
        spec = "cuda"
    return resolve(spec)


def _contiguous(*arrays):
    """C-contiguous copies of NumPy arrays that are not; other arrays pass through."""
    return tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in arrays)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, *, backend=None):
    """2-D cross-correlation of x (N, C, H, W) with w (K, C, R, S), plus b (K,)."""
    g = conv2d_geometry(x, w, b, stride, padding, dilation)
    module, algorithm = _backend_for(backend, x, w, b)
    x, w, b = _contiguous(x, w, b)
    return module.conv2d_forward(x, w, b, g.stride, g.padding, g.dilation, algorithm=algorithm)


def conv2d_backward(dy, x, w, stride=1, padding=0, dilation=1, *, backend=None):
    """Gradients (dx, dw, db) of conv2d given dy = dL/dy; db is always returned."""
    g = conv2d_geometry(x, w, None, stride, padding, dilation)
    check_dy(dy, g.output_shape, "conv2d")
    check_same_dtype(dy=dy, x=x, w=w)
    module, algorithm = _backend_for(backend, dy, x, w)
    dy, x, w = _contiguous(dy, x, w)
    return module.conv2d_backward(dy, x, w, g.stride, g.padding, g.dilation, algorithm=algorithm)


def _pool(op, x, kernel_size, stride, padding, backend):
    g = pool2d_geometry(x, kernel_size, stride, padding)
    module, _ = _backend_for(backend, x)
    (x,) = _contiguous(x)
    return getattr(module, op)(x, g.kernel, g.stride, g.padding)


def _pool_backward(op, dy, x, kernel_size, stride, padding, backend):
    g = pool2d_geometry(x, kernel_size, stride, padding)
    check_dy(dy, g.output_shape, op.split("_backward")[0])
    check_same_dtype(dy=dy, x=x)
    module, _ = _backend_for(backend, dy, x)
    dy, x = _contiguous(dy, x)
    return getattr(module, op)(dy, x, g.kernel, g.stride, g.padding)


def max_pool2d(x, kernel_size, stride=None, padding=0, *, backend=None):
    """Maximum over each window; padding is -inf. ``stride=None`` means ``kernel_size``."""
    return _pool("max_pool2d_forward", x, kernel_size, stride, padding, backend)


def max_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, *, backend=None):
    """dx of max_pool2d: each dy goes to its window's (first) maximum."""
    return _pool_backward("max_pool2d_backward", dy, x, kernel_size, stride, padding, backend)


def avg_pool2d(x, kernel_size, stride=None, padding=0, *, backend=None):
    """Mean over each window, zero padding counted (``count_include_pad=True``)."""
    return _pool("avg_pool2d_forward", x, kernel_size, stride, padding, backend)


def avg_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, *, backend=None):
    """dx of avg_pool2d: each dy is shared equally by its window."""
    return _pool_backward("avg_pool2d_backward", dy, x, kernel_size, stride, padding, backend)
