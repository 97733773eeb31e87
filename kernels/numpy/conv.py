"""conv2d as matrix products (im2col + GEMM).

The naive kernel takes one dot product per output pixel. Here every window is first
copied into a column of the matrix ``cols`` (C*R*S, N*OH*OW) ("im2col"); then the whole
convolution is one matrix product with the filters seen as a (K, C*R*S) matrix, which
BLAS runs at near the machine's peak. The gradients are two more products:

    y     = W @ cols            (K, N*OH*OW)
    dW    = dY @ cols.T         (K, C*R*S)
    dcols = W.T @ dY            (C*R*S, N*OH*OW), summed back into dx ("col2im")

The batch is processed in chunks whose column matrix fits a fixed workspace
(:func:`fastconv.shapes.batch_chunks`), so memory stays bounded for any batch size.
"""

from fastconv.buffers import empty
from fastconv.shapes import batch_chunks, conv2d_geometry

from .windows import add_windows, pad, windows


def im2col(x, g):
    """The (C*R*S, N*OH*OW) column matrix: column (n, i, j) holds the window of y[n, :, i, j]."""
    view = windows(pad(x, g.padding), (g.R, g.S), g.stride, g.dilation)  # N, C, OH, OW, R, S
    return view.transpose(1, 4, 5, 0, 2, 3).reshape(g.C * g.R * g.S, g.N * g.OH * g.OW)


def col2im(cols, g):
    """Sum each column entry back into the input pixel it was copied from: dx (N, C, H, W)."""
    per_window = cols.reshape(g.C, g.R, g.S, g.N, g.OH, g.OW).transpose(3, 0, 4, 5, 1, 2)
    padded = (g.N, g.C, g.H + 2 * g.padding[0], g.W + 2 * g.padding[1])
    return add_windows(per_window, padded, g.padding, g.stride, g.dilation)


def _to_matrix(y, g):
    """(N, K, OH, OW) -> (K, N*OH*OW), the layout of the GEMMs."""
    return y.transpose(1, 0, 2, 3).reshape(g.K, g.N * g.OH * g.OW)


def _from_matrix(y_matrix, g):
    """(K, N*OH*OW) -> (N, K, OH, OW), the inverse of :func:`_to_matrix`."""
    return y_matrix.reshape(g.K, g.N, g.OH, g.OW).transpose(1, 0, 2, 3)


def conv2d_forward(x, w, b, stride, padding, dilation, algorithm=None):
    """One GEMM per batch chunk: y = w (K, C*R*S) @ im2col(x) (C*R*S, n*OH*OW), then bias."""
    g = conv2d_geometry(x, w, b, stride, padding, dilation)
    w_matrix = w.reshape(g.K, -1)
    y = empty(g.output_shape, x.dtype)
    for start, stop in batch_chunks(g, x.itemsize):
        chunk = g._replace(N=stop - start)
        y[start:stop] = _from_matrix(w_matrix @ im2col(x[start:stop], chunk), chunk)
    if b is not None:
        y += b.reshape(1, g.K, 1, 1)
    return y


def conv2d_backward(dy, x, w, stride, padding, dilation, algorithm=None, input_grad=True):
    """Per batch chunk: dw += dy @ cols.T and dx = col2im(w.T @ dy) (if input_grad); db is a sum."""
    g = conv2d_geometry(x, w, None, stride, padding, dilation)
    w_matrix = w.reshape(g.K, -1)
    dx = empty(g.input_shape, x.dtype) if input_grad else None
    dw = empty(g.weight_shape, w.dtype)
    dw[...] = 0
    for start, stop in batch_chunks(g, x.itemsize):
        chunk = g._replace(N=stop - start)
        dy_matrix = _to_matrix(dy[start:stop], chunk)
        dw += (dy_matrix @ im2col(x[start:stop], chunk).T).reshape(g.weight_shape)
        if input_grad:
            dx[start:stop] = col2im(w_matrix.T @ dy_matrix, chunk)
    db = empty((g.K,), dy.dtype)
    db[...] = dy.sum(axis=(0, 2, 3))
    return dx, dw, db
