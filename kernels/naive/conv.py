"""conv2d as the textbook defines it: one dot product per output pixel.

Shapes: x (N, C, H, W), w (K, C, R, S), b (K,), y (N, K, OH, OW). ``x_pad`` is x with
``padding`` zeros around each image. There is one algorithm, so ``algorithm`` is ignored.
"""
import numpy as np

from fastconv.shapes import conv2d_geometry

from .window import pad, unpad, window


def conv2d_forward(x, w, b, stride, padding, dilation, algorithm=None):
    """Cross-correlation, as in PyTorch::

        y[n, k, i, j] = b[k] + sum_{c, r, s} w[k, c, r, s] * x_pad[n, c, i*sh + r*dh, j*sw + s*dw]
    """
    g = conv2d_geometry(x, w, b, stride, padding, dilation)
    x_pad = pad(x, g.padding)
    y = np.zeros(g.output_shape, dtype=x.dtype)
    for n in range(g.N):
        for k in range(g.K):
            for i in range(g.OH):
                for j in range(g.OW):
                    rows, cols = window(i, j, (g.R, g.S), g.stride, g.dilation)
                    y[n, k, i, j] = np.sum(x_pad[n, :, rows, cols] * w[k])
            if b is not None:
                y[n, k] += b[k]
    return y


def conv2d_backward(dy, x, w, stride, padding, dilation, algorithm=None, input_grad=True):
    """Gradients of the loss with respect to x, w and b, given dy = dL/dy.

    Each output pixel y[n, k, i, j] was made from one window of x_pad and the filter
    w[k], so it sends its gradient dy[n, k, i, j] back to both::

        dw[k]                      += dy[n, k, i, j] * x_pad[n, :, window(i, j)]
        dx_pad[n, :, window(i, j)] += dy[n, k, i, j] * w[k]
        db[k]                       = sum_{n, i, j} dy[n, k, i, j]

    and dx is dx_pad without its padding. With ``input_grad=False`` dx is skipped (None).
    """
    g = conv2d_geometry(x, w, None, stride, padding, dilation)
    x_pad = pad(x, g.padding)
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for n in range(g.N):
        for k in range(g.K):
            for i in range(g.OH):
                for j in range(g.OW):
                    rows, cols = window(i, j, (g.R, g.S), g.stride, g.dilation)
                    dw[k] += dy[n, k, i, j] * x_pad[n, :, rows, cols]
                    if input_grad:
                        dx_pad[n, :, rows, cols] += dy[n, k, i, j] * w[k]
    db = dy.sum(axis=(0, 2, 3))
    return unpad(dx_pad, g.padding) if input_grad else None, dw, db
