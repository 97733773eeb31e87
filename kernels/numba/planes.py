"""Flattened planes: the layout of the kernels of :mod:`.shifted` and :mod:`.filter_lanes`.

A task copies its image into ``image``, each channel's plane padded and flattened: row h
of plane c starts at ``c*Hp*Wp + h*Wp``. Output pixel (i, j) is computed at position
``p = i*Wp + j`` of a *wide* output row of Wp pixels (the last Wp - OW of them are
never used), so that tap t = (c, r, s) reads ``image[offset[t] + p]`` with ``offset[t]
= c*Hp*Wp + r*dh*Wp + s*dw``: for every tap, a run of output positions is one
contiguous run of the image, read without a copy. Without padding, x[n] already is its
flattened planes and is read in place (:func:`flattened_image`).

The kernels compute tiles of positions: vectors of ``lanes`` consecutive positions
(:mod:`.shifted`, stride 1) or single positions (:mod:`.filter_lanes`, output (i, j) at
``i*sh*Wp + j*sw`` with a stride), listed once per shape in a table (:func:`tile_table`)
that also says which taps each tile sums.
"""
import functools

import numpy as np

from .jit import helper
from .rows import copy
from .windows import valid_outputs


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
def image_extent(offset, end, C, Hp, Wp):
    """Numbers an image buffer must hold: its C planes of Hp x Wp, and every read of the
    taps at ``offset`` from the positions below ``end``. (A loop, not ``offset.max()``:
    in a parallel kernel, an array expression outside the ``prange`` loop runs as a
    parallel region of its own, one more fork and join of the threads: 45 us of
    lenet_c2's 240 on two threads when idle threads slept at once.)"""
    extent = C * Hp * Wp
    for t in range(offset.size):
        extent = max(extent, offset[t] + end)
    return extent


@helper
def flattened_image(x, n, image_size, ph, pw):
    """The flattened planes of x[n] padded by (ph, pw), ``image_size`` numbers at least:
    x[n] itself when unpadded (its reads past the planes, into the unused columns and
    past the last vectors, land in x[n + 1] or later), else a padded copy."""
    C, Hp, Wp = x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    planes = x.reshape(-1)
    if ph == 0 and pw == 0 and n * C * Hp * Wp + image_size <= planes.size:
        return planes[n * C * Hp * Wp :]
    image = np.empty(image_size, x.dtype)
    flatten_planes(x, n, image, Hp, Wp, ph, pw)
    return image


@helper
def vector_starts(OH, OW, Wp, lanes, multiple, sh, sw):
    """Where the SIMD vectors of positions start, in order: each one at the first used
    position (column < OW) after the end of the one before, so that vectors skip the
    unused columns they would cover whole; padded to a multiple of ``multiple`` vectors
    with vectors past the planes. With a stride (single positions only, lanes = 1),
    output (i, j) reads from position i*sh*Wp + j*sw."""
    starts = [0]
    p = lanes
    while p < OH * Wp or len(starts) % multiple:
        if p % Wp >= OW and p < OH * Wp:
            p = (p // Wp + 1) * Wp
            continue
        starts.append(p)
        p += lanes
    return [(p // Wp) * sh * Wp + (p % Wp) * sw for p in starts]


@helper
def tile_table(OH, OW, Wp, lanes, per_tile, R, dh, taps_per_row, data_lo, data_hi, sh, sw):
    """One row per register tile: the starts of its ``per_tile`` vectors of ``lanes``
    positions (lanes = 1: single positions, stride (sh, sw) allowed), then the range
    [t_lo, t_hi) of the taps it sums. Taps go kernel row by kernel row (t = (r*C + c)*S
    + s), and a tile leaves out the kernel rows r whose image rows (output row * sh +
    r*dh) are all zeros, outside the rows data_lo <= h < data_hi that hold pixels, for
    every output row the tile covers."""
    starts = vector_starts(OH, OW, Wp, lanes, per_tile, sh, sw)
    table = np.empty((len(starts) // per_tile, per_tile + 2), np.int64)
    for v in range(table.shape[0]):
        for u in range(per_tile):
            table[v, u] = starts[v * per_tile + u]
        first = table[v, 0] // Wp
        last = min((OH - 1) * sh, (table[v, per_tile - 1] + lanes - 1) // Wp)
        r_lo = max(0, -((last - data_lo) // dh))
        r_hi = max(r_lo, min(R, (data_hi - 1 - first) // dh + 1))
        table[v, per_tile], table[v, per_tile + 1] = r_lo * taps_per_row, r_hi * taps_per_row
    return table


@functools.lru_cache(maxsize=256)
def tap_offsets(C, R, S, Hp, Wp, dh, dw, taps):
    """offset[t] of tap t = (r*C + c)*S + s in the flattened planes; the taps added up to
    ``taps`` (whole tiles of dw) read the zeros past the planes (not the image: 0 * inf
    would be NaN). Kept per shape (read-only): a layer asks for the same ones every step."""
    rows, planes, columns = np.arange(R) * dh * Wp, np.arange(C) * Hp * Wp, np.arange(S) * dw
    offset = np.full(taps, C * Hp * Wp, np.int64)
    offset[: C * R * S] = (rows[:, None, None] + planes[:, None] + columns).reshape(-1)
    offset.flags.writeable = False
    return offset


@functools.lru_cache(maxsize=256)
def position_starts(OH, OW, Wp, lanes, sh=1, sw=1):
    """:func:`vector_starts`, kept per shape (read-only)."""
    starts = np.array(vector_starts(OH, OW, Wp, lanes, 1, sh, sw), np.int64)
    starts.flags.writeable = False
    return starts


@functools.lru_cache(maxsize=256)
def tiles(OH, OW, Wp, lanes, per_tile, R, dh, taps_per_row, data_lo, data_hi, sh=1, sw=1):
    """:func:`tile_table`, kept per shape (read-only)."""
    table = tile_table(OH, OW, Wp, lanes, per_tile, R, dh, taps_per_row, data_lo, data_hi, sh, sw)
    table.flags.writeable = False
    return table
