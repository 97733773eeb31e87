"""Max and average pooling as direct loops, one (image, channel) plane per task.

The naive kernels pad a copy of the input and reduce each window with NumPy calls.
These run in compiled code, never pad (the range of outputs a window offset reaches
inside the input is computed once, :func:`~.windows.valid_outputs`), and give each
parallel task a whole plane of the output (forward) or of dx (backward), so no two
threads write one element and overlapping windows add up in a fixed order.

The window passes go *row by row*: for one output row, each (window row, window
column) offset is one pass over the whole row with a simple inner loop, instead of one
short loop per window. That loop indexes views that start at its first element with a
counter from 0, so Numba need not test each index for a negative value (which would
keep LLVM from vectorizing it), and its selects use ``|`` rather than ``or``: no
branch per element. Max pooling's backward needs no windows at all: each dy goes
to the index its forward recorded.

Max pooling follows ``np.max``/``np.argmax`` on the padded window, as the naive
kernel: padding is -inf, the first maximum in row-major order wins a tie, and a NaN
wins over every number (the first NaN, if several).
"""
import numpy as np

from fastconv.buffers import empty
from fastconv.shapes import pool2d_geometry

from .jit import pool_kernel, prange
from .windows import valid_outputs


@pool_kernel
def _max_forward(x, y, kh, kw, sh, sw, ph, pw):
    """Row by row: every output row starts at -inf (the padding) and takes the running
    maximum with each input row and column offset of its windows, in a branch-free
    select that keeps a NaN once it is there (as np.max)."""
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for task in prange(N * C):
        n, c = task // C, task % C
        plane, out = x[n, c], y[n, c]
        out[:, :] = -np.inf
        for i in range(OH):
            best = out[i]
            for r in range(kh):
                h = i * sh - ph + r
                if h < 0 or h >= H:
                    continue
                row = plane[h]
                for s in range(kw):
                    j_lo, j_hi = valid_outputs(W, OW, sw, s - pw)
                    src, dst = row[j_lo * sw + s - pw :], best[j_lo:]
                    for t in range(j_hi - j_lo):
                        value, current = src[t * sw], dst[t]
                        dst[t] = current if (current >= value) | (current != current) else value


@pool_kernel
def _max_forward_indices(x, y, indices, kh, kw, sh, sw, ph, pw):
    """Row by row, like the forward, but keeping where each window's maximum is.

    Window offsets are visited in row-major order: the first real element (position
    -1 means none yet) starts the search and only a strictly greater value (or a first
    NaN) takes over, so ties go to the first maximum and a window of -inf values answers
    its first real element, as PyTorch does.
    """
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for task in prange(N * C):
        n, c = task // C, task % C
        plane = x[n, c]
        for i in range(OH):
            best, where = y[n, c, i], indices[n, c, i]
            where[:] = -1
            for r in range(kh):
                h = i * sh - ph + r
                if h < 0 or h >= H:
                    continue
                row = plane[h]
                for s in range(kw):
                    j_lo, j_hi = valid_outputs(W, OW, sw, s - pw)
                    for j in range(j_lo, j_hi):
                        w = j * sw + s - pw
                        value, current = row[w], best[j]
                        first, nan = where[j] < 0, (value != value) & (current == current)
                        if first | (value > current) | nan:
                            best[j], where[j] = value, h * W + w


@pool_kernel
def _max_backward_indices(dy, indices, dx):
    """dx = 0, then each dy goes to its window's winner, at its index in the task's own plane."""
    N, C, H, W = dx.shape
    OH, OW = dy.shape[2], dy.shape[3]
    for task in prange(N * C):
        n, c = task // C, task % C
        grad = dx[n, c].reshape(H * W)
        grad[:] = 0.0
        for i in range(OH):
            for j in range(OW):
                grad[indices[n, c, i, j]] += dy[n, c, i, j]


@pool_kernel
def _avg_forward(x, y, kh, kw, sh, sw, ph, pw):
    """Row by row, like the max: each output row sums its windows' input rows at every
    column offset (zero padding adds nothing), then divides by the window area."""
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    area = kh * kw
    for task in prange(N * C):
        n, c = task // C, task % C
        plane, out = x[n, c], y[n, c]
        out[:, :] = 0.0
        for i in range(OH):
            total = out[i]
            for r in range(kh):
                h = i * sh - ph + r
                if h < 0 or h >= H:
                    continue
                row = plane[h]
                for s in range(kw):
                    j_lo, j_hi = valid_outputs(W, OW, sw, s - pw)
                    src, dst = row[j_lo * sw + s - pw :], total[j_lo:]
                    for t in range(j_hi - j_lo):
                        dst[t] += src[t * sw]
            for j in range(OW):
                total[j] /= area


@pool_kernel
def _avg_backward(dy, dx, kh, kw, sh, sw, ph, pw):
    """The transpose of the forward, row by row: each dy row, divided by the area, is
    added to every input row and column offset its windows cover (all in the task's
    own dx plane)."""
    N, C, H, W = dx.shape
    OH, OW = dy.shape[2], dy.shape[3]
    area = kh * kw
    for task in prange(N * C):
        n, c = task // C, task % C
        grad = dx[n, c]
        grad[:, :] = 0.0
        for i in range(OH):
            source = dy[n, c, i]
            for r in range(kh):
                h = i * sh - ph + r
                if h < 0 or h >= H:
                    continue
                row = grad[h]
                for s in range(kw):
                    j_lo, j_hi = valid_outputs(W, OW, sw, s - pw)
                    src, dst = source[j_lo:], row[j_lo * sw + s - pw :]
                    for t in range(j_hi - j_lo):
                        dst[t * sw] += src[t] / area


def _pooling(x, kernel, stride, padding):
    """Geometry and the int arguments every pooling kernel takes."""
    g = pool2d_geometry(x, kernel, stride, padding)
    return g, (*g.kernel, *g.stride, *g.padding)


def max_pool2d_forward(x, kernel, stride, padding):
    """y[n, c, i, j] = max of the window (i, j) of x[n, c], padding -inf."""
    g, args = _pooling(x, kernel, stride, padding)
    y = empty(g.output_shape, x.dtype)
    _max_forward(x, y, *args)
    return y


def max_pool2d_forward_indices(x, kernel, stride, padding):
    """(y, indices): the maxima and each winner's position h * W + w in its plane x[n, c]."""
    g, args = _pooling(x, kernel, stride, padding)
    y, indices = empty(g.output_shape, x.dtype), empty(g.output_shape, np.int64)
    _max_forward_indices(x, y, indices, *args)
    return y, indices


def max_pool2d_backward_indices(dy, indices, x_shape, kernel, stride, padding):
    """dx: each dy[n, c, i, j] goes to position indices[n, c, i, j] of plane dx[n, c]."""
    dx = empty(x_shape, dy.dtype)
    _max_backward_indices(dy, indices, dx)
    return dx


def avg_pool2d_forward(x, kernel, stride, padding):
    """y[n, c, i, j] = sum of the window (i, j) of x[n, c] / (kh * kw), padding counted."""
    g, args = _pooling(x, kernel, stride, padding)
    y = empty(g.output_shape, x.dtype)
    _avg_forward(x, y, *args)
    return y


def avg_pool2d_backward(dy, x, kernel, stride, padding):
    """dx: each element of a window receives dy[n, c, i, j] / (kh * kw)."""
    g, args = _pooling(x, kernel, stride, padding)
    dx = empty(g.input_shape, x.dtype)
    _avg_backward(dy, dx, *args)
    return dx
