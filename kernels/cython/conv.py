"""conv2d as im2col + one GEMM per pass, with the column work in compiled loops.

With ``cols`` the (C*R*S, N, OH*OW) column matrix of x (see ``_im2col``), ``w2`` the
filters as a (K, C*R*S) matrix and ``dy2`` the (K, N*OH*OW) matrix of dy::

    y[n]  = w2 @ cols[:, n] + b          (one batched matmul, written straight into y)
    dw    = dy2 @ cols.T                 (one GEMM)
    dcols = w2.T @ dy2                   (one GEMM), then dx = col2im(dcols)
    db    = sum of dy over n, i, j

A pointwise (1x1, stride 1, unpadded) convolution skips the copies: its columns are x
itself, so y[n] = w2 @ x[n], dx[n] = w2.T @ dy[n] and dw = sum_n dy[n] @ x[n].T read
and write the arrays directly.

The GEMMs run in NumPy's BLAS; im2col and col2im run in parallel without the GIL.
"""
import numpy as np

from fastconv.buffers import empty
from fastconv.shapes import conv2d_geometry

from . import _im2col
from .scratch import scratch


def is_pointwise(g):
    """A 1x1 kernel with stride 1 and no padding: the columns of image n are x[n] itself."""
    return (g.R, g.S, g.stride, g.padding) == (1, 1, (1, 1), (0, 0))


def conv2d_forward(x, w, b, stride, padding, dilation, algorithm=None):
    g = conv2d_geometry(x, w, b, stride, padding, dilation)
    rows, pixels = g.C * g.R * g.S, g.OH * g.OW
    if is_pointwise(g):
        image_cols = x.reshape(g.N, rows, pixels)
    else:
        cols = scratch("cols", (rows, g.N, pixels), x.dtype)
        _im2col.im2col(x, cols, g)
        image_cols = cols.transpose(1, 0, 2)
    y = empty(g.output_shape, x.dtype)
    np.matmul(w.reshape(g.K, rows), image_cols, out=y.reshape(g.N, g.K, pixels))
    if b is not None:
        y += b.reshape(1, g.K, 1, 1)
    return y


def pointwise_backward(dy, x, w, g, input_grad):
    """The gradients of a pointwise convolution, read straight from x and dy (no copies)."""
    pixels = g.H * g.W
    x3, dy3 = x.reshape(g.N, g.C, pixels), dy.reshape(g.N, g.K, pixels)
    dx = None
    if input_grad:
        dx = empty(x.shape, x.dtype)
        np.matmul(w.reshape(g.K, g.C).T, dy3, out=dx.reshape(g.N, g.C, pixels))
    dw = empty(w.shape, w.dtype)
    np.sum(np.matmul(dy3, x3.transpose(0, 2, 1)), axis=0, out=dw.reshape(g.K, g.C))
    db = empty((g.K,), dy.dtype)
    np.sum(dy3, axis=(0, 2), out=db)
    return dx, dw, db


def conv2d_backward(dy, x, w, stride, padding, dilation, algorithm=None, input_grad=True):
    g = conv2d_geometry(x, w, None, stride, padding, dilation)
    if is_pointwise(g):
        return pointwise_backward(dy, x, w, g, input_grad)
    rows, pixels, flat = g.C * g.R * g.S, g.OH * g.OW, g.N * g.OH * g.OW
    w2 = w.reshape(g.K, rows)
    cols = scratch("cols", (rows, g.N, pixels), x.dtype)
    _im2col.im2col(x, cols, g)
    dy2 = scratch("dy", (g.K, g.N, pixels), x.dtype)  # dy with the filter axis first
    np.copyto(dy2, dy.reshape(g.N, g.K, pixels).transpose(1, 0, 2))

    dw = empty(w.shape, w.dtype)
    np.matmul(dy2.reshape(g.K, flat), cols.reshape(rows, flat).T, out=dw.reshape(g.K, rows))
    db = empty((g.K,), dy.dtype)
    np.sum(dy2, axis=(1, 2), out=db)
    if not input_grad:
        return None, dw, db

    dcols = cols  # the columns of x are no longer needed: reuse their memory
    np.matmul(w2.T, dy2.reshape(g.K, flat), out=dcols.reshape(rows, flat))
    dx = empty(x.shape, x.dtype)
    _im2col.col2im(dcols, dx, g)
    return dx, dw, db
