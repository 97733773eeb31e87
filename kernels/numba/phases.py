"""dx of a strided conv2d: one stride-1 correlation of dy per phase of dx's pixels.

In the forward, tap (r, s) of output pixel (i, j) reads x[h, w] at h = i*sh + r*dh - ph
(and w likewise), so dx[n, c, h, w] adds w[k, c, r, s] * dy[n, k, i, j] over the taps r
for which i = (h + ph - r*dh) / sh is a whole number. The strided loops of
:mod:`.direct` spread dy's pixels sh apart, zeros between them, and correlate that with
the flipped kernel: with a stride of 2, 3 of 4 of their products multiply those zeros.
Here dx is split by the *phase* of its pixels instead, (h mod sh, w mod sw):

* Which kernel rows reach row h depends only on its phase a = h mod sh: those with
  (a + ph - r*dh) divisible by sh. Row h = a + u*sh then reads dy rows i = u + d_r,
  d_r = (a + ph - r*dh) / sh: for the rows of one phase, a stride-1 correlation of dy
  with the kernel rows of that phase (in order of d, which falls as r grows: flipped).
  Columns alike. Each product of the naive sum is computed once, in one phase
  (resnet_s2's 3 x 3 kernel: 1, 2, 2 and 4 taps in its 4 phases, 9 in all, where
  the spread dy made 4 x 9).
* All phases go through one call of :func:`.filter_lanes.correlate`, the lanes along
  the C channels of dx: their taps one after the other in one list, their tiles in one
  table, and each phase writes its interleaved plane dx[:, :, a::sh, b::sw]. dy is
  padded once, by as much as the phase that reads farthest past its border needs, and
  each phase leaves out the kernel rows that read only that padding
  (:func:`.planes.tile_table`: the rows of a phase are d_step = dh / gcd(sh, dh) dy
  rows apart, a dilation).

The plan of a shape (taps, table, phases) is made once and kept (:func:`plan`).
"""
import functools
import math
from typing import NamedTuple

import numpy as np

from . import filter_lanes
from .planes import tiles
from .simd import lanes_of


class Plan(NamedTuple):
    """How the phases of one shape run: the taps of all phases (the indices (k, r, s) of
    their weights, and their offsets in dy's flattened planes), the tile table, the
    phases (first and last tile, a, b, rows, columns) and dy's padding."""

    k: np.ndarray
    r: np.ndarray
    s: np.ndarray
    offset: np.ndarray
    table: np.ndarray
    phases: np.ndarray
    padding: tuple


def phase_taps(a, size, stride, dilation, padding):
    """The kernel rows (or columns) r that reach the pixels of phase a, and the dy row d
    (relative to the pixel's u) that each reads, in order of d."""
    reach = [(((a + padding - r * dilation) // stride), r) for r in range(size)
             if (a + padding - r * dilation) % stride == 0]
    return [r for _, r in sorted(reach)], [d for d, _ in sorted(reach)]


def pixels_of_phase(a, size, stride):
    """How many of ``size`` pixels (rows or columns) have phase a."""
    return len(range(a, size, stride))


def padding_for(phases, out_size):
    """The padding of dy on each side that every phase's reads (pixels u < count, rows u + d)
    stay inside: (count, ds) per phase with taps."""
    reads = [(min(ds), count - 1 + max(ds)) for count, ds in phases if count and ds]
    return max([0] + [-low for low, _ in reads] + [high - (out_size - 1) for _, high in reads])


@functools.lru_cache(maxsize=64)
def plan(C, K, H, W, OH, OW, R, S, stride, padding, dilation, lanes):
    """The :class:`Plan` of dx for this shape (arrays read-only)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    rows = [(a, *phase_taps(a, R, sh, dh, ph)) for a in range(sh)]
    columns = [(b, *phase_taps(b, S, sw, dw, pw)) for b in range(sw)]
    qh = padding_for([(pixels_of_phase(a, H, sh), ds) for a, _, ds in rows], OH)
    qw = padding_for([(pixels_of_phase(b, W, sw), ds) for b, _, ds in columns], OW)
    Hq, Wq = OH + 2 * qh, OW + 2 * qw
    per_tile = filter_lanes.tile_shape(C, lanes)[0]
    step = dh // math.gcd(sh, dh)  # dy rows between the kernel rows of a phase
    taps, tables, phases = [], [], []
    for a, rs, ds in rows:
        for b, ss, es in columns:
            count_h, count_w = pixels_of_phase(a, H, sh), pixels_of_phase(b, W, sw)
            if count_h == 0 or count_w == 0:
                continue
            first_tap, first_tile = len(taps), sum(len(t) for t in tables)
            # taps kernel row by kernel row, as tile_table counts them
            taps += [(k, r, s, k * Hq * Wq + (d + qh) * Wq + e + qw)
                     for r, d in zip(rs, ds) for k in range(K) for s, e in zip(ss, es)]
            top = ds[0] + qh if ds else 0  # dy row of kernel row 0 for pixel row 0
            table = tiles(count_h, count_w, Wq, 1, per_tile, len(rs), step, K * len(ss),
                          qh - top, qh + OH - top).copy()
            table[:, per_tile:] += first_tap
            tables.append(table)
            phases.append((first_tile, first_tile + len(table), a, b, count_h, count_w))
    k, r, s, offset = (np.array([tap[i] for tap in taps], np.int64) for i in range(4))
    result = Plan(k, r, s, offset, np.concatenate(tables), np.array(phases, np.int64), (qh, qw))
    for array in result[:-1]:
        array.flags.writeable = False
    return result


def input_gradient(dy, w, dx, g):
    """Write dx = dL/dx into dx (any stride), phase by phase. The zeros of dy's padding
    enter the sums (not the zeros between its pixels): exact for finite weights."""
    p = plan(g.C, g.K, g.H, g.W, g.OH, g.OW, g.R, g.S, g.stride, g.padding, g.dilation, lanes_of(dx))
    if p.offset.size == 0:  # no tap reaches a pixel of x: padding wider than the kernel
        dx[...] = 0.0
        return
    weights = w[p.k, :, p.r, p.s].T  # (C, taps)
    filter_lanes.correlate(dy, weights, 0.0, dx, p.offset, p.table, *p.padding, p.phases, g.stride)
