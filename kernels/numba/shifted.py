"""conv2d forward with few taps (LeNet's first layer): one tap at a time, over whole planes.

The textbook reordering of the naive sums takes one tap (c, r, s) at a time and adds
``w[k, c, r, s]`` times the input, shifted by (r, s), to the whole output plane of
filter k. The direct kernels of :mod:`.direct` instead compute dot products of length
T = C*R*S, one per output pixel; with few taps (T = 25 for a 5x5 kernel on one
channel) those are too short: adding up their SIMD lanes at the end and copying the
windows cost as much as the arithmetic. This kernel has no dot products at all:

* **Flattened planes.** A task copies its image into ``image``, each channel's plane
  padded and flattened: row h of plane c starts at ``c*Hp*Wp + h*Wp``. Output pixel
  (i, j) is computed at position ``p = i*Wp + j`` of a *wide* output row of Wp pixels
  (the last Wp - OW of them are never used), so that tap (c, r, s) reads
  ``image[offset[t] + p]`` with ``offset[t] = c*Hp*Wp + r*dh*Wp + s*dw``: for every
  tap, the whole output plane is one contiguous run of the image, read without a copy.
* **Register tiles.** ``acc[k, p] += sum over t of w[k, t] * image[offset[t] + p]`` is
  computed 2 filters x 4 taps at a time by :func:`~.tiles.update_tile`: each element of
  ``acc`` is loaded and stored once per 8 multiply-adds, along a long, contiguous loop
  that LLVM vectorizes, with nothing to add up at the end.
* **Bands.** The planes are processed :data:`BAND` positions at a time, so the band of
  ``acc`` stays in L1 while all taps pass over it.

Stride 1 only (with a stride, the taps' runs are no longer contiguous). The price is
the unused columns of the wide rows: (S - 1)*dw of every Wp (4 of 32 for lenet_c1).
The zeros of the padding enter the sums as in the naive kernel.
"""
import numpy as np

from .jit import conv_kernel, prange
from .rows import copy
from .tiles import LANES, UPDATE_ROWS, UPDATE_TERMS, padded, update_tile

#: Positions of the wide output planes that one pass of all taps covers.
BAND = 512


@conv_kernel
def _shifted_forward(x, wt, b, offset, y, ph, pw):
    """y[n, k, i, j] = b[k] + sum_t wt[k, t] * image_n[offset[t] + i*Wp + j] (wt and offset
    padded to whole tiles, with zero weights)."""
    N, C, H, W = x.shape
    K, OH, OW = y.shape[1], y.shape[2], y.shape[3]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    positions = padded(OH * Wp, LANES)
    # All planes, and the zeros that the last taps read past them.
    image_size = offset.max() + positions
    for n in prange(N):
        image = np.zeros(image_size, x.dtype)
        for c in range(C):
            for h in range(H):
                copy(W, x[n, c, h], 1, image[(c * Hp + h + ph) * Wp + pw :])
        acc = np.empty((wt.shape[0], positions), x.dtype)
        for k in range(wt.shape[0]):
            acc[k, :] = b[k]
        for start in range(0, positions, BAND):
            band = acc[:, start : min(start + BAND, positions)]
            for k in range(0, wt.shape[0], UPDATE_ROWS):
                for t in range(0, wt.shape[1], UPDATE_TERMS):
                    update_tile(band, wt, k, t, image[offset[t] + start :],
                                image[offset[t + 1] + start :], image[offset[t + 2] + start :],
                                image[offset[t + 3] + start :])
        for k in range(K):
            for i in range(OH):
                copy(OW, acc[k, i * Wp :], 1, y[n, k, i])


def forward(x, w, b, y, g):
    """Write conv2d(x, w, b) into y (geometry g, stride 1); b is an array."""
    (ph, pw), (dh, dw) = g.padding, g.dilation
    Hp, Wp = g.H + 2 * ph, g.W + 2 * pw
    T = g.C * g.R * g.S
    wt = np.zeros((padded(g.K, UPDATE_ROWS), padded(T, UPDATE_TERMS)), w.dtype)
    wt[: g.K, :T] = w.reshape(g.K, T)
    bt = np.zeros(wt.shape[0], w.dtype)
    bt[: g.K] = b
    c, r, s = np.meshgrid(np.arange(g.C), np.arange(g.R), np.arange(g.S), indexing="ij")
    # The padded taps read zeros past the planes (not the image: 0 * inf would be NaN).
    offset = np.full(wt.shape[1], g.C * Hp * Wp, np.int64)
    offset[:T] = (c * Hp * Wp + r * dh * Wp + s * dw).reshape(-1)
    _shifted_forward(x, wt, bt, offset, y, ph, pw)
