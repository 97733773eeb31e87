"""Max and average pooling as direct loops, one thread per (image, channel) plane.

Compared with the naive loops, no padded copy of x is made: each window is clipped to
the image, which is exact because max pooling pads with -inf (never the maximum of a
window that holds a real element, and PyTorch's padding rule guarantees one) and the
zeros of average pooling add nothing to the sum (the divisor stays kh*kw). Loops run
on typed memory without the GIL, planes in parallel. The backward passes write every
element of dx themselves (zero, then sum), so the output buffer needs no zeroing.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY

include "_windows.pxi"


cdef inline Py_ssize_t window_argmax(const floating[:, :, ::1] x, Py_ssize_t n, Py_ssize_t c,
                                     Py_ssize_t H, Py_ssize_t W, Py_ssize_t top, Py_ssize_t left,
                                     Py_ssize_t kh, Py_ssize_t kw) except -1 nogil:
    """Flat index h*W + w in plane x[n, c] of the maximum of the window at (top, left), clipped.

    Ties go to the first maximum in row-major order and the first NaN wins, as
    np.argmax: a later element replaces the best only if it is larger, or if it is a
    NaN and the best is not.
    """
    cdef Py_ssize_t h, at
    cdef Py_ssize_t w_lo = max(left, 0), w_hi = min(left + kw, W)
    cdef Py_ssize_t best_at = max(top, 0) * W + w_lo
    cdef floating value, best = x[n, c, best_at]
    for h in range(max(top, 0), min(top + kh, H)):
        for at in range(h * W + w_lo, h * W + w_hi):
            value = x[n, c, at]
            if value > best or (value != value and best == best):
                best = value
                best_at = at
    return best_at


def max_pool2d_forward(const floating[:, :, ::1] x, floating[:, :, :, ::1] y, g):
    """y[n, c, i, j] = the maximum of window (i, j) of plane x[n, c] (x flattened to (N, C, H*W)).

    Row by row: output row i starts at -inf (the padding value) and, for each offset
    (r, s) of the window, takes the running maximum with the input row it covers over
    all its windows at once. The inner loop has no dependency from one window to the
    next and a branch-free select, where a loop per window would wait on each compare.
    A NaN wins and then stays, as in np.max.
    """
    cdef Py_ssize_t N = g.N, C = g.C, H = g.H, W = g.W, OH = g.OH, OW = g.OW
    cdef Py_ssize_t kh = g.kernel[0], kw = g.kernel[1]
    cdef Py_ssize_t sh = g.stride[0], sw = g.stride[1], ph = g.padding[0], pw = g.padding[1]
    cdef Py_ssize_t[:, ::1] taps = tap_ranges(kw, 1, sw, pw, W, OW)
    cdef Py_ssize_t plane, n, c, i, j, r, s, start
    cdef floating best, value
    for plane in prange(N * C, nogil=True, schedule="static"):
        n = plane // C
        c = plane % C
        for i in range(OH):
            for j in range(OW):
                y[n, c, i, j] = -INFINITY
            for r in range(max(ph - i * sh, 0), min(H + ph - i * sh, kh)):
                for s in range(kw):
                    start = (i * sh - ph + r) * W + s - pw
                    for j in range(taps[s, 0], taps[s, 1]):
                        best = y[n, c, i, j]
                        value = x[n, c, start + j * sw]
                        y[n, c, i, j] = best if (best >= value) | (best != best) else value


def max_pool2d_forward_indices(const floating[:, :, ::1] x, floating[:, :, :, ::1] y,
                               long long[:, :, :, ::1] indices, g):
    """y[n, c, i, j] = the maximum of window (i, j) of plane x[n, c], and indices[n, c, i, j]
    its flat position h*W + w in the plane (x flattened to (N, C, H*W)).

    One window at a time (:func:`window_argmax`), where the forward without indices
    goes row by row: the search has to remember a position, not just a value.
    """
    cdef Py_ssize_t N = g.N, C = g.C, H = g.H, W = g.W, OH = g.OH, OW = g.OW
    cdef Py_ssize_t kh = g.kernel[0], kw = g.kernel[1]
    cdef Py_ssize_t sh = g.stride[0], sw = g.stride[1], ph = g.padding[0], pw = g.padding[1]
    cdef Py_ssize_t plane, n, c, i, j, at
    for plane in prange(N * C, nogil=True, schedule="static"):
        n = plane // C
        c = plane % C
        for i in range(OH):
            for j in range(OW):
                at = window_argmax(x, n, c, H, W, i * sh - ph, j * sw - pw, kh, kw)
                y[n, c, i, j] = x[n, c, at]
                indices[n, c, i, j] = at


def max_pool2d_backward_indices(const floating[:, :, :, ::1] dy, const long long[:, :, :, ::1] indices,
                                floating[:, :, ::1] dx):
    """dx = 0, then each dy[n, c, i, j] is added at position indices[n, c, i, j] of plane dx[n, c].

    dx is flattened to (N, C, H*W). Windows of one plane may share a winner, but one
    thread owns the plane, so the sums do not race.
    """
    cdef Py_ssize_t N = dy.shape[0], C = dy.shape[1], OH = dy.shape[2], OW = dy.shape[3]
    cdef Py_ssize_t HW = dx.shape[2]
    cdef Py_ssize_t plane, n, c, i, j, at
    for plane in prange(N * C, nogil=True, schedule="static"):
        n = plane // C
        c = plane % C
        for at in range(HW):
            dx[n, c, at] = 0
        for i in range(OH):
            for j in range(OW):
                dx[n, c, indices[n, c, i, j]] += dy[n, c, i, j]


def avg_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, g):
    """y[n, c, i, j] = the sum of window (i, j) of x[n, c], clipped to x, over kh*kw."""
    cdef Py_ssize_t N = g.N, C = g.C, H = g.H, W = g.W, OH = g.OH, OW = g.OW
    cdef Py_ssize_t kh = g.kernel[0], kw = g.kernel[1]
    cdef Py_ssize_t sh = g.stride[0], sw = g.stride[1], ph = g.padding[0], pw = g.padding[1]
    cdef Py_ssize_t plane, n, c, i, j, h, w, top, left
    cdef floating total
    for plane in prange(N * C, nogil=True, schedule="static"):
        n = plane // C
        c = plane % C
        for i in range(OH):
            top = i * sh - ph
            for j in range(OW):
                left = j * sw - pw
                total = 0
                for h in range(max(top, 0), min(top + kh, H)):
                    for w in range(max(left, 0), min(left + kw, W)):
                        total = total + x[n, c, h, w]
                y[n, c, i, j] = total / (kh * kw)


def avg_pool2d_backward(const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx, g):
    """dx = 0, then each window (i, j) adds its share dy[n, c, i, j] / (kh*kw) to its elements.

    Windows of one plane may overlap, but one thread owns the plane, so the sums do
    not race. Visiting windows costs one loop per window instead of one per input
    pixel (as a gather would), four times fewer for the common 2x2 window.
    """
    cdef Py_ssize_t N = g.N, C = g.C, H = g.H, W = g.W, OH = g.OH, OW = g.OW
    cdef Py_ssize_t kh = g.kernel[0], kw = g.kernel[1]
    cdef Py_ssize_t sh = g.stride[0], sw = g.stride[1], ph = g.padding[0], pw = g.padding[1]
    cdef Py_ssize_t plane, n, c, i, j, h, w, top, left
    cdef floating share
    for plane in prange(N * C, nogil=True, schedule="static"):
        n = plane // C
        c = plane % C
        for h in range(H):
            for w in range(W):
                dx[n, c, h, w] = 0
        for i in range(OH):
            top = i * sh - ph
            for j in range(OW):
                left = j * sw - pw
                share = dy[n, c, i, j] / (kh * kw)
                for h in range(max(top, 0), min(top + kh, H)):
                    for w in range(max(left, 0), min(left + kw, W)):
                        dx[n, c, h, w] += share
