"""Max and average pooling as separable row passes, one (image, channel) plane per task.

A window's maximum (or sum) is the maximum (or sum) over its columns of the maxima
(sums) down each column. So instead of reducing every kh x kw window on its own, as
the naive kernels do, each output row is made in two passes:

1. **Down the rows.** The kh input rows that output row i covers are reduced column
   by column into one row buffer, W wide: a long loop over contiguous memory that
   LLVM vectorizes.
2. **Across the columns.** Output j reduces the kw elements of that buffer starting at
   j * sw: one pass over the output row per window column.

The row buffer carries pw elements of padding on each side (-inf for max, 0 for the
average, set once per plane), so pass 2 never tests a border. Pass 1 only visits the
input rows inside x: padding rows add nothing. PyTorch's rule that padding is at most
half the window guarantees each window holds at least one real element.

Average pooling over 2 x 2 windows with stride 2 and no padding, the pooling of LeNet
and of most small CNNs, skips the row buffer: its windows tile the plane, and each
output reads its four numbers straight from two rows (:func:`_avg_forward_2x2`).

Each parallel task owns a whole plane of y (forward) or of dx (backward), so no two
threads write one element and overlapping windows add up in a fixed order. Loops
index views that start at 0 with a counter from 0, so Numba need not test indices
for negative values (which would keep LLVM from vectorizing), and selects use ``|``
and ``&`` rather than ``or`` and ``and``: no branch per element.

Max pooling follows ``np.max``/``np.argmax`` on the padded window, as the naive
kernel: a NaN wins over every number (the first NaN, if several) and the first
maximum in row-major order wins a tie. Row-major order inside a window is the order
of the flat positions h * W + w, so "first" is "smallest position", which is what
lets the search for the winner be separable too.
"""
import numpy as np

from fastconv.buffers import empty
from fastconv.shapes import check_index_range, pool2d_geometry

from .jit import helper, pool_kernel, prange


#: The planes of a batch are shared out in at most this many parallel tasks, so each
#: task allocates its scratch rows once for many planes (an allocation per plane cost
#: more than pooling a 10 x 10 plane).
TASKS = 64

#: Max-pool backward zeroes planes of dx larger than this row by row, as it scatters
#: (half of L1: the scatter also streams dy and the indices through it).
ROW_BY_ROW_BYTES = 16 * 1024


@helper
def task_count(planes):
    return min(planes, TASKS)


@helper
def planes_of(task, tasks, planes):
    """The planes [first, last) that task ``task`` of ``tasks`` pools."""
    return task * planes // tasks, (task + 1) * planes // tasks


@helper
def covered_rows(i, kh, sh, ph, H):
    """The input rows [lo, hi) that the windows of output row i cover (never empty)."""
    top = i * sh - ph
    return max(top, 0), min(top + kh, H)


@helper
def covering_outputs(h, kh, sh, ph, OH):
    """The output rows [lo, hi) whose windows cover input row h: i * sh - ph <= h < i * sh - ph + kh."""
    lo = max(0, (h + ph - kh) // sh + 1)
    hi = min(OH, (h + ph) // sh + 1)
    return lo, max(lo, hi)


@helper
def larger(value, current):
    """Whether ``value`` replaces ``current`` as a running maximum: it is larger, or
    it is the first NaN."""
    return (value > current) | ((value != value) & (current == current))


@helper
def wins(value, at, current, current_at):
    """Whether element (value, at) beats the best so far: larger, or as large (NaN
    counts as equal to NaN) and first in row-major order."""
    same = (value == current) | ((value != value) & (current != current))
    return larger(value, current) | (same & (at < current_at))


@helper
def keep_larger(best, candidates):
    """best = the running maximum of best and candidates, element by element."""
    for j in range(best.size):
        value = candidates[j]
        best[j] = value if larger(value, best[j]) else best[j]


@helper
def keep_winners(best, best_at, candidates, candidates_at):
    """(best, best_at) = the winner of each pair of (value, position), element by element."""
    for j in range(best.size):
        value, at = candidates[j], candidates_at[j]
        take = wins(value, at, best[j], best_at[j])
        best[j] = value if take else best[j]
        best_at[j] = at if take else best_at[j]


@helper
def row_positions(h, W, at):
    """at[w] = h * W + w: the flat positions of row h of a plane."""
    for w in range(W):
        at[w] = h * W + w


@helper
def window_column(padded, s, sw, column):
    """column[j] = padded[j * sw + s]: offset s of every window, made contiguous. (With
    the stride 2 spelled out, LLVM loads the even or odd numbers as SIMD vectors.)"""
    if sw == 2:
        for j in range(column.size):
            column[j] = padded[2 * j + s]
    else:
        for j in range(column.size):
            column[j] = padded[j * sw + s]


@helper
def add_window_column(padded, s, sw, total):
    """total[j] += padded[j * sw + s] (:func:`window_column`, added)."""
    if sw == 2:
        for j in range(total.size):
            total[j] += padded[2 * j + s]
    else:
        for j in range(total.size):
            total[j] += padded[j * sw + s]


@helper
def spread_window_column(share, s, sw, padded):
    """padded[j * sw + s] += share[j]: the transpose of :func:`add_window_column`."""
    if sw == 2:
        for j in range(share.size):
            padded[2 * j + s] += share[j]
    else:
        for j in range(share.size):
            padded[j * sw + s] += share[j]


@pool_kernel
def _max_forward(x, y, kh, kw, sh, sw, ph, pw):
    """Row maxima down the covered rows, then the maximum of each window's kw columns.

    Both passes end in the same contiguous running-maximum loop (:func:`keep_larger`):
    the window columns are first copied out of the strided row buffer, because LLVM
    turns a select it cannot vectorize into a branch, which random data mispredicts
    half of the time.
    """
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    tasks = task_count(N * C)
    for task in prange(tasks):
        padded = np.full(W + 2 * pw, -np.inf, x.dtype)
        maxima, column = padded[pw:pw + W], np.empty(OW, x.dtype)
        first, last = planes_of(task, tasks, N * C)
        for p in range(first, last):
            plane, out = x[p // C, p % C], y[p // C, p % C]
            for i in range(OH):
                lo, hi = covered_rows(i, kh, sh, ph, H)
                maxima[:] = plane[lo]
                for h in range(lo + 1, hi):
                    keep_larger(maxima, plane[h])
                best = out[i]
                window_column(padded, 0, sw, best)
                for s in range(1, kw):
                    window_column(padded, s, sw, column)
                    keep_larger(best, column)


@pool_kernel
def _max_forward_indices(x, y, indices, kh, kw, sh, sw, ph, pw):
    """As :func:`_max_forward`, carrying each running maximum's flat position h * W + w.

    The padding columns of the row buffer hold position H * W, after every real one,
    so a real -inf beats the padding's -inf in a tie, as PyTorch answers a window of
    -inf values with its first real element.
    """
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    tasks = task_count(N * C)
    for task in prange(tasks):
        padded = np.full(W + 2 * pw, -np.inf, x.dtype)
        padded_at = np.full(W + 2 * pw, H * W, np.int64)
        maxima, maxima_at = padded[pw:pw + W], padded_at[pw:pw + W]
        row_at = np.empty(W, np.int64)
        column, column_at = np.empty(OW, x.dtype), np.empty(OW, np.int64)
        first, last = planes_of(task, tasks, N * C)
        for p in range(first, last):
            plane, out, where = x[p // C, p % C], y[p // C, p % C], indices[p // C, p % C]
            for i in range(OH):
                lo, hi = covered_rows(i, kh, sh, ph, H)
                maxima[:] = plane[lo]
                row_positions(lo, W, maxima_at)
                for h in range(lo + 1, hi):
                    row_positions(h, W, row_at)
                    keep_winners(maxima, maxima_at, plane[h], row_at)
                best, best_at = out[i], where[i]
                window_column(padded, 0, sw, best)
                window_column(padded_at, 0, sw, best_at)
                for s in range(1, kw):
                    window_column(padded, s, sw, column)
                    window_column(padded_at, s, sw, column_at)
                    keep_winners(best, best_at, column, column_at)


@helper
def scatter_row(grad, gradient, where, limit):
    """grad[where[j]] += gradient[j] if every position is below ``limit``; whether one
    was not (and then nothing is written).

    Positions are read as unsigned, so a negative one is not below ``limit`` either.
    The largest is found first, in one pass that LLVM vectorizes: cheaper than testing
    each position in the scatter (28 x 28 planes: 0.10 ms instead of 0.12).
    """
    top = np.uint64(0)
    for j in range(where.size):
        top = max(top, np.uint64(where[j]))
    if top >= limit:
        return True
    for j in range(where.size):
        grad[np.uint64(where[j])] += gradient[j]
    return False


@pool_kernel
def _max_backward_indices(dy, indices, dx, outside, kh, sh, ph, row_by_row):
    """dx = 0, then each dy goes to its window's winner, at its index in the task's
    own plane. What costs is the scatter's read-add-write of dx, so each plane is zeroed
    right before, while it is in cache.

    A plane larger than L1 (``row_by_row``) is zeroed a few rows at a time instead, just
    before the first output row whose windows reach them, so that the scatter adds to
    lines that are still in L1 (8 x 64 x 112 x 112, 3 x 3 windows, stride 2: 1.0 ms
    instead of 1.4). A winner lies in its window's rows, so it is always in a zeroed row;
    an index that is not (it did not come from the forward) misses, and the plane is
    done again, all zeroed first. An index outside the plane is never written: outside[p]
    says plane p had one, and the caller raises.
    """
    N, C, H, W = dx.shape
    OH = dy.shape[2]
    plane = np.uint64(H * W)
    for p in prange(N * C):
        grad, gradient, where = dx[p // C, p % C].reshape(H * W), dy[p // C, p % C], indices[p // C, p % C]
        zeroed = 0
        if not row_by_row:
            grad[:] = 0.0
            zeroed = H * W
        missed = False
        for i in range(OH):
            if row_by_row:
                reach = min(H, i * sh - ph + kh) * W
                grad[zeroed:reach] = 0.0
                zeroed = max(zeroed, reach)
            missed |= scatter_row(grad, gradient[i], where[i], np.uint64(zeroed))
        grad[zeroed:] = 0.0
        outside[p] = False
        if missed:
            grad[:] = 0.0
            for i in range(OH):
                outside[p] |= scatter_row(grad, gradient[i], where[i], plane)


@pool_kernel
def _avg_forward(x, y, kh, kw, sh, sw, ph, pw):
    """Column sums down the covered rows, then each window's kw columns summed and
    divided by the window area (zero padding counted, as PyTorch)."""
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    area = kh * kw
    tasks = task_count(N * C)
    for task in prange(tasks):
        padded = np.zeros(W + 2 * pw, x.dtype)
        sums = padded[pw:pw + W]
        first, last = planes_of(task, tasks, N * C)
        for p in range(first, last):
            plane, out = x[p // C, p % C], y[p // C, p % C]
            for i in range(OH):
                lo, hi = covered_rows(i, kh, sh, ph, H)
                sums[:] = plane[lo]
                for h in range(lo + 1, hi):
                    row = plane[h]
                    for w in range(W):
                        sums[w] += row[w]
                total = out[i]
                window_column(padded, 0, sw, total)
                for s in range(1, kw):
                    add_window_column(padded, s, sw, total)
                for j in range(OW):
                    total[j] /= area


@pool_kernel
def _avg_backward(dy, dx, kh, kw, sh, sw, ph, pw):
    """The transpose of the forward, with each dx row written once.

    First every dy row, divided by the area (once, not once per window column: 1.2x
    faster on 2 x 2 windows, 1.75x on 3 x 3), is spread over the kw columns of its
    windows (pass 2 transposed) into a padded buffer row. Then each dx row is the sum
    of the buffer rows of the output rows whose windows cover it (pass 1 transposed),
    or zero where none does (stride larger than the window).
    """
    N, C, H, W = dx.shape
    OH, OW = dy.shape[2], dy.shape[3]
    area = kh * kw
    tasks = task_count(N * C)
    for task in prange(tasks):
        spread = np.empty((OH, W + 2 * pw), dx.dtype)
        share = np.empty(OW, dx.dtype)
        first, last = planes_of(task, tasks, N * C)
        for p in range(first, last):
            gradient, grad = dy[p // C, p % C], dx[p // C, p % C]
            spread[:] = 0.0
            for i in range(OH):
                row, dy_row = spread[i], gradient[i]
                for j in range(OW):
                    share[j] = dy_row[j] / area
                for s in range(kw):
                    spread_window_column(share, s, sw, row)
            for h in range(H):
                lo, hi = covering_outputs(h, kh, sh, ph, OH)
                row = grad[h]
                if lo == hi:
                    row[:] = 0.0
                    continue
                row[:] = spread[lo, pw:pw + W]
                for i in range(lo + 1, hi):
                    source = spread[i, pw:]
                    for w in range(W):
                        row[w] += source[w]


@pool_kernel
def _avg_forward_2x2(x, y):
    """:func:`_avg_forward` for 2 x 2 windows, stride 2, no padding (LeNet's): each
    output is the mean of four numbers read straight from two rows, whose even and odd
    columns LLVM loads as SIMD vectors (3x faster than the two passes through a row
    buffer, whose loops are as short as the rows)."""
    N, C = x.shape[0], x.shape[1]
    OH, OW = y.shape[2], y.shape[3]
    for p in prange(N * C):
        plane, out = x[p // C, p % C], y[p // C, p % C]
        for i in range(OH):
            upper, lower, mean = plane[2 * i], plane[2 * i + 1], out[i]
            for j in range(OW):
                mean[j] = (upper[2 * j] + upper[2 * j + 1] + lower[2 * j] + lower[2 * j + 1]) / 4


@pool_kernel
def _avg_backward_2x2(dy, dx):
    """:func:`_avg_backward` for 2 x 2 windows, stride 2, no padding: each dy, divided
    by 4, written to the four numbers of its window; a last row or column that no
    window covers (odd H or W) gets zeros."""
    N, C, H, W = dx.shape
    OH, OW = dy.shape[2], dy.shape[3]
    for p in prange(N * C):
        gradient, grad = dy[p // C, p % C], dx[p // C, p % C]
        for i in range(OH):
            share, upper, lower = gradient[i], grad[2 * i], grad[2 * i + 1]
            for j in range(OW):
                upper[2 * j] = upper[2 * j + 1] = lower[2 * j] = lower[2 * j + 1] = share[j] / 4
            upper[2 * OW :] = 0.0
            lower[2 * OW :] = 0.0
        grad[2 * OH :] = 0.0


#: The arguments (kh, kw, sh, sw, ph, pw) of :func:`_avg_forward_2x2` and :func:`_avg_backward_2x2`.
TWO_BY_TWO = (2, 2, 2, 2, 0, 0)


def _pooling(x, kernel, stride, padding):
    """Geometry and the int arguments every pooling kernel takes."""
    g = pool2d_geometry(x, kernel, stride, padding)
    return g, (*g.kernel, *g.stride, *g.padding)


def max_pool2d_forward(x, kernel, stride, padding):
    """y[n, c, i, j] = max of the window (i, j) of x[n, c], padding -inf."""
    g, args = _pooling(x, kernel, stride, padding)
    y = empty(g.output_shape, x.dtype)
    _max_forward(x, y, *args)
    return y


def max_pool2d_forward_indices(x, kernel, stride, padding):
    """(y, indices): the maxima and each winner's position h * W + w in its plane x[n, c]."""
    g, args = _pooling(x, kernel, stride, padding)
    y, indices = empty(g.output_shape, x.dtype), empty(g.output_shape, np.int64)
    _max_forward_indices(x, y, indices, *args)
    return y, indices


def max_pool2d_backward_indices(dy, indices, x_shape, kernel, stride, padding):
    """dx: each dy[n, c, i, j] goes to position indices[n, c, i, j] of plane dx[n, c]."""
    N, C, H, W = x_shape
    dx, outside = empty(x_shape, dy.dtype), np.empty(N * C, np.bool_)
    row_by_row = H * W * dy.itemsize > ROW_BY_ROW_BYTES
    _max_backward_indices(dy, indices, dx, outside, kernel[0], stride[0], padding[0], row_by_row)
    if outside.any():
        check_index_range(indices, H * W)
    return dx


def avg_pool2d_forward(x, kernel, stride, padding):
    """y[n, c, i, j] = sum of the window (i, j) of x[n, c] / (kh * kw), padding counted."""
    g, args = _pooling(x, kernel, stride, padding)
    y = empty(g.output_shape, x.dtype)
    if args == TWO_BY_TWO:
        _avg_forward_2x2(x, y)
    else:
        _avg_forward(x, y, *args)
    return y


def avg_pool2d_backward(dy, x, kernel, stride, padding):
    """dx: each element of a window receives dy[n, c, i, j] / (kh * kw)."""
    g, args = _pooling(x, kernel, stride, padding)
    dx = empty(g.input_shape, x.dtype)
    if args == TWO_BY_TWO:
        _avg_backward_2x2(dy, dx)
    else:
        _avg_backward(dy, dx, *args)
    return dx
