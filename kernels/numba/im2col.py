"""conv2d as im2col + GEMM: copy the windows into a matrix, then one matrix product.

For a chunk of B images, ``col[(c*R + r)*S + s, b*P + i*OW + j]`` (P = OH*OW) is the
input pixel that tap (c, r, s) reads for output pixel (i, j) of image b, zero in the
padding. With ``w2d = w.reshape(K, C*R*S)`` and ``dy2d[k, b*P + p] = dy[b, k, p]``:

    y    = w2d @ col            (K x B*P, then scattered to y[b, k, p] with the bias)
    dw  += dy2d @ col.T         (summed over the chunks)
    dcol = w2d.T @ dy2d         then dx = col2im(dcol)

The naive kernel does K*OH*OW separate small dot products per image; here nearly all
arithmetic is in a few large matrix products that BLAS runs near the machine's peak
(packed panels, register-blocked micro-kernels, its own threads). Putting B images
side by side makes the products wide even for small images (LeNet's 10x10 outputs),
where one product per image would be too small for BLAS to run fast. The price is
the copy into ``col`` (R*S times the input) and two cheap reorderings of y or dy.

* :func:`_im2col` is parallel over the (image, tap) rows of ``col``: each is written
  by one task, contiguously, and only its padding border is zeroed.
* :func:`_col2im` is a *gather*: one task per input row (b, c, h) adds up every
  entry of ``dcol`` that came from a pixel of that row. Nobody else writes that row,
  so there are no races and no atomics, and the sum order does not depend on threads.
* A 1x1 convolution with stride 1 and no padding needs no copy at all: ``x[b]``
  already is ``col`` for image b, and ``w2d.T @ dy[b]`` already is ``dx[b]``.

Chunks hold as many images as fit :data:`CHUNK_BYTES` of ``col``, so the workspace
stays bounded (and its pages are reused) however large the batch.

The products are ``np.matmul`` on NumPy's BLAS, called between the compiled copies;
BLAS runs on its own threads (``OPENBLAS_NUM_THREADS`` or threadpoolctl set them),
the copies on Numba's. A tiled GEMM written in Numba (4 rows x 256 columns per task,
vectorized inner loop) lost by 7-12x on one thread: 1.9 against 13.4 GFLOP/s for
64x576 @ 576x3136 (resnet_3x3) and 2.9 against 35 for 32x400 @ 400x2548 (mnist_c2,
one chunk), float32, same process, alternating.
"""
import numpy as np

from .jit import conv_kernel, prange
from .rows import axpy, copy
from .windows import tap_origin, valid_outputs

#: Upper bound on the im2col workspace of one chunk of images.
CHUNK_BYTES = 8 << 20


@conv_kernel
def _im2col(x, col, R, S, OH, OW, sh, sw, ph, pw, dh, dw):
    """col[tap, b*P : (b+1)*P] = the pixels that tap reads for each output of image x[b]."""
    B, H, W = x.shape[0], x.shape[2], x.shape[3]
    CRS, P = col.shape[0], OH * OW
    for task in prange(B * CRS):
        b, tap = task // CRS, task % CRS
        c, r, s = tap // (R * S), tap // S % R, tap % S
        i_lo, i_hi = valid_outputs(H, OH, sh, r * dh - ph)
        j_lo, j_hi = valid_outputs(W, OW, sw, s * dw - pw)
        image = x[b, c]
        out = col[tap, b * P : (b + 1) * P]
        first = j_lo * sw + s * dw - pw
        out[: i_lo * OW] = 0.0
        for i in range(i_lo, i_hi):
            out[i * OW : i * OW + j_lo] = 0.0
            copy(j_hi - j_lo, image[i * sh + r * dh - ph, first:], sw, out[i * OW + j_lo :])
            out[i * OW + j_hi : (i + 1) * OW] = 0.0
        out[i_hi * OW :] = 0.0


@conv_kernel
def _col2im(dcol, dx, R, S, OH, OW, sh, sw, ph, pw, dh, dw):
    """dx[b] = the entries of dcol summed back onto the pixels they were copied from."""
    B, C, H, W = dx.shape
    P = OH * OW
    one = dx.dtype.type(1)
    for task in prange(B * C * H):
        b, c, h = task // (C * H), task // H % C, task % H
        out = dx[b, c, h]
        out[:] = 0.0
        for r in range(R):
            i = tap_origin(h, OH, sh, r * dh - ph)
            if i < 0:
                continue
            for s in range(S):
                j_lo, j_hi = valid_outputs(W, OW, sw, s * dw - pw)
                source = dcol[(c * R + r) * S + s, b * P + i * OW + j_lo :]
                axpy(j_hi - j_lo, one, source, 1, out[j_lo * sw + s * dw - pw :], sw)


@conv_kernel
def _images_from_columns(y2d, b, y3):
    """y3[i, k] = y2d[k, i*P : (i+1)*P] + b[k]: undo the side-by-side layout, add the bias."""
    B, K, P = y3.shape
    for task in prange(B * K):
        i, k = task // K, task % K
        out, source, bias = y3[i, k], y2d[k, i * P :], b[k]
        for p in range(P):
            out[p] = source[p] + bias


@conv_kernel
def _columns_from_images(dy3, dy2d):
    """dy2d[k, i*P : (i+1)*P] = dy3[i, k]: images side by side, as the columns of col."""
    B, K, P = dy3.shape
    for task in prange(B * K):
        i, k = task // K, task % K
        copy(P, dy3[i, k], 1, dy2d[k, i * P :])


def _chunks(g):
    """Slices of the batch whose im2col workspace (float64 sized) fits CHUNK_BYTES."""
    per_image = g.C * g.R * g.S * g.OH * g.OW * 8
    size = max(1, CHUNK_BYTES // per_image)
    return [slice(first, min(first + size, g.N)) for first in range(0, g.N, size)]


def _is_pointwise(g):
    """True when col is x itself: a 1x1 kernel, stride 1, no padding."""
    return (g.R, g.S, g.stride, g.padding) == (1, 1, (1, 1), (0, 0))


def _geometry_args(g):
    return (g.R, g.S, g.OH, g.OW, *g.stride, *g.padding, *g.dilation)


def forward(x, w, b, y, g):
    """Write conv2d(x, w, b) into y (geometry g); b is an array (zeros for no bias)."""
    w2d = w.reshape(g.K, g.C * g.R * g.S)
    y3 = y.reshape(g.N, g.K, g.OH * g.OW)
    if _is_pointwise(g):
        np.matmul(w2d, x.reshape(g.N, g.C, g.H * g.W), out=y3)
        y3 += b[:, None]
        return
    for chunk in _chunks(g):
        count = chunk.stop - chunk.start
        col = np.empty((w2d.shape[1], count * g.OH * g.OW), x.dtype)
        _im2col(x[chunk], col, *_geometry_args(g))
        _images_from_columns(w2d @ col, b, y3[chunk])


def backward(dy, x, w, dx, dw, g):
    """Write dL/dw into dw and, unless dx is None, dL/dx into dx."""
    w2d_t = w.reshape(g.K, g.C * g.R * g.S).T
    dw2d = dw.reshape(g.K, g.C * g.R * g.S)
    dy3 = dy.reshape(g.N, g.K, g.OH * g.OW)
    if _is_pointwise(g):
        x3 = x.reshape(g.N, g.C, g.H * g.W)
        if dx is not None:
            np.matmul(w2d_t, dy3, out=dx.reshape(x3.shape))
        np.sum(dy3 @ x3.transpose(0, 2, 1), axis=0, out=dw2d)
        return
    dw2d[:] = 0.0
    for chunk in _chunks(g):
        count = chunk.stop - chunk.start
        col = np.empty((w2d_t.shape[0], count * g.OH * g.OW), x.dtype)
        dy2d = np.empty((g.K, col.shape[1]), x.dtype)
        _im2col(x[chunk], col, *_geometry_args(g))
        _columns_from_images(dy3[chunk], dy2d)
        dw2d += dy2d @ col.T
        if dx is not None:
            _col2im(w2d_t @ dy2d, dx[chunk], *_geometry_args(g))
