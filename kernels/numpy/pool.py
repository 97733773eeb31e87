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


def _maxima(x, g):
    """(y, winner): every window's maximum and its tap r * kw + s."""
    flat, winner = _window_argmax(x, g)
    y = empty(g.output_shape, x.dtype)
    y[...] = np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0]
    return y, winner


def max_pool2d_forward(x, kernel, stride, padding):
    return _maxima(x, pool2d_geometry(x, kernel, stride, padding))[0]


def max_pool2d_forward_indices(x, kernel, stride, padding):
    """y, and each winner's tap (r, s) turned into its position h * W + w in the plane."""
    g = pool2d_geometry(x, kernel, stride, padding)
    y, winner = _maxima(x, g)
    kw, (sh, sw), (ph, pw) = g.kernel[1], g.stride, g.padding
    rows = np.arange(g.OH)[:, None] * sh - ph + winner // kw
    cols = np.arange(g.OW)[None, :] * sw - pw + winner % kw
    indices = empty(g.output_shape, np.int64)
    indices[...] = rows * g.W + cols
    return y, indices


def max_pool2d_backward_indices(dy, indices, x_shape, kernel, stride, padding):
    """Each dy lands at its index: one ``np.bincount`` over the positions in the whole
    batch (plane offset + index), which sums where windows share a winner."""
    N, C, H, W = x_shape
    planes = np.arange(N * C, dtype=np.int64).reshape(N, C, 1, 1) * (H * W)
    sums = np.bincount((planes + indices).ravel(), weights=dy.ravel(), minlength=N * C * H * W)
    dx = empty(x_shape, dy.dtype)
    dx[...] = sums.reshape(x_shape)
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
