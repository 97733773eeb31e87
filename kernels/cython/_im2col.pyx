"""im2col and col2im: the two halves of convolution as one matrix product.

im2col copies every input window into a column, so that conv2d forward is one GEMM of
the filters with the columns, and the weight gradient one GEMM of dy with them.
col2im folds the columns back (the input gradient). Both take the geometry from
:func:`fastconv.shapes.conv2d_geometry` and work in the column layout::

    cols[(c*R + r)*S + s, n, i*OW + j] = x[n, c, i*sh - ph + r*dh, j*sw - pw + s*dw]   (0 outside x)

Compared with the naive loops, which visit one output pixel at a time and slice a
padded copy of x: no padded copy is made (the rows and columns outside x are written
as zeros directly), the range of output columns whose tap stays inside the image is
computed once per kernel column, so the inner loop is a branch-free strided copy, and
the (image, channel) planes run in parallel threads without the GIL.
"""
from cython cimport floating
from cython.parallel cimport prange

cdef extern from *:
    """
    #ifdef _OPENMP
    #define FASTCONV_OPENMP 1
    #else
    #define FASTCONV_OPENMP 0
    #endif
    """
    int FASTCONV_OPENMP

OPENMP = bool(FASTCONV_OPENMP)


include "_windows.pxi"


def im2col(const floating[:, :, :, ::1] x, floating[:, :, ::1] cols, g):
    """Fill ``cols`` (C*R*S, N, OH*OW) with the windows of ``x`` (N, C, H, W); ``g`` is the geometry."""
    cdef Py_ssize_t N = g.N, C = g.C, H = g.H, R = g.R, S = g.S, OH = g.OH, OW = g.OW
    cdef Py_ssize_t sh = g.stride[0], sw = g.stride[1], ph = g.padding[0], pw = g.padding[1]
    cdef Py_ssize_t dh = g.dilation[0], dw = g.dilation[1]
    cdef Py_ssize_t[:, ::1] taps = tap_ranges(S, dw, sw, pw, g.W, OW)
    cdef Py_ssize_t plane, n, c, r, s, row, i, j, h, left, lo, hi, out
    for plane in prange(N * C, nogil=True, schedule="static"):
        n = plane // C
        c = plane % C
        for r in range(R):
            for s in range(S):
                row = (c * R + r) * S + s
                left = s * dw - pw
                lo = taps[s, 0]
                hi = taps[s, 1]
                for i in range(OH):
                    h = i * sh - ph + r * dh
                    out = i * OW
                    if h < 0 or h >= H:
                        for j in range(OW):
                            cols[row, n, out + j] = 0
                        continue
                    for j in range(lo):
                        cols[row, n, out + j] = 0
                    for j in range(lo, hi):
                        cols[row, n, out + j] = x[n, c, h, j * sw + left]
                    for j in range(hi, OW):
                        cols[row, n, out + j] = 0


def col2im(const floating[:, :, ::1] cols, floating[:, :, :, ::1] dx, g):
    """dx (N, C, H, W) = the columns ``cols`` (C*R*S, N, OH*OW) folded back: a gather.

    Each input row dx[n, c, h] sums the column entries of exactly the taps that read it:
    kernel row r contributes when ``h + ph - r*dh`` is a multiple ``i*sh`` of the stride
    with 0 <= i < OH, and kernel column s through its output columns [lo, hi). One
    thread owns each (n, c) plane, so no two threads ever write the same element and
    every element is written (zeroed, then summed) by its own loop.
    """
    cdef Py_ssize_t N = g.N, C = g.C, H = g.H, W = g.W, R = g.R, S = g.S, OH = g.OH, OW = g.OW
    cdef Py_ssize_t sh = g.stride[0], sw = g.stride[1], ph = g.padding[0], pw = g.padding[1]
    cdef Py_ssize_t dh = g.dilation[0], dw = g.dilation[1]
    cdef Py_ssize_t[:, ::1] taps = tap_ranges(S, dw, sw, pw, W, OW)
    cdef Py_ssize_t plane, n, c, r, s, row, j, h, w, top, left, out
    for plane in prange(N * C, nogil=True, schedule="static"):
        n = plane // C
        c = plane % C
        for h in range(H):
            for w in range(W):
                dx[n, c, h, w] = 0
            for r in range(R):
                top = h + ph - r * dh
                if top < 0 or top % sh != 0 or top // sh >= OH:
                    continue
                out = (top // sh) * OW
                for s in range(S):
                    row = (c * R + r) * S + s
                    left = s * dw - pw
                    for j in range(taps[s, 0], taps[s, 1]):
                        dx[n, c, h, j * sw + left] += cols[row, n, out + j]
