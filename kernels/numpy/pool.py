"""Pooling as reductions over a view of all windows at once.

The naive kernels visit one window at a time in Python; here :func:`windows` presents
every window as the last two axes of one (N, C, OH, OW, kh, kw) view, so max, argmax
and mean run as single NumPy reductions in C.
"""
import numpy as np

from fastconv.buffers import empty
from fastconv.shapes import pool2d_geometry

from .windows import add_windows, pad, windows


def _padded_shape(g):
    return (g.N, g.C, g.H + 2 * g.padding[0], g.W + 2 * g.padding[1])


def _window_argmax(x, g):
    """Flat index (r * kw + s) of the first maximum of every window, NaN winning."""
    view = windows(pad(x, g.padding, value=-np.inf), g.kernel, g.stride)
    flat = view.reshape(g.N, g.C, g.OH, g.OW, g.kernel[0] * g.kernel[1])
    return flat, np.argmax(flat, axis=-1)


def max_pool2d_forward(x, kernel, stride, padding):
    g = pool2d_geometry(x, kernel, stride, padding)
    flat, winner = _window_argmax(x, g)
    y = empty(g.output_shape, x.dtype)
    y[...] = np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0]
    return y


def max_pool2d_backward(dy, x, kernel, stride, padding):
    """Each dy lands on its window's winner: a one-hot mask per window, summed back."""
    g = pool2d_geometry(x, kernel, stride, padding)
    _, winner = _window_argmax(x, g)
    taps = np.arange(g.kernel[0] * g.kernel[1]).reshape(g.kernel)
    one_hot = winner[..., None, None] == taps
    contributions = np.where(one_hot, dy[..., None, None], dy.dtype.type(0))
    dx = empty(g.input_shape, x.dtype)
    dx[...] = add_windows(contributions, _padded_shape(g), g.padding, g.stride)
    return dx


def avg_pool2d_forward(x, kernel, stride, padding):
    g = pool2d_geometry(x, kernel, stride, padding)
    view = windows(pad(x, g.padding), g.kernel, g.stride)
    y = empty(g.output_shape, x.dtype)
    y[...] = view.sum(axis=(-2, -1)) / (g.kernel[0] * g.kernel[1])
    return y


def avg_pool2d_backward(dy, x, kernel, stride, padding):
    g = pool2d_geometry(x, kernel, stride, padding)
    share = dy / dy.dtype.type(g.kernel[0] * g.kernel[1])
    contributions = np.broadcast_to(share[..., None, None], g.output_shape + g.kernel)
    dx = empty(g.input_shape, x.dtype)
    dx[...] = add_windows(contributions, _padded_shape(g), g.padding, g.stride)
    return dx
