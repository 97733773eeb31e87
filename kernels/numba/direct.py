"""conv2d as direct loops: the naive formula, reordered for the cache and SIMD units.

The naive kernel computes one output pixel at a time as a dot product over a
(C, R, S) window gathered with fancy indexing. These kernels compute the same sums
in a different order:

* **Whole planes per task.** Each parallel task owns one 2-D plane of the result
  (y[n, k], dx[n, c] or dw[k, c]) and is the only one to write it, so threads never
  race and the summation order is fixed whatever the thread count.
* **Tap-outer, pixel-inner.** For one input channel c and one kernel tap (r, s) the
  weight is a scalar, and the whole output plane receives ``weight * shifted input``:
  the innermost loop (:mod:`.rows`) walks one output row and one input row, at unit
  stride when the convolution stride is 1, which LLVM turns into vector fused
  multiply-adds. An output plane (at most a few tens of KiB) and an input plane stay
  in L1/L2 across all C*R*S taps.
* **No padding copies, no bounds tests in the inner loop.** The range of output
  pixels whose reads fall inside the input is computed once per tap
  (:func:`~.windows.valid_outputs`), so padding costs nothing.

Loop nests (p = the plane a task owns):

    forward   y[n, k]:  for c, r, s: for i, j in range:  y[n,k,i,j] += w[k,c,r,s] * x[n,c,i*sh+r*dh-ph, j*sw+s*dw-pw]
    dx        dx[n, c]: for k, r, s: for i, j in range:  dx[n,c,i*sh+r*dh-ph, j*sw+s*dw-pw] += w[k,c,r,s] * dy[n,k,i,j]
    dw        dw[k, c]: for n, r, s: dw[k,c,r,s] += sum_{i, j in range} dy[n,k,i,j] * x[n,c,...]
    db        db[k]:    sum over n, i, j of dy[n, k, i, j]
"""

from .jit import conv_kernel, prange
from .rows import axpy, dot
from .windows import valid_outputs


@conv_kernel
def _forward(x, w, b, y, sh, sw, ph, pw, dh, dw):
    N, C, H, W = x.shape
    K, _, R, S = w.shape
    OH, OW = y.shape[2], y.shape[3]
    for task in prange(N * K):
        n, k = task // K, task % K
        out = y[n, k]
        out[:, :] = b[k]
        for c in range(C):
            image = x[n, c]
            for r in range(R):
                i_lo, i_hi = valid_outputs(H, OH, sh, r * dh - ph)
                for s in range(S):
                    j_lo, j_hi = valid_outputs(W, OW, sw, s * dw - pw)
                    weight = w[k, c, r, s]
                    first = j_lo * sw + s * dw - pw
                    for i in range(i_lo, i_hi):
                        source = image[i * sh + r * dh - ph, first:]
                        axpy(j_hi - j_lo, weight, source, sw, out[i, j_lo:], 1)


@conv_kernel
def _input_gradient(dy, w, dx, sh, sw, ph, pw, dh, dw):
    N, C, H, W = dx.shape
    K, _, R, S = w.shape
    OH, OW = dy.shape[2], dy.shape[3]
    for task in prange(N * C):
        n, c = task // C, task % C
        grad = dx[n, c]
        grad[:, :] = 0.0
        for k in range(K):
            for r in range(R):
                i_lo, i_hi = valid_outputs(H, OH, sh, r * dh - ph)
                for s in range(S):
                    j_lo, j_hi = valid_outputs(W, OW, sw, s * dw - pw)
                    weight = w[k, c, r, s]
                    first = j_lo * sw + s * dw - pw
                    for i in range(i_lo, i_hi):
                        target = grad[i * sh + r * dh - ph, first:]
                        axpy(j_hi - j_lo, weight, dy[n, k, i, j_lo:], 1, target, sw)


@conv_kernel
def _weight_gradient(dy, x, dw_out, sh, sw, ph, pw, dh, dw):
    N, C, H, W = x.shape
    K, _, R, S = dw_out.shape
    OH, OW = dy.shape[2], dy.shape[3]
    for task in prange(K * C):
        k, c = task // C, task % C
        grad = dw_out[k, c]
        grad[:, :] = 0.0
        for n in range(N):
            image = x[n, c]
            for r in range(R):
                i_lo, i_hi = valid_outputs(H, OH, sh, r * dh - ph)
                for s in range(S):
                    j_lo, j_hi = valid_outputs(W, OW, sw, s * dw - pw)
                    first = j_lo * sw + s * dw - pw
                    total = x.dtype.type(0)
                    for i in range(i_lo, i_hi):
                        source = image[i * sh + r * dh - ph, first:]
                        total = dot(j_hi - j_lo, dy[n, k, i, j_lo:], source, sw, total)
                    grad[r, s] += total


@conv_kernel
def _bias_gradient(dy, db):
    N, K = dy.shape[0], dy.shape[1]
    for k in prange(K):
        total = 0.0
        for n in range(N):
            total += dy[n, k].sum()
        db[k] = total


def forward(x, w, b, y, g):
    """Write conv2d(x, w, b) into y (geometry g); b is an array (zeros for no bias)."""
    _forward(x, w, b, y, *g.stride, *g.padding, *g.dilation)


def input_gradient(dy, w, dx, g):
    """Write dx = dL/dx into dx."""
    _input_gradient(dy, w, dx, *g.stride, *g.padding, *g.dilation)


def weight_gradient(dy, x, dw, g):
    """Write dw = dL/dw into dw."""
    _weight_gradient(dy, x, dw, *g.stride, *g.padding, *g.dilation)


def bias_gradient(dy, db):
    """Write db = dL/db (the sum of dy over batch and space) into db."""
    _bias_gradient(dy, db)
