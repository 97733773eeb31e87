"""Pooling: allocate the outputs, hand them to the compiled loops of ``_pool``."""
import numpy as np

from fastconv.buffers import empty
from fastconv.shapes import pool2d_geometry

from . import _pool


def planes(a):
    """View an (N, C, H, W) array as (N, C, H*W): max pooling addresses a plane by flat index."""
    n, c, h, w = a.shape
    return a.reshape(n, c, h * w)


def max_pool2d_forward(x, kernel, stride, padding):
    g = pool2d_geometry(x, kernel, stride, padding)
    y = empty(g.output_shape, x.dtype)
    _pool.max_pool2d_forward(planes(x), y, g)
    return y


def max_pool2d_forward_indices(x, kernel, stride, padding):
    g = pool2d_geometry(x, kernel, stride, padding)
    y, indices = empty(g.output_shape, x.dtype), empty(g.output_shape, np.int64)
    _pool.max_pool2d_forward_indices(planes(x), y, indices, g)
    return y, indices


def max_pool2d_backward_indices(dy, indices, x_shape, kernel, stride, padding):
    dx = empty(x_shape, dy.dtype)
    _pool.max_pool2d_backward_indices(dy, indices, planes(dx))
    return dx


def avg_pool2d_forward(x, kernel, stride, padding):
    g = pool2d_geometry(x, kernel, stride, padding)
    y = empty(g.output_shape, x.dtype)
    _pool.avg_pool2d_forward(x, y, g)
    return y


def avg_pool2d_backward(dy, x, kernel, stride, padding):
    g = pool2d_geometry(x, kernel, stride, padding)
    dx = empty(g.input_shape, x.dtype)
    _pool.avg_pool2d_backward(dy, dx, g)
    return dx
