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
    """Flat index (r * kw + s) of the first maximum of every window, NaN winning.

    The -inf padding ties with real -inf values; as in PyTorch the padding never wins,
    so such a window answers its first real element.
    """
    taps = g.kernel[0] * g.kernel[1]
    flat = windows(pad(x, g.padding, value=-np.inf), g.kernel, g.stride).reshape(g.N, g.C, g.OH, g.OW, taps)
    winner = np.argmax(flat, axis=-1)
    if g.padding != (0, 0):
        image = pad(np.ones((1, 1, g.H, g.W), dtype=bool), g.padding, value=False)
        real = windows(image, g.kernel, g.stride).reshape(1, 1, g.OH, g.OW, taps)
        real = np.broadcast_to(real, flat.shape)
        in_padding = ~np.take_along_axis(real, winner[..., None], axis=-1)[..., 0]
        winner = np.where(in_padding, np.argmax(real, axis=-1), winner)
    return flat, winner


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
