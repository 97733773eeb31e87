"""conv2d as direct loops: the naive sums, regrouped into small register-tiled products.

The naive kernel computes one output pixel at a time, as one dot product over a
(C, R, S) window. Translated literally to Numba, that dot product runs over a few
strided taps; the textbook reordering (one tap at a time, ``y += w[k, c, r, s] * x``
over a row of output pixels) runs over rows of 10 or 28 pixels and reads and writes y
for every single multiply-add. Both spend most of their time on loop overhead, loads
and stores instead of arithmetic. These kernels add up the same products, but so that
every inner loop is long, contiguous and keeps its running sums in registers:

* **Channels last, one image per task.** A task copies its image into a private buffer
  ``image[h, w*C + c]`` (zeros around it for the padding). There, one kernel row of a
  window, its S taps over all C channels, is a single contiguous run of S*C numbers.
* **One output row at a time.** The windows of the OW pixels of output row i are copied
  into ``patch`` (OW rows of T = R*S*C numbers, R runs each; it stays in L1). The
  weights, reordered once to ``wt[k, (r*S + s)*C + c]``, are K rows of the same T.
* **Register tiles.** Output row i is the small product ``wt @ patch.T``: K*OW dot
  products of length T, computed 4 channels x 2 pixels at a time by
  :func:`~.tiles.dot_tile`. Its 8 running sums stay in vector registers (LLVM splits
  each sum into SIMD lanes along T) and each number it loads feeds 2 or 4 fused
  multiply-adds, so it runs close to the multiply-add rate of the core.

Loop nests (one task per image n, or per group of images for dw):

    forward  y[n]   image = x[n] with its padding
                    for i: patch = windows of output row i;  out[k, :] = b[k]
                           out += wt @ patch.T  (dot tiles);  y[n, :, i, :] = out
    dx       dx[n]  the forward kernel run backwards: image = dy[n] with stride - 1 zeros
                    between its pixels and the kernel extent (minus padding) around them,
                    weights flipped and transposed (K and C swap roles):
                    dx[n,c,h,w] = sum_{r,s,k} w[k,c,R-1-r,S-1-s] * image[h + r*dh, w + s*dw, k]
                    Kernel rows that only read zero rows of image are skipped.
    dw       dw     for each group g of images, in parallel: partial[g] = 0
                    for n in g, i: patch as in the forward;  partial[g] += dy[n, :, i, :] @ patch
                    (:func:`~.tiles.update_tile`, vectorized along T); then dw = the sum
                    of the partials, in group order
    db       db[k]  sum over n, i, j of dy[n, k, i, j]

:mod:`.shifted` computes the three passes instead, on flattened planes with SIMD
register tiles, no window copies and no short sums to add up at the end (measured in
:mod:`.conv`): every stride-1 convolution, and strided ones where the channels of the
pass's output fill the tiles of its lanes along the filters. These loops take the other
strided passes, and a stride-1 dw for an x that holds inf or NaN.

Operands are padded with zeros to whole tiles (row counts to multiples of the tile
sizes, T to a multiple of the SIMD width), so every tile is a full one.

Each task writes only its own image of y or dx, or its own partial of dw, and the groups
depend on N alone: no two threads write one number and the result does not depend on the
thread count. The zeros of the padding enter the sums as in the naive kernel, which pads
x. In dx, the zeros between dy's pixels in a kept kernel row also multiply weights: that
changes nothing unless a weight is infinite or NaN.
"""
import numpy as np

from . import filter_lanes, shifted
from .jit import batch_groups, conv_kernel, helper, prange
from .rows import copy
from .simd import lanes_of
from .tiles import (DOT_COLUMNS, DOT_ROWS, LANES, UPDATE_ROWS, UPDATE_TERMS, padded, product,
                    tiled, update)
from .windows import valid_outputs


@helper
def spread_image(x, n, image, step_h, step_w, offset_h, offset_w):
    """image[h, w*C + c] = x[n, c, i, j] at h = i*step_h + offset_h, w = j*step_w + offset_w;
    zero everywhere else. Pixels that land outside image are left out."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    image[:, :] = 0.0
    i_lo, i_hi = valid_outputs(image.shape[0], H, step_h, offset_h)
    j_lo, j_hi = valid_outputs(image.shape[1] // C, W, step_w, offset_w)
    for i in range(i_lo, i_hi):
        line = image[i * step_h + offset_h]
        for j in range(j_lo, j_hi):
            first = (j * step_w + offset_w) * C
            for c in range(C):
                line[first + c] = x[n, c, i, j]


@helper
def gather_windows(image, C, i, patch, OW, r_lo, r_hi, S, sh, sw, dh, dw):
    """patch[j, (r*S + s)*C + c] = image[i*sh + r*dh, (j*sw + s*dw)*C + c] for j < OW
    and the kernel rows r_lo <= r < r_hi.

    With dilation dw == 1 the S taps of a kernel row are adjacent: one run of S*C."""
    taps = S if dw == 1 else 1
    for r in range(r_lo, r_hi):
        line = image[i * sh + r * dh]
        for j in range(OW):
            window = patch[j]
            for s in range(0, S, taps):
                copy(taps * C, line[(j * sw + s * dw) * C :], 1, window[(r * S + s) * C :])


@helper
def image_buffers(OH, OW, R, S, sh, sw, dh, dw, C, T, tile, dtype):
    """A task's channels-last image (the rows and columns its windows read) and its patch
    (OW rows of T numbers, zero rows up to a multiple of tile)."""
    rows = (OH - 1) * sh + (R - 1) * dh + 1
    columns = (OW - 1) * sw + (S - 1) * dw + 1
    image = np.empty((rows, columns * C), dtype)
    patch = np.zeros((padded(OW, tile), T), dtype)
    return image, patch


@helper
def holds_pixels(row, first, end, step):
    """Whether image row ``row`` is one of the rows first, first + step, ... before end."""
    return first <= row < end and (row - first) % step == 0


@helper
def kernel_rows_with_pixels(r, top, R, dh, first, end, step):
    """The next run lo <= r' < hi of kernel rows, from r on, whose image rows top + r'*dh
    hold pixels (:func:`holds_pixels`); lo == hi == R when there is none."""
    while r < R and not holds_pixels(top + r * dh, first, end, step):
        r += 1
    stop = r
    while stop < R and holds_pixels(top + stop * dh, first, end, step):
        stop += 1
    return r, stop


@conv_kernel
def _correlate(x, wt, b, y, R, S, sh, sw, dh, dw, step_h, step_w, offset_h, offset_w, sparse):
    """y[n, k, i, j] = b[k] + sum_t wt[k, t] * (window t of output (i, j)), where x[n] is
    spread by (step, offset) and read with stride (sh, sw) and dilation (dh, dw); wt and
    b are padded to whole tiles (:func:`~.tiles.tiled`).

    ``sparse``: leave out the kernel rows that read an image row holding no pixel of x
    (they would only add zeros). Not for the forward pass, where the zeros of the padding
    are part of the sum, as in the naive kernel."""
    N, C, H = x.shape[0], x.shape[1], x.shape[2]
    K, OH, OW = y.shape[1], y.shape[2], y.shape[3]
    run = S * C
    for n in prange(N):
        image, patch = image_buffers(OH, OW, R, S, sh, sw, dh, dw, C, wt.shape[1], DOT_COLUMNS,
                                     x.dtype)
        out = np.empty((wt.shape[0], patch.shape[0]), x.dtype)
        spread_image(x, n, image, step_h, step_w, offset_h, offset_w)
        if sparse:  # the rows x[n] was spread to
            first, end, step = offset_h, offset_h + (H - 1) * step_h + 1, step_h
        else:
            first, end, step = 0, image.shape[0], 1
        for i in range(OH):
            for k in range(out.shape[0]):
                out[k, :] = b[k]
            r_lo, r_hi = kernel_rows_with_pixels(0, i * sh, R, dh, first, end, step)
            while r_lo < R:
                gather_windows(image, C, i, patch, OW, r_lo, r_hi, S, sh, sw, dh, dw)
                product(wt, patch, out, r_lo * run, r_hi * run if r_hi < R else wt.shape[1])
                r_lo, r_hi = kernel_rows_with_pixels(r_hi, i * sh, R, dh, first, end, step)
            for k in range(K):
                copy(OW, out[k], 1, y[n, k, i])


@conv_kernel
def _weight_gradient(x, dy, partial, R, S, sh, sw, ph, pw, dh, dw):
    """partial[g, k, t] = sum over the images n of group g, and i, j, of
    dy[n, k, i, j] * (window t of output (i, j) in x[n] padded)."""
    N, C = x.shape[0], x.shape[1]
    K, OH, OW = dy.shape[1], dy.shape[2], dy.shape[3]
    groups = partial.shape[0]
    for g in prange(groups):
        acc = partial[g]
        acc[:, :] = 0.0
        image, patch = image_buffers(OH, OW, R, S, sh, sw, dh, dw, C, acc.shape[1], UPDATE_TERMS,
                                     x.dtype)
        grad = np.zeros((acc.shape[0], patch.shape[0]), x.dtype)
        for n in range(g * N // groups, (g + 1) * N // groups):
            spread_image(x, n, image, 1, 1, ph, pw)
            for i in range(OH):
                gather_windows(image, C, i, patch, OW, 0, R, S, sh, sw, dh, dw)
                for k in range(K):
                    copy(OW, dy[n, k, i], 1, grad[k])
                update(acc, grad, patch)


@conv_kernel
def _bias_gradient(dy, db):
    N, K = dy.shape[0], dy.shape[1]
    for k in prange(K):
        total = 0.0
        for n in range(N):
            total += dy[n, k].sum()
        db[k] = total


def _on_planes(g, channels, lanes) -> bool:
    """Whether :mod:`.shifted` computes this pass, whose output has ``channels`` channels
    (K for the forward and dw, C for dx): any stride-1 one, and a strided one where those
    channels fill the tiles of its lanes along the filters (:func:`.filter_lanes.fills_tiles`)."""
    return g.stride == (1, 1) or filter_lanes.fills_tiles(channels, lanes)


def forward(x, w, b, y, g):
    """Write conv2d(x, w, b) into y (geometry g); b is an array (zeros for no bias)."""
    if _on_planes(g, g.K, lanes_of(x)):
        shifted.forward(x, w, b, y, g)
        return
    wt, bt = tiled(w.transpose(0, 2, 3, 1).reshape(g.K, -1), b, DOT_ROWS, LANES)
    _correlate(x, wt, bt, y, g.R, g.S, *g.stride, *g.dilation, 1, 1, *g.padding, False)


def input_gradient(dy, w, dx, g):
    """Write dx = dL/dx into dx: the correlation of dy, its pixels g.stride apart, with the
    flipped kernel (dx[h, w] collects dy[i, j] from every tap that read x[h, w])."""
    if _on_planes(g, g.C, lanes_of(dy)):
        shifted.input_gradient(dy, w, dx, g)
        return
    (dh, dw), (ph, pw) = g.dilation, g.padding
    flipped = w[:, :, ::-1, ::-1].transpose(1, 2, 3, 0).reshape(g.C, -1)
    wt, bt = tiled(flipped, 0.0, DOT_ROWS, LANES)
    offset = ((g.R - 1) * dh - ph, (g.S - 1) * dw - pw)
    _correlate(dy, wt, bt, dx, g.R, g.S, 1, 1, dh, dw, *g.stride, *offset, True)


def parameter_gradients(dy, x, dw, db, g):
    """Write dw = dL/dw and db = dL/db into dw and db."""
    along = shifted.gradient_layout(g, lanes_of(x))
    if _on_planes(g, g.K, lanes_of(x)) and (along == "filters" or np.isfinite(x).all()):
        # Along the positions, only for a finite x: :mod:`.shifted` multiplies the pixels
        # that its unused output columns read by zeros, exact but for 0 * inf = NaN.
        shifted.parameter_gradients(dy, x, dw, db, g, along)
        return
    T = g.R * g.S * g.C
    partial = np.empty((batch_groups(g.N), padded(g.K, UPDATE_ROWS), padded(T, LANES)), x.dtype)
    _weight_gradient(x, dy, partial, g.R, g.S, *g.stride, *g.padding, *g.dilation)
    total = partial.sum(axis=0)[: g.K, :T]
    dw[...] = total.reshape(g.K, g.R, g.S, g.C).transpose(0, 3, 1, 2)
    bias_gradient(dy, db)


def bias_gradient(dy, db):
    """Write db = dL/db (the sum of dy over batch and space) into db."""
    _bias_gradient(dy, db)
