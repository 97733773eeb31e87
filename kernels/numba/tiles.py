"""Small matrix products in register tiles: the arithmetic of the direct conv2d kernels.

Both tiles loop along the rows they read (long and contiguous) and keep their
coefficients and running sums in local variables, which LLVM holds in registers:

* :func:`dot_tile` computes 4 x 2 dot products at once. Its loop is a sum, so with
  ``reassoc`` LLVM splits each of the 8 sums into SIMD lanes (vector fused
  multiply-adds) and adds the lanes up after the loop; ``out`` is touched only then.
  Every number it loads feeds 2 or 4 multiply-adds (6 loads for 8), which is what lets
  it run near the machine's multiply-add rate instead of its load rate. (Measured alone,
  float32, on the products of lenet_c2, mnist_c2 and keras_c2: 4 x 2 beat 2 x 4 by
  5-25% and 3 x 4 or 2 x 6 by 1.5-2x, probably register spills; on lenet_c1's short
  rows 2 x 4 was faster.)
* :func:`update_tile` adds 2 x 4 products to each element of two rows in place
  (``acc[k] += sum of d[k, j] * rows[j]`` over 4 rows j): each element of ``acc`` is
  read and written once per 4 multiply-adds, and each loaded element of the rows
  feeds 2. Its loop runs along the rows of ``acc``: no sums to reduce at the end.

Loops index views from 0 (``a[i, first:]``, then ``t in range(stop - first)``): Numba
must handle negative indices, and only for a counter that starts at 0 can LLVM prove
there are none and vectorize.

Callers pad their operands with zeros to whole tiles (row counts to multiples of the
tile sizes, row lengths to a multiple of :data:`LANES`), so every tile is a full one.
"""
import numpy as np

from .jit import helper

#: Rows of ``a`` (and of ``out``) that :func:`dot_tile` covers at once.
DOT_ROWS = 4
#: Rows of ``b`` (columns of ``out``) that :func:`dot_tile` covers at once.
DOT_COLUMNS = 2
#: Rows of ``acc`` that :func:`update_tile` covers at once.
UPDATE_ROWS = 2
#: Rows of ``rows`` (columns of ``d``) that :func:`update_tile` adds at once.
UPDATE_TERMS = 4
#: Vector loops run over a multiple of this many elements (8 float32 = one AVX register).
LANES = 8


@helper
def padded(count, multiple):
    """count rounded up to a multiple of ``multiple``."""
    return -(-count // multiple) * multiple


def tiled(weights, bias, rows, columns):
    """The weights (K, T) and the bias (K,) padded with zeros to whole tiles: K to a
    multiple of ``rows``, T to a multiple of ``columns``."""
    K, T = weights.shape
    wt = np.zeros((padded(K, rows), padded(T, columns)), weights.dtype)
    wt[:K, :T] = weights
    bt = np.zeros(wt.shape[0], weights.dtype)
    bt[:K] = bias
    return wt, bt


@helper
def dot_tile(out, i, j, a0, a1, a2, a3, b0, b1, count):
    """out[i:i+4, j:j+2] += [a0, a1, a2, a3] @ [b0, b1].T over the first ``count`` numbers
    of each row (views of one matrix)."""
    s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = out.dtype.type(0)
    for t in range(count):
        u, v = b0[t], b1[t]
        s00 += a0[t] * u
        s01 += a0[t] * v
        s10 += a1[t] * u
        s11 += a1[t] * v
        s20 += a2[t] * u
        s21 += a2[t] * v
        s30 += a3[t] * u
        s31 += a3[t] * v
    out[i, j] += s00
    out[i, j + 1] += s01
    out[i + 1, j] += s10
    out[i + 1, j + 1] += s11
    out[i + 2, j] += s20
    out[i + 2, j + 1] += s21
    out[i + 3, j] += s30
    out[i + 3, j + 1] += s31


@helper
def product(a, b, out, first, stop):
    """out += a[:, first:stop] @ b[:, first:stop].T, one :func:`dot_tile` at a time
    (numbers of rows: multiples of the tile)."""
    for i in range(0, a.shape[0], DOT_ROWS):
        for j in range(0, b.shape[0], DOT_COLUMNS):
            dot_tile(out, i, j, a[i, first:], a[i + 1, first:], a[i + 2, first:],
                     a[i + 3, first:], b[j, first:], b[j + 1, first:], stop - first)


@helper
def update_tile(acc, d, k, j, r0, r1, r2, r3):
    """acc[k:k+2] += d[k:k+2, j:j+4] @ [r0, r1, r2, r3] (four rows at least as long as
    those of acc; views of one matrix)."""
    acc0, acc1 = acc[k], acc[k + 1]
    d00, d01, d02, d03 = d[k, j], d[k, j + 1], d[k, j + 2], d[k, j + 3]
    d10, d11, d12, d13 = d[k + 1, j], d[k + 1, j + 1], d[k + 1, j + 2], d[k + 1, j + 3]
    for t in range(acc.shape[1]):
        u0, u1, u2, u3 = r0[t], r1[t], r2[t], r3[t]
        acc0[t] += d00 * u0 + d01 * u1 + d02 * u2 + d03 * u3
        acc1[t] += d10 * u0 + d11 * u1 + d12 * u2 + d13 * u3


@helper
def update(acc, d, rows):
    """acc += d @ rows, one :func:`update_tile` at a time (shapes: multiples of the tile)."""
    for k in range(0, acc.shape[0], UPDATE_ROWS):
        for j in range(0, rows.shape[0], UPDATE_TERMS):
            update_tile(acc, d, k, j, rows[j], rows[j + 1], rows[j + 2], rows[j + 3])
