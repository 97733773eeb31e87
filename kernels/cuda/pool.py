"""Max and average pooling on the GPU: one thread per output forward, per input backward.

Windows follow PyTorch: max pooling pads with -inf, a NaN in a window wins, ties go to
the first maximum in row-major window order; average pooling counts the zero padding
(``count_include_pad=True``). The naive loops scatter each window's gradient into dx;
here backward is a gather: the thread that owns dx[n, c, h, w] visits the windows that
cover it, so no two threads write one element and no atomics are needed. Max pooling's
forward can also record where each window's winner is, and backward then reads it
instead of searching the windows again.
"""
import math

import numpy as np
from numba import cuda

from fastconv.shapes import output_size

from .device import empty, grid_1d, launch, per_dtype
from .window import unravel, window_index


@cuda.jit(device=True)
def window_max(x, n, c, i, j, kh, kw, sh, sw, ph, pw):
    """(max, tap) of window (i, j) of x_pad[n, c], tap = r*kw + s of its first maximum.

    Taps in the padding never win. The first real tap starts the search; a later tap
    wins only if strictly greater, or if it is a NaN and the best so far is not. So a
    window whose real values are all -inf answers its first real tap, as PyTorch does.
    ``best`` is a float64 for every input dtype: it holds input values exactly.
    """
    H, W = x.shape[2], x.shape[3]
    best = -math.inf
    tap = -1
    for r in range(kh):
        h = i * sh + r - ph
        for s in range(kw):
            v = j * sw + s - pw
            if 0 <= h < H and 0 <= v < W:
                value = x[n, c, h, v]
                if tap < 0 or value > best or (value != value and best == best):
                    best, tap = value, r * kw + s
    return best, tap


@per_dtype
def _max_forward_kernel(ftype):
    @cuda.jit
    def max_pool2d(x, y, indices, kh, kw, sh, sw, ph, pw):
        """One thread per output: the maximum of its window, read straight from x, and
        where it is (h * W + w in its plane, as PyTorch's indices).

        The naive loop builds a padded copy of x and visits the outputs one by one; here
        all outputs run at once and the padding is a bounds test, never stored.
        """
        index = cuda.grid(1)
        if index < y.size:
            n, c, i, j = unravel(index, y.shape[1], y.shape[2], y.shape[3])
            best, tap = window_max(x, n, c, i, j, kh, kw, sh, sw, ph, pw)
            y[n, c, i, j] = best
            indices[n, c, i, j] = (i * sh - ph + tap // kw) * x.shape[3] + j * sw - pw + tap % kw

    return max_pool2d


@per_dtype
def _max_backward_kernel(ftype):
    @cuda.jit
    def max_pool2d_dx(dy, indices, dx, kh, kw, sh, sw, ph, pw):
        """One thread per input: sum dy over the covering windows whose winner it is.

        The winners are the ``indices`` that forward kept, so each window's maximum is
        searched once, and forward and backward agree on ties and NaNs by construction.
        An index that points outside its window is never matched: no write goes astray.
        """
        index = cuda.grid(1)
        OH, OW = dy.shape[2], dy.shape[3]
        if index < dx.size:
            n, c, h, v = unravel(index, dx.shape[1], dx.shape[2], dx.shape[3])
            here = h * dx.shape[3] + v
            acc = ftype(0)
            for r in range(kh):
                i = window_index(h + ph, r, sh, OH)
                if i >= 0:
                    for s in range(kw):
                        j = window_index(v + pw, s, sw, OW)
                        if j >= 0 and indices[n, c, i, j] == here:
                            acc += dy[n, c, i, j]
            dx[n, c, h, v] = acc

    return max_pool2d_dx


@per_dtype
def _avg_forward_kernel(ftype):
    @cuda.jit
    def avg_pool2d(x, y, kh, kw, sh, sw, ph, pw):
        """One thread per output: the window's sum over kh*kw (padding counts as zeros)."""
        index = cuda.grid(1)
        H, W = x.shape[2], x.shape[3]
        if index < y.size:
            n, c, i, j = unravel(index, y.shape[1], y.shape[2], y.shape[3])
            acc = ftype(0)
            for r in range(kh):
                h = i * sh + r - ph
                for s in range(kw):
                    v = j * sw + s - pw
                    if 0 <= h < H and 0 <= v < W:
                        acc += x[n, c, h, v]
            y[n, c, i, j] = acc / ftype(kh * kw)

    return avg_pool2d


@per_dtype
def _avg_backward_kernel(ftype):
    @cuda.jit
    def avg_pool2d_dx(dy, dx, kh, kw, sh, sw, ph, pw):
        """One thread per input: its share dy / (kh*kw) from every window that covers it."""
        index = cuda.grid(1)
        OH, OW = dy.shape[2], dy.shape[3]
        if index < dx.size:
            n, c, h, v = unravel(index, dx.shape[1], dx.shape[2], dx.shape[3])
            acc = ftype(0)
            for r in range(kh):
                i = window_index(h + ph, r, sh, OH)
                if i >= 0:
                    for s in range(kw):
                        j = window_index(v + pw, s, sw, OW)
                        if j >= 0:
                            acc += dy[n, c, i, j] / ftype(kh * kw)
            dx[n, c, h, v] = acc

    return avg_pool2d_dx


def _output(x, window, stride, padding, dtype):
    N, C, H, W = x.shape
    OH = output_size(H, window[0], stride[0], padding[0])
    OW = output_size(W, window[1], stride[1], padding[1])
    return empty((N, C, OH, OW), dtype)


def max_pool2d_forward_indices(x, window, stride, padding):
    """(y, indices): the window maxima and each winner's position h * W + w in its plane (int64)."""
    y = _output(x, window, stride, padding, x.dtype)
    indices = _output(x, window, stride, padding, np.int64)
    launch(_max_forward_kernel(x.dtype), *grid_1d(y.size), x, y, indices, *window, *stride, *padding)
    return y, indices


def max_pool2d_backward_indices(dy, indices, x_shape, window, stride, padding):
    """dx of max pooling from the ``indices`` of :func:`max_pool2d_forward_indices`."""
    dx = empty(x_shape, dy.dtype)
    launch(_max_backward_kernel(dy.dtype), *grid_1d(dx.size), dy, indices, dx, *window, *stride, *padding)
    return dx


def max_pool2d_forward(x, window, stride, padding):
    return max_pool2d_forward_indices(x, window, stride, padding)[0]


def avg_pool2d_forward(x, window, stride, padding):
    y = _output(x, window, stride, padding, x.dtype)
    launch(_avg_forward_kernel(x.dtype), *grid_1d(y.size), x, y, *window, *stride, *padding)
    return y


def avg_pool2d_backward(dy, x, window, stride, padding):
    dx = empty(x.shape, x.dtype)
    launch(_avg_backward_kernel(x.dtype), *grid_1d(dx.size), dy, dx, *window, *stride, *padding)
    return dx
