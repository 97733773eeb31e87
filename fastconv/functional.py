"""The public functional API, with the names and semantics of ``torch.nn.functional``.

Every function validates its arguments once (:mod:`fastconv.shapes`), picks a backend
(``backend=`` if given, else the current default, see :mod:`fastconv.backends`), makes
NumPy inputs C-contiguous and calls the backend's kernel::

    y = conv2d(x, w, b=None, stride=1, padding=0, dilation=1, backend=None)
    dx, dw, db = conv2d_backward(dy, x, w, stride=1, padding=0, dilation=1, input_grad=True, backend=None)
    y = max_pool2d(x, kernel_size, stride=None, padding=0, backend=None)
    y, indices = max_pool2d(x, kernel_size, stride=None, padding=0, return_indices=True, backend=None)
    dx = max_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, indices=None, backend=None)
    y = avg_pool2d(x, kernel_size, stride=None, padding=0, backend=None)
    dx = avg_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, backend=None)

Arrays are NCHW, float32 or float64; outputs have the dtype of the inputs.
"""
from __future__ import annotations

import numpy as np

from . import autotune
from .backends import get_backend, resolve
from .shapes import (
    check_dy,
    check_index_range,
    check_indices,
    check_same_dtype,
    conv2d_geometry,
    is_device_array,
    pool2d_geometry,
)

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
]


def _run(op, backend, arrays, params, call):
    """Pick the backend spec and run ``call(spec)``.

    ``auto`` sends GPU arrays to the cuda backend and otherwise asks
    :mod:`fastconv.autotune` for the fastest kernel of this op and shape.
    """
    spec = get_backend() if backend is None else backend
    if spec == "auto" and any(is_device_array(a) for a in arrays):
        spec = "cuda"
    if spec == "auto":
        spec = autotune.choose(op, arrays, params, call)
    return call(spec)


def _contiguous(*arrays):
    """C-contiguous copies of NumPy arrays that are not; other arrays pass through."""
    return tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in arrays)


ALL = slice(None)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, *, backend=None):
    """2-D cross-correlation of x (N, C, H, W) with w (K, C, R, S), plus b (K,)."""
    g = conv2d_geometry(x, w, b, stride, padding, dilation)
    x, w, b = _contiguous(x, w, b)

    def call(spec, images=ALL):
        module, algorithm = resolve(spec)
        return module.conv2d_forward(x[images], w, b, g.stride, g.padding, g.dilation, algorithm=algorithm)

    return _run("conv2d", backend, (x, w, b), (g.stride, g.padding, g.dilation), call)


def conv2d_backward(dy, x, w, stride=1, padding=0, dilation=1, *, input_grad=True, backend=None):
    """Gradients (dx, dw, db) of conv2d given dy = dL/dy; db is always returned.

    ``input_grad=False`` skips dx, which comes back as None: no one needs the gradient
    of a network's input images, and computing it costs about as much as dw (PyTorch's
    autograd skips it too, for inputs that do not require grad).
    """
    g = conv2d_geometry(x, w, None, stride, padding, dilation)
    check_dy(dy, g.output_shape, "conv2d")
    check_same_dtype(dy=dy, x=x, w=w)
    dy, x, w = _contiguous(dy, x, w)

    def call(spec, images=ALL):
        module, algorithm = resolve(spec)
        return module.conv2d_backward(dy[images], x[images], w, g.stride, g.padding, g.dilation,
                                      algorithm=algorithm, input_grad=input_grad)

    op = "conv2d_backward" if input_grad else "conv2d_backward_weights"
    return _run(op, backend, (dy, x, w), (g.stride, g.padding, g.dilation), call)


def _pool(op, x, kernel_size, stride, padding, backend):
    g = pool2d_geometry(x, kernel_size, stride, padding)
    (x,) = _contiguous(x)

    def call(spec, images=ALL):
        return getattr(resolve(spec)[0], op)(x[images], g.kernel, g.stride, g.padding)

    return _run(op, backend, (x,), (g.kernel, g.stride, g.padding), call)


def _pool_backward(op, dy, x, kernel_size, stride, padding, backend):
    g = pool2d_geometry(x, kernel_size, stride, padding)
    check_dy(dy, g.output_shape, op.split("_backward")[0])
    check_same_dtype(dy=dy, x=x)
    dy, x = _contiguous(dy, x)

    def call(spec, images=ALL):
        return getattr(resolve(spec)[0], op)(dy[images], x[images], g.kernel, g.stride, g.padding)

    return _run(op, backend, (dy, x), (g.kernel, g.stride, g.padding), call)


def max_pool2d(x, kernel_size, stride=None, padding=0, *, return_indices=False, backend=None):
    """Maximum over each window; padding is -inf. ``stride=None`` means ``kernel_size``.

    With ``return_indices=True`` it returns ``(y, indices)``, as PyTorch: ``indices``
    (int64, the shape of y) holds where each maximum is, as its flat position
    ``h * W + w`` in its plane x[n, c]. Give them to :func:`max_pool2d_backward` and
    it sends each gradient straight there instead of searching the windows again.
    """
    op = "max_pool2d_forward_indices" if return_indices else "max_pool2d_forward"
    return _pool(op, x, kernel_size, stride, padding, backend)


def max_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, *, indices=None, backend=None):
    """dx of max_pool2d: each dy goes to its window's (first) maximum, read from the
    ``indices`` that ``max_pool2d(..., return_indices=True)`` gave or, without them,
    found again from x by that same forward pass."""
    g = pool2d_geometry(x, kernel_size, stride, padding)
    check_dy(dy, g.output_shape, "max_pool2d")
    check_same_dtype(dy=dy, x=x)
    given = indices is not None
    if given:
        check_indices(indices, g)
        if isinstance(indices, np.ndarray):
            indices = np.ascontiguousarray(indices, dtype=np.int64)
    else:
        _, indices = max_pool2d(x, kernel_size, stride, padding, return_indices=True, backend=backend)
    (dy,) = _contiguous(dy)

    def call(spec, images=ALL):
        kernels = resolve(spec)[0]
        # dy is scattered to these positions: each must lie in its plane
        if given and isinstance(indices, np.ndarray) and not getattr(kernels, "CHECKS_INDEX_RANGE", False):
            check_index_range(indices, g.H * g.W)
        x_shape = (dy[images].shape[0], g.C, g.H, g.W)
        return kernels.max_pool2d_backward_indices(dy[images], indices[images], x_shape,
                                                   g.kernel, g.stride, g.padding)

    return _run("max_pool2d_backward_indices", backend, (dy, indices), (g.kernel, g.stride, g.padding), call)


def avg_pool2d(x, kernel_size, stride=None, padding=0, *, backend=None):
    """Mean over each window, zero padding counted (``count_include_pad=True``)."""
    return _pool("avg_pool2d_forward", x, kernel_size, stride, padding, backend)


def avg_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, *, backend=None):
    """dx of avg_pool2d: each dy is shared equally by its window."""
    return _pool_backward("avg_pool2d_backward", dy, x, kernel_size, stride, padding, backend)
