"""Max and average pooling, one window at a time.

Shapes: x (N, C, H, W), y (N, C, OH, OW). Max pooling pads with -inf, so the padding
never wins: the maximum is taken over the part of the window inside the image. Average
pooling pads with zeros that count in the average (``count_include_pad=True``,
PyTorch's default).
"""
import numpy as np

from fastconv.shapes import pool2d_geometry

from .window import inside, pad, unpad, window


def max_pool2d_forward(x, kernel, stride, padding):
    """y[n, c, i, j] = max of x[n, c] over rows i*sh-ph .. i*sh-ph+kh-1 and columns
    j*sw-pw .. j*sw-pw+kw-1, clipped to the image."""
    g = pool2d_geometry(x, kernel, stride, padding)
    y = np.zeros(g.output_shape, dtype=x.dtype)
    for n in range(g.N):
        for c in range(g.C):
            for i in range(g.OH):
                for j in range(g.OW):
                    y[n, c, i, j] = np.max(x[n, c][inside(i, j, g)])
    return y


def max_pool2d_forward_indices(x, kernel, stride, padding):
    """(y, indices): y as :func:`max_pool2d_forward`, and where each maximum came from,
    as the flat position ``h * W + w`` in its plane x[n, c] (PyTorch's ``return_indices``).

    Ties go to the first maximum in row-major order within the window (as PyTorch);
    a NaN wins over numbers (np.argmax), so a window holding a NaN points at it.
    """
    g = pool2d_geometry(x, kernel, stride, padding)
    y = np.zeros(g.output_shape, dtype=x.dtype)
    indices = np.zeros(g.output_shape, dtype=np.int64)
    for n in range(g.N):
        for c in range(g.C):
            for i in range(g.OH):
                for j in range(g.OW):
                    rows, cols = inside(i, j, g)
                    part = x[n, c, rows, cols]
                    r, s = np.unravel_index(np.argmax(part), part.shape)
                    h, w = rows.start + r, cols.start + s
                    y[n, c, i, j] = x[n, c, h, w]
                    indices[n, c, i, j] = h * g.W + w
    return y, indices


def max_pool2d_backward_indices(dy, indices, x_shape, kernel, stride, padding):
    """The whole gradient dy[n, c, i, j] goes to the input element that won the max,
    at position ``indices[n, c, i, j]`` of its plane."""
    N, C, H, W = x_shape
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    h, w = divmod(int(indices[n, c, i, j]), W)
                    dx[n, c, h, w] += dy[n, c, i, j]
    return dx


def avg_pool2d_forward(x, kernel, stride, padding):
    """y[n, c, i, j] = sum of the window of x_pad[n, c] / (kh * kw), zeros of the padding included."""
    g = pool2d_geometry(x, kernel, stride, padding)
    x_pad = pad(x, g.padding)
    area = g.kernel[0] * g.kernel[1]
    y = np.zeros(g.output_shape, dtype=x.dtype)
    for n in range(g.N):
        for c in range(g.C):
            for i in range(g.OH):
                for j in range(g.OW):
                    y[n, c, i, j] = np.sum(x_pad[n, c][window(i, j, g.kernel, g.stride)]) / area
    return y


def avg_pool2d_backward(dy, x, kernel, stride, padding):
    """Every element of a window receives an equal share dy[n, c, i, j] / (kh * kw)."""
    g = pool2d_geometry(x, kernel, stride, padding)
    area = g.kernel[0] * g.kernel[1]
    dx_pad = np.zeros_like(pad(x, g.padding))
    for n in range(g.N):
        for c in range(g.C):
            for i in range(g.OH):
                for j in range(g.OW):
                    dx_pad[n, c][window(i, j, g.kernel, g.stride)] += dy[n, c, i, j] / area
    return unpad(dx_pad, g.padding)
