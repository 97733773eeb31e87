"""conv2d on flattened planes, its SIMD vectors along the filters instead of the positions.

:mod:`.shifted` puts consecutive output positions in the lanes of a vector. Where a row
has a width that is not a multiple of the lanes, its last vector is partly wasted:
mnist_c2's 14 outputs per row take 2 vectors of 8, and its 28 vectors per image round
up to 30 for its tiles, 240 lanes computed for 196 outputs. The filters are another
axis to put in the lanes, with no waste when K is a multiple of 16 (float32), and
every output position can be used, in any order:

* **Register tiles of 3 positions x 4 vectors of filters.** For each tap t,
  :func:`filter_tile` loads the weights of 4*lanes filters (4 vectors, laid out
  ``wk[t, filter]``) and broadcasts the pixel that each of its 3 positions reads,
  ``image[offset[t] + p]``, to all lanes: 12 fused multiply-adds per 7 loads, as in
  :func:`.shifted.register_tile` with the roles of the two operands swapped.
* **Or 6 positions x 2 vectors** (:func:`narrow_tile`) where K fits 2 vectors better
  than 4 (K = 16: mnist_c2's dx, lenet_c2's forward): 12 sums again, the positions
  taken one at a time so that a single broadcast pixel is alive. (Broadcasting all 6
  first, as :func:`outer_step` does for 3, spilled them to the stack.) Measured
  against the positions' lanes (2 threads, same process): mnist_c2's dx 1.15x faster.
* **Positions one by one** (:func:`.planes.tile_table` with lanes = 1): all OH*OW of
  them, in tiles of 3 or 6 (mnist_c2: 198 computed for 196), the taps of zero padding
  rows left out as in :mod:`.shifted`. Single positions need not be next to each other:
  with a stride, the tiles take every sh-th row and sw-th column (:mod:`.shifted`), and
  dx's phases write every sh-th row and sw-th column of dx (:mod:`.phases`).
* **Transposed at the end.** The sums come out as ``acc[position, filter]``; a task
  copies them to y[n] (channels first) once all filters are done, in squares of
  lanes x lanes numbers shuffled in registers (:func:`transpose`): one more pass over
  y, a few % of the kernel's time.
* **dw, with the same tile turned around:** 3 taps x 4 vectors of filters, summed over
  all positions of an image (:func:`gradient_tile`), image by image through a group of
  images. Its operand dy is laid out per image as ``dyt[position, filter]`` (zeros for
  the filters that pad K; :func:`transpose` again), and its sums need no lanes added
  up at the end: lane l of a vector already is one filter's gradient. The 12 sums are
  loaded and stored once per image and tile: the image and its dyt stay in L1/L2
  (keras_c2: 53 KB) where a whole group's would not (421 KB): summing the whole group
  in registers was 1.2x slower there. As the forward leaves out kernel rows, a tile of
  taps leaves out the output rows whose products with it are all padding, 0 * dy
  (:func:`position_spans`), for the images whose dy is finite (mnist_c2: 1.07x faster).

* **dx, spread from dy** (:func:`spread`), for layers without padding: the
  correlation of dy padded by the kernel extent multiplies the weights by that
  padding's zeros (keras_c2: 1.2x the products that count, after the zero rows are
  left out). Instead, for each tap (r, s), the 1x1 correlation of dy with the weights
  ``w[:, c, r, s]`` (the same tiles, dy's K planes as the taps) gives each pixel of dy
  times that tap, which is added to the pixel of dx it fed, shifted by (r, s) in a
  channels-last buffer: 1.04x the products (tiles of 6 over 121 positions), and one
  pass of vector adds per tap (1.5% of the multiply-adds). Measured (2 threads, same
  process): keras_c2's dx 3.63 -> 3.31 ms (PyTorch 3.46). Where x is padded, its
  products that land in the padding are dropped; there the correlation, which leaves
  out kernel rows, computes fewer products (mnist_c2: spreading was 1.5x slower). With
  a stride, the pixels of dy land sh and sw apart; a 1x1 kernel spreads (ResNet's
  1x1 stride-2 shortcut 8x64x56x56 -> 128: 1.26-1.29 -> 0.77-0.82 ms against
  :mod:`.phases`).

Measured against :mod:`.shifted` (float32, 2 threads, same process, alternating): 1.03-
1.13x faster on mnist_c2 forward and 1.28x on its dw, 1.04-1.11x on keras_c2 forward
and dx and 1.20x on its dw; slower on resnet_3x3 (dw 0.8x), whose 56-wide rows waste
no lanes, and wherever K is 16 in wide tiles (half their filters are zeros). That is
less than the 1.2x fewer products: the transposition, and the weights of 32 filters
(51 KB for mnist_c2) read from L2 for every tile. (Blocking the taps to keep those
weights in L1 was 1.2x slower: the sums went through memory once per block.)
"""
import functools

import numpy as np

from .jit import batch_groups, conv_kernel, helper, prange
from .planes import flatten_planes, flattened_image, image_extent, tap_offsets, tiles
from .simd import broadcast, fma, lanes_of, load, store, transpose_block
from .tiles import padded
from .windows import valid_outputs

#: Output positions in one :func:`filter_tile`; it covers FILTER_VECTORS * lanes filters.
TILE_POSITIONS, FILTER_VECTORS = 3, 4
#: Output positions and vectors of filters in one :func:`narrow_tile`.
NARROW_POSITIONS, NARROW_VECTORS = 6, 2
#: Taps in one :func:`gradient_tile` (of FILTER_VECTORS * lanes filters).
TILE_TAPS = 3
#: Strided convolutions take the lanes along the filters where K fills this share of the
#: tiles' filters (:func:`fills_tiles`).
FILLED = 0.75


@helper
def load_filters(row, f):
    """The four vectors at row[f : f + 4*lanes]."""
    lanes = lanes_of(row)
    return load(row, f), load(row, f + lanes), load(row, f + 2 * lanes), load(row, f + 3 * lanes)


@helper
def store_filters(row, f, vectors):
    """row[f : f + len(vectors)*lanes] = the vectors (a tuple), one after the other."""
    lanes = lanes_of(row)
    for i in range(len(vectors)):
        store(row, f + i * lanes, vectors[i])


@helper
def outer_step(first, second, third, row, u, sums):
    """One step of a tile: the 12 sums (3 rows of 4 vectors, a tuple) plus the outer
    product of the 3 broadcast numbers with the 4 vectors at row[u : u + 4*lanes]. Each
    loaded vector feeds 3 fused multiply-adds."""
    lanes = lanes_of(row)
    v = load(row, u)
    s00, s10, s20 = fma(first, v, sums[0]), fma(second, v, sums[4]), fma(third, v, sums[8])
    v = load(row, u + lanes)
    s01, s11, s21 = fma(first, v, sums[1]), fma(second, v, sums[5]), fma(third, v, sums[9])
    v = load(row, u + 2 * lanes)
    s02, s12, s22 = fma(first, v, sums[2]), fma(second, v, sums[6]), fma(third, v, sums[10])
    v = load(row, u + 3 * lanes)
    s03, s13, s23 = fma(first, v, sums[3]), fma(second, v, sums[7]), fma(third, v, sums[11])
    return s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23


@helper
def filter_tile(image, offset, wk, b, f, tile, acc, q):
    """acc[q:q+3, f:f+4*lanes] = b[f:f+4*lanes] + sum over the tile's taps t of
    image[offset[t] + p] times wk[f // (4*lanes), t, :], for the tile's three positions
    p: 12 running sums in registers, four vectors of filters per position."""
    lanes = lanes_of(image)
    width = FILTER_VECTORS * lanes
    t_lo, t_hi = tile[3], tile[4]
    # views, indexed by a counter from 0: no negative-index tests
    taps, w = offset[t_lo:t_hi], wk[f // width, t_lo * width :]
    im0, im1, im2 = image[tile[0]:], image[tile[1]:], image[tile[2]:]
    bias = load_filters(b, f)
    sums = bias + bias + bias
    for t in range(taps.size):
        at = taps[t]
        sums = outer_step(broadcast(im0, at), broadcast(im1, at), broadcast(im2, at), w, t * width, sums)
    store_filters(acc[q], f, sums[0:4])
    store_filters(acc[q + 1], f, sums[4:8])
    store_filters(acc[q + 2], f, sums[8:12])


@helper
def pixel_step(pixel, u, v, first, second):
    """One position's two sums of a narrow tile plus its broadcast pixel times the two
    vectors of weights u and v."""
    return fma(pixel, u, first), fma(pixel, v, second)


@helper
def narrow_tile(image, offset, wk, b, f, tile, acc, q):
    """acc[q:q+6, f:f+2*lanes] = b[f:f+2*lanes] + sum over the tile's taps t of
    image[offset[t] + p] times wk[f // (2*lanes), t, :], for the tile's six positions p:
    :func:`filter_tile` for half as many filters (K = 16), 12 running sums again. Each
    tap loads the 2 vectors of weights, then takes the positions one at a time, so only
    one broadcast pixel is alive: 12 sums, 2 weights and 1 pixel fit AVX2's 16
    registers (with the 6 pixels broadcast first, as :func:`outer_step` does for 3,
    LLVM spilled them to the stack)."""
    lanes = lanes_of(image)
    width = NARROW_VECTORS * lanes
    t_lo, t_hi = tile[6], tile[7]
    taps, w = offset[t_lo:t_hi], wk[f // width, t_lo * width :]
    im0, im1, im2, im3, im4, im5 = (image[tile[0]:], image[tile[1]:], image[tile[2]:],
                                    image[tile[3]:], image[tile[4]:], image[tile[5]:])
    s00 = s10 = s20 = s30 = s40 = s50 = load(b, f)
    s01 = s11 = s21 = s31 = s41 = s51 = load(b, f + lanes)
    for t in range(taps.size):
        at, u, v = taps[t], load(w, t * width), load(w, t * width + lanes)
        s00, s01 = pixel_step(broadcast(im0, at), u, v, s00, s01)
        s10, s11 = pixel_step(broadcast(im1, at), u, v, s10, s11)
        s20, s21 = pixel_step(broadcast(im2, at), u, v, s20, s21)
        s30, s31 = pixel_step(broadcast(im3, at), u, v, s30, s31)
        s40, s41 = pixel_step(broadcast(im4, at), u, v, s40, s41)
        s50, s51 = pixel_step(broadcast(im5, at), u, v, s50, s51)
    store_filters(acc[q], f, (s00, s01))
    store_filters(acc[q + 1], f, (s10, s11))
    store_filters(acc[q + 2], f, (s20, s21))
    store_filters(acc[q + 3], f, (s30, s31))
    store_filters(acc[q + 4], f, (s40, s41))
    store_filters(acc[q + 5], f, (s50, s51))


@helper
def any_tile(image, offset, wk, b, f, width, tile, acc, q):
    """:func:`narrow_tile` or :func:`filter_tile`, whichever covers ``width`` filters."""
    if width == NARROW_VECTORS * lanes_of(image):
        narrow_tile(image, offset, wk, b, f, tile, acc, q)
    else:
        filter_tile(image, offset, wk, b, f, tile, acc, q)


def tile_shape(K, lanes):
    """(positions, vectors of filters) of the forward's tiles for K filters: the narrow
    tile where it pads K with fewer zero filters (K = 16, float32), else the wide one."""
    if padded(K, NARROW_VECTORS * lanes) < padded(K, FILTER_VECTORS * lanes):
        return NARROW_POSITIONS, NARROW_VECTORS
    return TILE_POSITIONS, FILTER_VECTORS


def fills_tiles(K, lanes):
    """Whether K filters fill at least :data:`FILLED` of the filters of the tiles of
    :func:`tile_shape`: there, the lanes along the filters beat the strided loops of
    :mod:`.direct`."""
    return K >= FILLED * padded(K, tile_shape(K, lanes)[1] * lanes)


@conv_kernel
def _correlate(x, wk, b, offset, table, phases, y, ph, pw, sh, sw):
    """y[n, k, a + i*sh, c + j*sw] = b[k] + sum_t wk[k // width, t, k % width] *
    image_n[offset[t] + i*Wp + j], image_n the planes of x[n] padded by (ph, pw), for each
    phase (first, last, a, c, rows, columns) of ``phases``: its tiles first <= v < last of
    ``table`` (single positions, in order: the i*columns + j-th is (i, j); their taps) give
    the rows x columns pixels of y[n, :, a::sh, c::sw]. Wide tiles, or narrow ones (width:
    2 vectors). One phase with sh = sw = 1 is a whole correlation."""
    N, C = x.shape[0], x.shape[1]
    K = y.shape[1]
    Hp, Wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    per_tile, width = table.shape[1] - 2, b.size // wk.shape[0]
    end, most_tiles = 0, 0  # loops, not array expressions (see image_extent)
    for v in range(table.shape[0]):
        end = max(end, table[v, per_tile - 1] + 1)
    for phase in range(phases.shape[0]):
        most_tiles = max(most_tiles, phases[phase, 1] - phases[phase, 0])
    image_size = image_extent(offset, end, C, Hp, Wp)
    for n in prange(N):
        image = flattened_image(x, n, image_size, ph, pw)
        acc = np.empty((most_tiles * per_tile, b.size), x.dtype)
        for phase in range(phases.shape[0]):
            first, last, a, c, rows, columns = phases[phase]
            for f in range(0, b.size, width):
                for v in range(first, last):
                    any_tile(image, offset, wk, b, f, width, table[v], acc, (v - first) * per_tile)
            if sh == 1 and sw == 1:
                transpose(acc, y[n].reshape(K, rows * columns), rows * columns, K)
            else:
                for k in range(K):
                    for i in range(rows):
                        for j in range(columns):
                            y[n, k, a + i * sh, c + j * sw] = acc[i * columns + j, k]


def filter_major(weights, width):
    """wk[f, t*width + l] = weights[f*width + l, t], the T taps t being the numbers of
    weights[k] in C order (a view, as w.transpose(...) gives it), zeros for the filters
    past K: one strided copy per tile of filters (reshaping the view to (K, T) first
    would copy it once more)."""
    K, taps = weights.shape[0], weights.shape[1:]
    wk = np.zeros((-(-K // width), weights[0].size * width), weights.dtype)
    for f in range(wk.shape[0]):
        block = weights[f * width : (f + 1) * width]
        wk[f].reshape(*taps, width)[..., : block.shape[0]] = block.transpose(*range(1, block.ndim), 0)
    return wk


def correlate(x, weights, bias, y, offset, table, ph, pw, phases=None, steps=(1, 1)):
    """y = correlation of x padded by (ph, pw) with weights (K, ...: the T taps, in C
    order) over the taps at ``offset`` and the positions of ``table`` (in tiles of
    :func:`tile_shape`), plus bias (an array or a number); or, with ``phases``, the
    interleaved planes y[:, :, a::steps[0], c::steps[1]] of each phase (:func:`_correlate`)."""
    width = tile_shape(weights.shape[0], lanes_of(x))[1] * lanes_of(x)
    wk = filter_major(weights, width)
    bk = np.zeros(wk.shape[0] * width, x.dtype)
    bk[: weights.shape[0]] = bias
    if phases is None:
        phases = np.array([[0, table.shape[0], 0, 0, *y.shape[2:]]], np.int64)
        phases.flags.writeable = False  # as the tables: one compiled signature
    _correlate(x, wk, bk, offset, table, phases, y, ph, pw, *steps)


@helper
def add_shifted(acc, total, OH, OW, H, W, a, c, sh, sw):
    """total[(i*sh + a)*W + j*sw + c] += acc[i*OW + j] (rows of numbers) for the positions
    (i, j) of an OH x OW grid whose places (i*sh + a, j*sw + c) lie inside H x W."""
    i_lo, i_hi = valid_outputs(H, OH, sh, a)
    j_lo, j_hi = valid_outputs(W, OW, sw, c)
    for i in range(i_lo, i_hi):
        for j in range(j_lo, j_hi):
            source, target = acc[i * OW + j], total[(i * sh + a) * W + j * sw + c]
            for f in range(source.size):
                target[f] += source[f]


@conv_kernel
def _spread(dy, wk, b, offset, table, dx, S, sh, sw, dh, dw, ph, pw):
    """dx[n, c, h, w] = sum over the taps t = r*S + s and the pixels (i, j) of dy[n] with
    (h, w) = (i*sh - ph + r*dh, j*sw - pw + s*dw) of dy[n, k, i, j] * wk[t, c // width,
    k*width + c % width], summed over k: for each tap, the 1x1 correlation of dy[n] with
    that tap's weights (its K planes are the taps at ``offset``, its positions the tiles
    of ``table``; b is zeros), added to the pixels of dx[n] that the tap read."""
    N, K, OH, OW = dy.shape
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    per_tile, width = table.shape[1] - 2, b.size // wk.shape[1]
    end = 0  # a loop, not an array expression (see image_extent)
    for v in range(table.shape[0]):
        end = max(end, table[v, per_tile - 1] + 1)
    image_size = image_extent(offset, end, K, OH, OW)
    for n in prange(N):
        image = flattened_image(dy, n, image_size, 0, 0)
        acc = np.empty((table.shape[0] * per_tile, b.size), dy.dtype)
        total = np.zeros((H * W, b.size), dy.dtype)
        for t in range(wk.shape[0]):
            for f in range(0, b.size, width):
                for v in range(table.shape[0]):
                    any_tile(image, offset, wk[t], b, f, width, table[v], acc, v * per_tile)
            add_shifted(acc, total, OH, OW, H, W, (t // S) * dh - ph, (t % S) * dw - pw, sh, sw)
        transpose(total, dx[n].reshape(C, H * W), H * W, C)


def spread_tiles(OH, OW, K, lanes, C):
    """The tiles of single positions of an OH x OW plane that :func:`_spread` runs on, in
    the shape of :func:`tile_shape` for C filters, each summing all K taps."""
    return tiles(OH, OW, OW, 1, tile_shape(C, lanes)[0], 1, 1, K, 0, OH)


def spread(dy, w, dx, g):
    """Write dx = dL/dx of a convolution (geometry g) into dx: each pixel of dy
    times the weights of a tap, added to the pixel of dx that the tap read; the products
    that would land in the padding are dropped (:func:`_spread`). Unlike the correlation
    of dy padded by the kernel extent, no product multiplies a zero of that padding."""
    lanes = lanes_of(dy)
    width = tile_shape(g.C, lanes)[1] * lanes
    wk = np.stack([filter_major(w[:, :, r, s].T, width) for r in range(g.R) for s in range(g.S)])
    b = np.zeros(wk.shape[1] * width, dy.dtype)
    offset = tap_offsets(g.K, 1, 1, g.OH, g.OW, 1, 1, g.K)
    _spread(dy, wk, b, offset, spread_tiles(g.OH, g.OW, g.K, lanes, g.C), dx, g.S, *g.stride, *g.dilation,
            *g.padding)


@helper
def gradient_tile(dyt, image, offset, starts, t, f, acc, first, last):
    """acc[t:t+3, f:f+4*lanes] += sum over the positions first <= q < last (at
    ``starts[q]``) of image[offset[t:t+3] + starts[q]] times dyt[q*Kp + f : q*Kp + f +
    4*lanes]: 12 vector sums, one per tap and vector of filters, with no lanes to add up."""
    Kp = dyt.size // starts.size
    o0, o1, o2 = offset[t], offset[t + 1], offset[t + 2]
    sums = load_filters(acc[t], f) + load_filters(acc[t + 1], f) + load_filters(acc[t + 2], f)
    # views, indexed by a counter from 0: no negative-index tests
    at, d = starts[first:last], dyt[first * Kp + f :]
    for q in range(at.size):
        p = at[q]
        sums = outer_step(broadcast(image, o0 + p), broadcast(image, o1 + p), broadcast(image, o2 + p),
                          d, q * Kp, sums)
    store_filters(acc[t], f, sums[0:4])
    store_filters(acc[t + 1], f, sums[4:8])
    store_filters(acc[t + 2], f, sums[8:12])


@helper
def transpose(src, dst, rows, columns):
    """dst[c, r] = src[r, c] for r < rows and c < columns: squares of lanes x lanes
    numbers through registers (:func:`.simd.transpose_block`), the edges one by one.
    (Number by number, every read or every write jumps a row ahead: the forward and dw
    of mnist_c2 and keras_c2 were 2-3% slower.)"""
    lanes = lanes_of(src)
    whole_rows, whole_columns = rows - rows % lanes, columns - columns % lanes
    for r in range(0, whole_rows, lanes):
        for c in range(0, whole_columns, lanes):
            transpose_block(src, dst, r, c)
    for r in range(whole_rows):
        for c in range(whole_columns, columns):
            dst[c, r] = src[r, c]
    for r in range(whole_rows, rows):
        for c in range(columns):
            dst[c, r] = src[r, c]


@conv_kernel
def _parameter_gradients(x, dy, offset, starts, spans, partial, bias_partial, ph, pw):
    """partial[g, t, k] = sum over the images n of group g and the positions p at
    ``starts`` of dy[n, k, p] * image_n[offset[t] + p]; bias_partial[g, k] = sum over
    the images n of group g of dy[n, k]. While those sums are finite (no inf or NaN in
    the group's dy so far: they would stay in the sums), the taps of tile t // 3 sum only
    the positions spans[t // 3, 0] <= q < spans[t // 3, 1]: the others read zeros of the
    padding."""
    N, C = x.shape[0], x.shape[1]
    K, OH, OW = dy.shape[1], dy.shape[2], dy.shape[3]
    Hp, Wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    Kp = partial.shape[2]
    image_size = image_extent(offset, starts[-1] + 1, C, Hp, Wp)
    groups = partial.shape[0]
    for g in prange(groups):
        image = np.empty(image_size, x.dtype)
        dyt = np.zeros(OH * OW * Kp, x.dtype)
        partial[g] = 0.0
        for k in range(K):
            bias_partial[g, k] = 0.0
        for n in range(g * N // groups, (g + 1) * N // groups):
            flatten_planes(x, n, image, Hp, Wp, ph, pw)
            transpose(dy[n].reshape(K, OH * OW), dyt.reshape(OH * OW, Kp), K, OH * OW)
            planes = dy[n].reshape(K, OH * OW)
            for k in range(K):
                bias_partial[g, k] += planes[k].sum()
            finite = np.isfinite(bias_partial[g].sum())
            for t in range(0, partial.shape[1], TILE_TAPS):
                first, last = (spans[t // TILE_TAPS, 0], spans[t // TILE_TAPS, 1]) if finite else (0, starts.size)
                for f in range(0, Kp, FILTER_VECTORS * lanes_of(x)):
                    gradient_tile(dyt, image, offset, starts, t, f, partial[g], first, last)


@functools.lru_cache(maxsize=256)
def position_spans(OH, OW, taps_per_row, R, dh, ph, H, taps, sh=1):
    """For each tile of 3 taps (t = r*taps_per_row + ..., kernel row by kernel row, up
    to ``taps``), the positions [first, last) in order (q = i*OW + j) whose image rows
    i*sh + r*dh, for one of its taps, hold pixels (ph <= i*sh + r*dh < ph + H): the
    output rows above and below read zeros of the padding there. Taps past the kernel's
    read zeros past the planes: none. Kept per shape (read-only)."""
    rows = np.arange(taps) // taps_per_row
    first = np.clip(-((rows * dh - ph) // sh), 0, OH)
    last = np.clip(-((rows * dh - ph - H) // sh), first, OH)
    first, last = np.where(rows < R, first, OH), np.where(rows < R, last, 0)
    spans = np.stack([first.reshape(-1, TILE_TAPS).min(axis=1), last.reshape(-1, TILE_TAPS).max(axis=1)], axis=1)
    spans = np.maximum(spans, spans[:, :1]) * OW
    spans.flags.writeable = False
    return spans


def parameter_gradients(dy, x, dw, db, offset, starts, g):
    """Write dw = dL/dw and db = dL/db into dw and db: sums over the taps at ``offset``
    (kernel row by kernel row, padded to a multiple of 3) and the positions at ``starts``
    (all OH*OW of them, in order; stride g.stride)."""
    groups = batch_groups(g.N)
    Kp = padded(g.K, FILTER_VECTORS * lanes_of(x))
    partial = np.empty((groups, offset.size, Kp), x.dtype)
    bias_partial = np.empty((groups, g.K))
    spans = position_spans(g.OH, g.OW, g.C * g.S, g.R, g.dilation[0], g.padding[0], g.H, offset.size, g.stride[0])
    _parameter_gradients(x, dy, offset, starts, spans, partial, bias_partial, *g.padding)
    total = partial.sum(axis=0)[: g.C * g.R * g.S]
    dw[...] = total.reshape(g.R, g.C, g.S, Kp)[..., : g.K].transpose(3, 1, 0, 2)
    db[...] = bias_partial.sum(axis=0)
