"""conv2d on flattened planes: the taps' shifted copies of whole planes, in SIMD register tiles.

The textbook reordering of the naive sums takes one tap (c, r, s) at a time and adds
``w[k, c, r, s]`` times the input, shifted by (r, s), to the whole output plane of
filter k. The strided kernels of :mod:`.direct` instead compute dot products of length
T = C*R*S, one per output pixel, on copies of the windows: each dot product ends by
adding up its SIMD lanes, which costs as much as the arithmetic when T is short
(T = 25 for LeNet's first layer, 150 for its second). These kernels copy no windows
and add up no lanes:

* **Flattened planes** (:mod:`.planes`). A task works on its image's padded planes,
  flattened one after the other. Output pixel (i, j) is computed at position ``p =
  i*Wp + j`` of a *wide* output row of Wp pixels (the last Wp - OW of them are never
  used), so that tap t reads ``image[offset[t] + p]``: for every tap, a run of output
  positions is one contiguous run of the image, read without a copy. Without padding,
  x[n] already is its flattened planes: the forward reads it in place (lenet_c2: 1.3x
  faster), but for the last images of the batch, whose reads past their planes (into
  the unused columns) would run past the end of x.
* **Forward: register tiles along the planes.**
  ``acc[k, p] = b[k] + sum over t of w[k, t] * image[offset[t] + p]`` is computed for
  4 filters x 3 SIMD vectors of positions at a time (:func:`register_tile`, with the
  vectors of :mod:`.simd`): 12 running sums stay in registers over all T taps, and
  each tap costs 3 vector loads and 4 broadcast weights for 12 fused multiply-adds, as
  in a BLAS micro-kernel. (12 sums, 3 loads and a weight fill AVX2's 16 registers;
  with 8 sums, 4 x 2, each sum waited on its previous multiply-add: 1.1-1.4x slower.)
  LLVM would not build this from plain loops (it vectorizes one loop at a time and
  never keeps sums in registers across an outer loop). The planes go :data:`BAND`
  positions at a time, filter tile by filter tile, so that the image band and the
  weights of a tile stay in cache.
* **Less work than the wide rows** (:func:`.planes.tile_table`, once per shape): a vector
  starts at the first used position after the previous vector, so vectors skip the
  unused columns that they would cover whole (lenet_c2: 15 vectors for its 10 rows of
  14 instead of 18). Taps go kernel row by kernel row, and a tile leaves out the kernel
  rows that read only zero rows of the padding for all of its output rows (dx, whose
  dy is padded by the kernel extent, skips about a third of its taps on LeNet's
  layers). Measured against the full wide rows, 2 threads: 1.2-1.5x faster on
  lenet_c2 and mnist_c2, forward and dx.
* **dw: long dot products.** ``dw[k, t] = sum over n, p of dy_wide[n, k, p] *
  image_n[offset[t] + p]``, where dy_wide is dy laid out on the wide rows (zeros on
  the unused columns): K*T dot products as long as the planes of a whole group of
  images, 4 filters x 3 taps at a time (:func:`gradient_tile`), over the same vectors
  of positions as the forward: 12 vector sums in registers, whose lanes are added up
  once per group. Groups of images sum in parallel, in a fixed order, and add up db
  while they lay out dy. The zeros of the unused columns multiply pixels of x: exact
  only for a finite x, so the caller sends an x holding inf or NaN elsewhere.
* **Or the lanes along the filters** (:mod:`.filter_lanes`), forward, dx and dw, where
  rows waste lanes and K fills whole tiles of filters (of 32 or 16): mnist_c2's rows
  of 14 take 16 lanes each. Which one computes fewer products is known from the tile
  tables alone (:func:`_layout`).
* **dx** is the forward kernel run on dy, padded by the kernel extent minus the
  padding, with the flipped kernel (K and C swap roles), as in :mod:`.direct`; or,
  where that padding costs more products than it saves (no padding of x, lanes along
  the filters: :func:`_spreads`), each pixel of dy times the weights, spread to the
  pixels of dx that it fed (:func:`.filter_lanes.spread`).
* **Strides.** With a stride, the taps' runs of positions are no longer contiguous, so
  the lanes cannot go along the positions; they go along the filters, whose single
  positions can be anywhere (output (i, j) at i*sh*Wp + j*sw): forward and dw as for
  stride 1, dx phase by phase (:mod:`.phases`), or spread from dy for a 1x1 kernel
  (:func:`.filter_lanes.spread`). resnet_s2 (2 threads, same process):
  forward 7.0 -> 5.0-5.3 ms, dx 12.7 -> 6.1-6.4 ms, dw 7.5 -> 5.0 ms against the strided
  loops of :mod:`.direct` (PyTorch 4.9-5.3, 5.6-6.1, 5.1-5.2).

The price is what remains of the unused columns of the wide rows (the parts of vectors
that hang over the end of a row), and filters rounded up to whole tiles. The zeros of
the padding enter the sums as in the naive kernel where a weight is infinite or NaN (0
* inf is NaN); taps added to fill a tile read zeros past the planes, with weight 0.
"""
import functools

import numpy as np

from . import filter_lanes, phases
from .jit import batch_groups, conv_kernel, helper, prange
from .planes import flatten_planes, flattened_image, image_extent, position_starts, tap_offsets, tiles
from .rows import copy
from .simd import fma, lane_sum, lanes_of, load, splat, store
from .tiles import padded, tiled

#: Positions of the wide output planes that one pass of all filters covers.
BAND = 1024
#: Filters and vectors of positions in one :func:`register_tile`.
TILE_FILTERS, TILE_VECTORS = 4, 3
#: The lanes go along the filters where that computes at most this share of the
#: products (:func:`_layout`, :func:`parameter_gradients`): measured, :mod:`.filter_lanes`
#: was 1.03-1.28x faster where it computed 0.79-0.89 of them, and slower at 0.96
#: (resnet_3x3).
FILTER_LANES_WORK = 0.9
#: dx spreads the products of dy (:func:`.filter_lanes.spread`) where that computes at
#: most this share of the products of the correlation along the filters. Measured (2
#: threads, same process, float32, against that correlation), where it does: keras_c2
#: (0.87 of the products) 1.10x faster, 128x64x11x11 -> 3x3x64 1.17x, 32x32x16x16 ->
#: 5x5x64 1.19x, 32x32x28x28 -> 7x7x32 as fast (49 shifted additions of a 100 KB
#: buffer); where it does not: mnist_c2 (pad 2) 1.5x slower, 64x16x20x20 -> 5x5x16 1.5x,
#: 8x32x56x56 -> 3x3x64 1.15x. With a stride, 1x1 kernels spread (one tap: phase by
#: phase, all phases but one hold no tap, and the one that does writes every sh-th pixel
#: one by one): 8x64x56x56 -> 128, stride 2, 1.58x faster; 8x256x56x56 -> 512 1.19x;
#: 8x512x28x28 -> 1024 1.15x; 16x32x32x32 -> 64 1.52x; 16x64x30x30 -> 64, stride 3,
#: 3.1x. Larger strided kernels did not follow the products: resnet_s2 1.04x faster,
#: but 5x5 and 7x7 stride 2 with padding 1.3x and 1.7x slower, with 1.03-1.04x the
#: products.
SPREAD_WORK = 0.9
#: Taps in one :func:`gradient_tile` (of TILE_FILTERS filters).
GRADIENT_TAPS = 3


@helper
def register_tile(image, offset, wt, b, k, tile, acc):
    """acc[k:k+4, at p:p+lanes for the tile's three vector starts p] = b[k:k+4] + sum over
    the tile's taps t of wt[k:k+4, t] times the three vectors of image that start at
    offset[t] + p: 12 running sums in registers."""
    p0, p1, p2, t_lo, t_hi = tile[0], tile[1], tile[2], tile[3], tile[4]
    # views, indexed by a counter from 0: no negative-index tests, one index for all loads
    taps, im0, im1, im2 = offset[t_lo:t_hi], image[p0:], image[p1:], image[p2:]
    w0, w1, w2, w3 = wt[k, t_lo:], wt[k + 1, t_lo:], wt[k + 2, t_lo:], wt[k + 3, t_lo:]
    s00 = s01 = s02 = splat(image, b[k])
    s10 = s11 = s12 = splat(image, b[k + 1])
    s20 = s21 = s22 = splat(image, b[k + 2])
    s30 = s31 = s32 = splat(image, b[k + 3])
    for t in range(taps.size):
        at = taps[t]
        first, second, third = load(im0, at), load(im1, at), load(im2, at)
        v = splat(image, w0[t])
        s00, s01, s02 = fma(first, v, s00), fma(second, v, s01), fma(third, v, s02)
        v = splat(image, w1[t])
        s10, s11, s12 = fma(first, v, s10), fma(second, v, s11), fma(third, v, s12)
        v = splat(image, w2[t])
        s20, s21, s22 = fma(first, v, s20), fma(second, v, s21), fma(third, v, s22)
        v = splat(image, w3[t])
        s30, s31, s32 = fma(first, v, s30), fma(second, v, s31), fma(third, v, s32)
    store(acc[k], p0, s00)
    store(acc[k], p1, s01)
    store(acc[k], p2, s02)
    store(acc[k + 1], p0, s10)
    store(acc[k + 1], p1, s11)
    store(acc[k + 1], p2, s12)
    store(acc[k + 2], p0, s20)
    store(acc[k + 2], p1, s21)
    store(acc[k + 2], p2, s22)
    store(acc[k + 3], p0, s30)
    store(acc[k + 3], p1, s31)
    store(acc[k + 3], p2, s32)


@conv_kernel
def _correlate(x, wt, b, offset, table, y, ph, pw):
    """y[n, k, i, j] = b[k] + sum_t wt[k, t] * image_n[offset[t] + i*Wp + j], image_n the
    planes of x[n] padded by (ph, pw), over the taps of the tiles of ``table`` (wt and b
    padded to whole tiles)."""
    N, C = x.shape[0], x.shape[1]
    K, OH, OW = y.shape[1], y.shape[2], y.shape[3]
    Hp, Wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    band = max(1, BAND // (TILE_VECTORS * lanes_of(x)))
    positions = table[-1, TILE_VECTORS - 1] + lanes_of(x)
    image_size = image_extent(offset, positions, C, Hp, Wp)
    for n in prange(N):
        image = flattened_image(x, n, image_size, ph, pw)
        acc = np.empty((wt.shape[0], positions), x.dtype)
        for first in range(0, table.shape[0], band):
            for k in range(0, wt.shape[0], TILE_FILTERS):
                for v in range(first, min(first + band, table.shape[0])):
                    register_tile(image, offset, wt, b, k, table[v], acc)
        for k in range(K):
            for i in range(OH):
                copy(OW, acc[k, i * Wp :], 1, y[n, k, i])


@helper
def gradient_tile(wide, images, offset, starts, k, t, acc):
    """acc[k:k+4, t:t+3] = sum over images n and the vectors of positions that start at
    ``starts`` of wide[n, k:k+4, p] times images[n, offset[t:t+3] + p]: 12 vector sums
    over all images and positions, whose lanes are added up once, at the end."""
    s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = s30 = s31 = s32 = splat(images[0], 0.0)
    for i in range(images.shape[0]):
        image, d0, d1, d2, d3 = images[i], wide[i, k], wide[i, k + 1], wide[i, k + 2], wide[i, k + 3]
        o0, o1, o2 = offset[t], offset[t + 1], offset[t + 2]
        for q in range(starts.size):
            p = starts[q]
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
def _parameter_gradients(x, dy, offset, starts, partial, bias_partial, ph, pw):
    """partial[g, k, t] = sum over the images n of group g and the positions p of the
    vectors that start at ``starts`` of dy_wide[n, k, p] * image_n[offset[t] + p];
    bias_partial[g, k] = sum over the images n of group g of dy[n, k]."""
    N, C = x.shape[0], x.shape[1]
    K, OH, OW = dy.shape[1], dy.shape[2], dy.shape[3]
    Hp, Wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    positions = max(OH * Wp, starts[-1] + lanes_of(x))
    image_size = image_extent(offset, positions, C, Hp, Wp)
    groups = partial.shape[0]
    for g in prange(groups):
        first, last = g * N // groups, (g + 1) * N // groups
        images = np.empty((last - first, image_size), x.dtype)
        wide = np.zeros((last - first, partial.shape[1], positions), x.dtype)
        for k in range(K):
            bias_partial[g, k] = 0.0
        for n in range(first, last):
            flatten_planes(x, n, images[n - first], Hp, Wp, ph, pw)
            for k in range(K):
                for i in range(OH):
                    copy(OW, dy[n, k, i], 1, wide[n - first, k, i * Wp :])
                    bias_partial[g, k] += dy[n, k, i].sum()
        for k in range(0, partial.shape[1], TILE_FILTERS):
            for t in range(0, partial.shape[2], GRADIENT_TAPS):
                gradient_tile(wide, images, offset, starts, k, t, partial[g])


def _cheaper_axis(K, filter_width, vector_positions, single_positions):
    """"filters" where the lanes along the filters compute at most :data:`FILTER_LANES_WORK`
    of the products that the lanes along the positions compute, else "positions". Per
    filter, they compute ``single_positions`` and ``vector_positions`` products; the
    filters are rounded up to whole tiles of each (``filter_width`` filters along the lanes)."""
    along_positions = vector_positions * padded(K, TILE_FILTERS)
    along_filters = single_positions * padded(K, filter_width)
    return "filters" if along_filters <= FILTER_LANES_WORK * along_positions else "positions"


@functools.lru_cache(maxsize=256)
def _layout(OH, OW, Wp, lanes, K, R, dh, taps_per_row, data_lo, data_hi):
    """The axis that the SIMD lanes run along for this correlation (:func:`_cheaper_axis`,
    counting the taps that each tile of its tables sums, in the tiles of
    :func:`.filter_lanes.tile_shape`): the filters where rows waste lanes and K fills
    whole tiles."""
    positions, vectors = filter_lanes.tile_shape(K, lanes)
    table = tiles(OH, OW, Wp, lanes, TILE_VECTORS, R, dh, taps_per_row, data_lo, data_hi)
    single = tiles(OH, OW, Wp, 1, positions, R, dh, taps_per_row, data_lo, data_hi)
    return _cheaper_axis(K, vectors * lanes, _products(table) * lanes, _products(single))


def _products(table):
    """Products per filter (and lane) that the tiles of ``table`` compute: the taps of
    each tile times its positions (or vectors of positions)."""
    return int((table[:, -1] - table[:, -2]).sum()) * (table.shape[1] - 2)


@functools.lru_cache(maxsize=256)
def _spreads(g, lanes):
    """Whether dx of the stride-1 geometry g is computed by :func:`.filter_lanes.spread`:
    where the lanes go along the filters (:func:`_layout`) and spreading dy computes at
    most :data:`SPREAD_WORK` of the products of the correlation, whose dy is padded by the
    kernel extent (convolutions without padding: keras_c2 computes 0.87 of them)."""
    (dh, _), (ah, aw) = g.dilation, _around(g)
    Wp, rows = g.OW + 2 * aw, _pixel_rows(g.OH, ah)
    if _layout(g.H, g.W, Wp, lanes, g.C, g.R, dh, g.K * g.S, *rows) != "filters":
        return False
    positions = filter_lanes.tile_shape(g.C, lanes)[0]
    correlation = _products(tiles(g.H, g.W, Wp, 1, positions, g.R, dh, g.K * g.S, *rows))
    spread = _products(filter_lanes.spread_tiles(g.OH, g.OW, g.K, lanes, g.C)) * g.R * g.S
    return spread <= SPREAD_WORK * correlation


def _pixel_rows(H, ph):
    """The rows [lo, hi) of an image of H rows padded by ph on each side (cropped where ph
    is negative) that hold its pixels."""
    return max(0, ph), min(H + 2 * ph, ph + H)


def correlate(x, weights, bias, y, R, S, padding, dilation, along=None, stride=(1, 1)):
    """y = correlation of x padded by ``padding`` with weights (K, R, C, S: taps kernel row
    by kernel row; a view), plus bias, with the SIMD lanes ``along`` "positions" or "filters"
    (None: :func:`_layout` chooses; with a stride, always the filters). Kernel rows that
    read only zero rows of the padding are left out, unless a weight is infinite or NaN
    (0 * inf is NaN in the naive sums)."""
    (ph, pw), (dh, dw) = padding, dilation
    C, H, W = x.shape[1:]
    K, OH, OW = y.shape[1:]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    # the image rows that count: those holding pixels, or all of them
    rows = _pixel_rows(H, ph) if np.isfinite(weights).all() else (0, Hp)
    lanes = lanes_of(x)
    if stride != (1, 1) or (along or _layout(OH, OW, Wp, lanes, K, R, dh, C * S, *rows)) == "filters":
        table = tiles(OH, OW, Wp, 1, filter_lanes.tile_shape(K, lanes)[0], R, dh, C * S, *rows, *stride)
        offset = tap_offsets(C, R, S, Hp, Wp, dh, dw, weights[0].size)
        filter_lanes.correlate(x, weights, bias, y, offset, table, ph, pw)
        return
    wt, bt = tiled(weights.reshape(K, -1), bias, TILE_FILTERS, 1)
    table = tiles(OH, OW, Wp, lanes, TILE_VECTORS, R, dh, C * S, *rows)
    _correlate(x, wt, bt, tap_offsets(C, R, S, Hp, Wp, dh, dw, wt.shape[1]), table, y, ph, pw)


def forward(x, w, b, y, g, along=None):
    """Write conv2d(x, w, b) into y (geometry g); b is an array."""
    correlate(x, w.transpose(0, 2, 1, 3), b, y, g.R, g.S, g.padding, g.dilation, along, g.stride)


def input_gradient(dy, w, dx, g, along=None):
    """Write dx = dL/dx into dx: dy, padded by the kernel extent minus the padding,
    correlated with the flipped kernel, with the lanes ``along`` "positions" or "filters";
    or, ``along="spread"``, each pixel of dy times the weights spread to the pixels of dx
    it fed (:func:`.filter_lanes.spread`). None chooses: with a stride, spreading for a
    1x1 kernel (one tap, measured 1.15-3x faster) and phase by phase (:mod:`.phases`)
    for others; with stride 1, :func:`_spreads`, then :func:`_layout`."""
    strided = g.stride != (1, 1)
    if along is None and ((g.R, g.S) == (1, 1) if strided else _spreads(g, lanes_of(dy))):
        along = "spread"
    if along == "spread":
        filter_lanes.spread(dy, w, dx, g)
    elif strided:
        phases.input_gradient(dy, w, dx, g)
    else:
        flipped = w[:, :, ::-1, ::-1].transpose(1, 2, 0, 3)
        correlate(dy, flipped, 0.0, dx, g.R, g.S, _around(g), g.dilation, along)


def _around(g):
    """The padding of dy whose correlation with the flipped kernel is dx (stride 1): the
    kernel extent minus the padding of x (negative: dy is cropped)."""
    return (g.R - 1) * g.dilation[0] - g.padding[0], (g.S - 1) * g.dilation[1] - g.padding[1]


def gradient_layout(g, lanes):
    """The axis that the SIMD lanes of dw run along: :func:`_cheaper_axis` chooses, and
    with a stride it is always the filters."""
    if g.stride != (1, 1):
        return "filters"
    vectors = position_starts(g.OH, g.OW, g.W + 2 * g.padding[1], lanes)
    return _cheaper_axis(g.K, filter_lanes.FILTER_VECTORS * lanes, vectors.size * lanes, g.OH * g.OW)


def parameter_gradients(dy, x, dw, db, g, along=None):
    """Write dw = dL/dw and db = dL/db into dw and db, with the SIMD lanes ``along``
    "positions" or "filters" (None: :func:`gradient_layout`). Along the positions, the
    zeros of the unused columns multiply pixels of x: exact for a finite x only."""
    (ph, pw), (dh, dwl) = g.padding, g.dilation
    T = g.C * g.R * g.S
    Wp = g.W + 2 * pw
    lanes = lanes_of(x)
    along = along or gradient_layout(g, lanes)
    taps = padded(T, filter_lanes.TILE_TAPS if along == "filters" else GRADIENT_TAPS)
    offset = tap_offsets(g.C, g.R, g.S, g.H + 2 * ph, Wp, dh, dwl, taps)
    if along == "filters":
        positions = position_starts(g.OH, g.OW, Wp, 1, *g.stride)
        filter_lanes.parameter_gradients(dy, x, dw, db, offset, positions, g)
        return
    groups = batch_groups(g.N)
    partial = np.empty((groups, padded(g.K, TILE_FILTERS), offset.size), x.dtype)
    bias_partial = np.empty((groups, g.K))
    _parameter_gradients(x, dy, offset, position_starts(g.OH, g.OW, Wp, lanes), partial, bias_partial, ph, pw)
    total = partial.sum(axis=0)[: g.K, :T]
    dw[...] = total.reshape(g.K, g.R, g.C, g.S).transpose(0, 2, 1, 3)
    db[...] = bias_partial.sum(axis=0)
