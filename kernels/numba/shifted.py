"""conv2d with stride 1: the taps' shifted copies of whole planes, in SIMD register tiles.

The textbook reordering of the naive sums takes one tap (c, r, s) at a time and adds
``w[k, c, r, s]`` times the input, shifted by (r, s), to the whole output plane of
filter k. The strided kernels of :mod:`.direct` instead compute dot products of length
T = C*R*S, one per output pixel, on copies of the windows: each dot product ends by
adding up its SIMD lanes, which costs as much as the arithmetic when T is short
(T = 25 for LeNet's first layer, 150 for its second). These kernels copy no windows
and add up no lanes:

* **Flattened planes.** A task copies its image into ``image``, each channel's plane
  padded and flattened: row h of plane c starts at ``c*Hp*Wp + h*Wp``. Output pixel
  (i, j) is computed at position ``p = i*Wp + j`` of a *wide* output row of Wp pixels
  (the last Wp - OW of them are never used), so that tap (c, r, s) reads
  ``image[offset[t] + p]`` with ``offset[t] = c*Hp*Wp + r*dh*Wp + s*dw``: for every
  tap, the whole output plane is one contiguous run of the image, read without a copy.
* **Forward: register tiles along the planes.**
  ``acc[k, p] = b[k] + sum over t of w[k, t] * image[offset[t] + p]`` is computed for
  4 filters x 3 SIMD vectors of positions at a time (:func:`register_tile`, with the
  vectors of :mod:`.simd`): 12 running sums stay in registers over all T taps, and
  each tap costs 3 vector loads and 4 broadcast weights for 12 fused multiply-adds, as
  in a BLAS micro-kernel. (12 sums, 3 loads and a weight fill AVX2's 16 registers;
  with 8 sums, 4 x 2, each sum waited on its previous multiply-add: 1.1-1.4x slower.) LLVM would not build this from plain loops (it vectorizes one
  loop at a time and never keeps sums in registers across an outer loop). The planes
  go :data:`BAND` positions at a time, filter tile by filter tile, so that the image
  band and the weights of a tile stay in cache.
* **dw: long dot products.** ``dw[k, t] = sum over n, p of dy_wide[n, k, p] *
  image_n[offset[t] + p]``, where dy_wide is dy laid out on the wide rows (zeros on
  the unused columns): K*T dot products as long as the planes of a whole group of
  images, 4 filters x 3 taps at a time (:func:`gradient_tile`): 12 vector sums in
  registers, whose lanes are added up once per group. Groups of images sum in
  parallel, in a fixed order. The zeros of the unused columns multiply pixels of x:
  exact only for a finite x, so the caller sends an x holding inf or NaN elsewhere.
* **dx** is the forward kernel run on dy, padded by the kernel extent minus the
  padding, with the flipped kernel (K and C swap roles), as in :mod:`.direct`.

Stride 1 only (with a stride, the taps' runs are no longer contiguous). The price is
the unused columns of the wide rows: (S - 1)*dw of every Wp (4 of 32 for lenet_c1, 4
of 14 for lenet_c2), and filters and positions rounded up to whole tiles.
The zeros of the padding enter the sums as in the naive kernel; taps added to fill a
tile read zeros past the planes, with weight 0.
"""
import numpy as np

from .jit import batch_groups, conv_kernel, helper, prange
from .rows import copy
from .simd import fma, lane_sum, lanes_of, load, splat, store
from .tiles import padded, tiled
from .windows import valid_outputs

#: Positions of the wide output planes that one pass of all filters covers.
BAND = 1024
#: Filters and vectors of positions in one :func:`register_tile`.
TILE_FILTERS, TILE_VECTORS = 4, 3
#: Taps in one :func:`gradient_tile` (of TILE_FILTERS filters).
GRADIENT_TAPS = 3


@helper
def flatten_planes(x, n, image, Hp, Wp, ph, pw):
    """image = the planes of x[n] padded by (ph, pw) on each side (cropped where that is
    negative) and flattened, one after the other; zeros after them."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    image[:] = 0.0
    h_lo, h_hi = valid_outputs(Hp, H, 1, ph)
    w_lo, w_hi = valid_outputs(Wp, W, 1, pw)
    for c in range(C):
        for h in range(h_lo, h_hi):
            copy(w_hi - w_lo, x[n, c, h, w_lo:], 1, image[(c * Hp + h + ph) * Wp + w_lo + pw :])


@helper
def register_tile(image, offset, wt, b, k, p, acc):
    """acc[k:k+4, p:p+3*lanes] = b[k:k+4] + sum over taps t of wt[k:k+4, t] times the
    three vectors of image that start at offset[t] + p: 12 running sums in registers."""
    L = lanes_of(image)
    w0, w1, w2, w3 = wt[k], wt[k + 1], wt[k + 2], wt[k + 3]
    s00 = s01 = s02 = splat(image, b[k])
    s10 = s11 = s12 = splat(image, b[k + 1])
    s20 = s21 = s22 = splat(image, b[k + 2])
    s30 = s31 = s32 = splat(image, b[k + 3])
    for t in range(offset.size):
        at = offset[t] + p
        first, second, third = load(image, at), load(image, at + L), load(image, at + 2 * L)
        v = splat(image, w0[t])
        s00, s01, s02 = fma(first, v, s00), fma(second, v, s01), fma(third, v, s02)
        v = splat(image, w1[t])
        s10, s11, s12 = fma(first, v, s10), fma(second, v, s11), fma(third, v, s12)
        v = splat(image, w2[t])
        s20, s21, s22 = fma(first, v, s20), fma(second, v, s21), fma(third, v, s22)
        v = splat(image, w3[t])
        s30, s31, s32 = fma(first, v, s30), fma(second, v, s31), fma(third, v, s32)
    store(acc[k], p, s00)
    store(acc[k], p + L, s01)
    store(acc[k], p + 2 * L, s02)
    store(acc[k + 1], p, s10)
    store(acc[k + 1], p + L, s11)
    store(acc[k + 1], p + 2 * L, s12)
    store(acc[k + 2], p, s20)
    store(acc[k + 2], p + L, s21)
    store(acc[k + 2], p + 2 * L, s22)
    store(acc[k + 3], p, s30)
    store(acc[k + 3], p + L, s31)
    store(acc[k + 3], p + 2 * L, s32)


@conv_kernel
def _correlate(x, wt, b, offset, y, ph, pw):
    """y[n, k, i, j] = b[k] + sum_t wt[k, t] * image_n[offset[t] + i*Wp + j], image_n the
    planes of x[n] padded by (ph, pw) (wt and b padded to whole tiles)."""
    N, C = x.shape[0], x.shape[1]
    K, OH, OW = y.shape[1], y.shape[2], y.shape[3]
    Hp, Wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    block = TILE_VECTORS * lanes_of(x)
    band = BAND // block * block
    positions = padded(OH * Wp, block)
    image_size = max(offset.max() + positions, C * Hp * Wp)
    for n in prange(N):
        image = np.empty(image_size, x.dtype)
        flatten_planes(x, n, image, Hp, Wp, ph, pw)
        acc = np.empty((wt.shape[0], positions), x.dtype)
        for start in range(0, positions, band):
            for k in range(0, wt.shape[0], TILE_FILTERS):
                for p in range(start, min(start + band, positions), block):
                    register_tile(image, offset, wt, b, k, p, acc)
        for k in range(K):
            for i in range(OH):
                copy(OW, acc[k, i * Wp :], 1, y[n, k, i])


@helper
def gradient_tile(wide, images, offset, k, t, acc):
    """acc[k:k+4, t:t+3] = sum over images n and positions p of wide[n, k:k+4, p] times
    images[n, offset[t:t+3] + p]: 12 vector sums over all images and positions, whose
    lanes are added up once, at the end."""
    L = lanes_of(images[0])
    s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = s30 = s31 = s32 = splat(images[0], 0.0)
    for i in range(images.shape[0]):
        image, d0, d1, d2, d3 = images[i], wide[i, k], wide[i, k + 1], wide[i, k + 2], wide[i, k + 3]
        o0, o1, o2 = offset[t], offset[t + 1], offset[t + 2]
        for p in range(0, wide.shape[2], L):
            u0, u1, u2 = load(image, o0 + p), load(image, o1 + p), load(image, o2 + p)
            v = load(d0, p)
            s00, s01, s02 = fma(v, u0, s00), fma(v, u1, s01), fma(v, u2, s02)
            v = load(d1, p)
            s10, s11, s12 = fma(v, u0, s10), fma(v, u1, s11), fma(v, u2, s12)
            v = load(d2, p)
            s20, s21, s22 = fma(v, u0, s20), fma(v, u1, s21), fma(v, u2, s22)
            v = load(d3, p)
            s30, s31, s32 = fma(v, u0, s30), fma(v, u1, s31), fma(v, u2, s32)
    acc[k, t], acc[k, t + 1], acc[k, t + 2] = lane_sum(s00), lane_sum(s01), lane_sum(s02)
    acc[k + 1, t], acc[k + 1, t + 1], acc[k + 1, t + 2] = lane_sum(s10), lane_sum(s11), lane_sum(s12)
    acc[k + 2, t], acc[k + 2, t + 1], acc[k + 2, t + 2] = lane_sum(s20), lane_sum(s21), lane_sum(s22)
    acc[k + 3, t], acc[k + 3, t + 1], acc[k + 3, t + 2] = lane_sum(s30), lane_sum(s31), lane_sum(s32)


@conv_kernel
def _weight_gradient(x, dy, offset, partial, ph, pw):
    """partial[g, k, t] = sum over the images n of group g and positions p of
    dy_wide[n, k, p] * image_n[offset[t] + p]."""
    N, C = x.shape[0], x.shape[1]
    K, OH, OW = dy.shape[1], dy.shape[2], dy.shape[3]
    Hp, Wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    positions = padded(OH * Wp, lanes_of(x))
    image_size = max(offset.max() + positions, C * Hp * Wp)
    groups = partial.shape[0]
    for g in prange(groups):
        first, last = g * N // groups, (g + 1) * N // groups
        images = np.empty((last - first, image_size), x.dtype)
        wide = np.zeros((last - first, partial.shape[1], positions), x.dtype)
        for n in range(first, last):
            flatten_planes(x, n, images[n - first], Hp, Wp, ph, pw)
            for k in range(K):
                for i in range(OH):
                    copy(OW, dy[n, k, i], 1, wide[n - first, k, i * Wp :])
        for k in range(0, partial.shape[1], TILE_FILTERS):
            for t in range(0, partial.shape[2], GRADIENT_TAPS):
                gradient_tile(wide, images, offset, k, t, partial[g])


def _offsets(C, R, S, Hp, Wp, dh, dw, taps):
    """offset[t] of tap t = (c*R + r)*S + s in the flattened planes; the taps added up to
    ``taps`` (whole tiles of dw) read the zeros past the planes (not the image: 0 * inf
    would be NaN)."""
    c, r, s = np.meshgrid(np.arange(C), np.arange(R), np.arange(S), indexing="ij")
    offset = np.full(taps, C * Hp * Wp, np.int64)
    offset[: C * R * S] = (c * Hp * Wp + r * dh * Wp + s * dw).reshape(-1)
    return offset


def _run_correlation(x, weights, bias, y, R, S, padding, dilation):
    """y = correlation of x padded by ``padding`` with weights (K, C*R*S), plus bias."""
    (ph, pw), (dh, dw) = padding, dilation
    wt, bt = tiled(weights, bias, TILE_FILTERS, 1)
    Hp, Wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    offset = _offsets(x.shape[1], R, S, Hp, Wp, dh, dw, wt.shape[1])
    _correlate(x, wt, bt, offset, y, ph, pw)


def forward(x, w, b, y, g):
    """Write conv2d(x, w, b) into y (geometry g, stride 1); b is an array."""
    _run_correlation(x, w.reshape(g.K, -1), b, y, g.R, g.S, g.padding, g.dilation)


def input_gradient(dy, w, dx, g):
    """Write dx = dL/dx into dx (stride 1): dy, padded by the kernel extent minus the
    padding, correlated with the flipped kernel."""
    (dh, dw), (ph, pw) = g.dilation, g.padding
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(g.C, -1)
    around = ((g.R - 1) * dh - ph, (g.S - 1) * dw - pw)
    _run_correlation(dy, flipped, 0.0, dx, g.R, g.S, around, g.dilation)


def weight_gradient(dy, x, dw, g):
    """Write dw = dL/dw into dw (stride 1)."""
    (ph, pw), (dh, dwl) = g.padding, g.dilation
    T = g.C * g.R * g.S
    partial = np.empty((batch_groups(g.N), padded(g.K, TILE_FILTERS), padded(T, GRADIENT_TAPS)), x.dtype)
    offset = _offsets(g.C, g.R, g.S, g.H + 2 * ph, g.W + 2 * pw, dh, dwl, partial.shape[2])
    _weight_gradient(x, dy, offset, partial, ph, pw)
    dw[...] = partial.sum(axis=0)[: g.K, :T].reshape(g.weight_shape)
