"""A shared-memory tiled GEMM with register blocking, on folded matrices.

A *folded matrix* is a 3-D device array ``T`` of shape (G, rows, P) read as the 2-D
matrix (rows, G*P) whose column ``g*P + p`` is ``T[g, :, p]``. A plain matrix is the
case G = 1. Folding lets one kernel multiply straight out of and into NCHW tensors:
``dy`` (N, K, OH*OW) is the matrix (K, N*OH*OW) without a transpose copy. Either
operand may also be used transposed.

Each block computes a TILE x TILE tile of ``C = op(A) @ op(B) + bias[:, None]``:

* per step it stages a DEPTH-deep slice of op(A) and of op(B) in shared memory, each
  element loaded from global memory once for the whole block (TILE-fold reuse);
* each of its BLOCK x BLOCK threads keeps a WORK x WORK sub-tile of C in registers and,
  per depth step, reads WORK values of A and WORK of B from shared memory to do
  WORK*WORK multiply-adds (register blocking: 2 shared loads per 2 FLOPs become
  2*WORK loads per WORK*WORK*2 FLOPs).
"""
import math

from numba import cuda

from .device import bias_or_zeros, launch, per_dtype

TILE = 64  # rows and columns of C per block
DEPTH = 16  # depth of the slices of A and B staged per step
BLOCK = 16  # threads per block along each side
WORK = TILE // BLOCK  # each thread computes WORK x WORK outputs
# One spare column makes the transposed (column-wise) staging writes hit distinct
# shared-memory banks instead of one bank TILE words apart.
ROW = TILE + 1
THREADS = BLOCK * BLOCK


@cuda.jit(device=True)
def folded_rows(T, trans):
    return T.shape[0] * T.shape[2] if trans else T.shape[1]


@cuda.jit(device=True)
def folded_cols(T, trans):
    return T.shape[1] if trans else T.shape[0] * T.shape[2]


@cuda.jit(device=True)
def stage(tile, T, trans, row0, col0, tid):
    """``tile[a, b] = op(T)[row0 + a, col0 + b]`` for a DEPTH x TILE slice, zero outside.

    Consecutive threads take consecutive elements along the axis that is contiguous in
    memory (columns of T, or rows of op(T) when transposed), so loads coalesce.
    """
    rows, cols = folded_rows(T, trans), folded_cols(T, trans)
    P = T.shape[2]
    for e in range(tid, DEPTH * TILE, THREADS):
        if trans:
            a, b = e % DEPTH, e // DEPTH
        else:
            a, b = e // TILE, e % TILE
        row, col = row0 + a, col0 + b
        if row < rows and col < cols:
            if trans:
                row, col = col, row
            g = col // P
            tile[a, b] = T[g, row, col - g * P]
        else:
            tile[a, b] = 0


@per_dtype
def _gemm_kernel(ftype):
    @cuda.jit
    def gemm(A, trans_a, B, trans_b, bias, C):
        """C = op(A) @ op(B) + bias[:, None] on folded matrices; grid (col tiles, row tiles).

        The naive loops read two operands from memory per multiply-add; here each
        operand is read from global memory once per block and from shared memory once
        per WORK multiply-adds, so the arithmetic units, not memory, set the pace.
        """
        a_tile = cuda.shared.array((DEPTH, ROW), ftype)  # a_tile[k, m] = op(A)[m0 + m, k0 + k]
        b_tile = cuda.shared.array((DEPTH, ROW), ftype)  # b_tile[k, n] = op(B)[k0 + k, n0 + n]
        acc = cuda.local.array((WORK, WORK), ftype)
        a_reg = cuda.local.array(WORK, ftype)
        b_reg = cuda.local.array(WORK, ftype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid = ty * BLOCK + tx
        m0, n0 = cuda.blockIdx.y * TILE, cuda.blockIdx.x * TILE
        M, N = C.shape[1], C.shape[0] * C.shape[2]
        depth = folded_cols(A, trans_a)
        for u in range(WORK):
            for v in range(WORK):
                acc[u, v] = 0
        # A thread whose whole sub-tile lies outside C (an edge block) skips the
        # arithmetic, but still stages its share and reaches every syncthreads().
        inside = m0 + ty < M and n0 + tx < N
        for k0 in range(0, depth, DEPTH):
            stage(a_tile, A, not trans_a, k0, m0, tid)
            stage(b_tile, B, trans_b, k0, n0, tid)
            cuda.syncthreads()
            if inside:
                for k in range(min(DEPTH, depth - k0)):
                    for u in range(WORK):
                        a_reg[u] = a_tile[k, ty + u * BLOCK]
                    for v in range(WORK):
                        b_reg[v] = b_tile[k, tx + v * BLOCK]
                    for u in range(WORK):
                        for v in range(WORK):
                            acc[u, v] += a_reg[u] * b_reg[v]
            cuda.syncthreads()
        P = C.shape[2]
        for u in range(WORK):
            m = m0 + ty + u * BLOCK
            for v in range(WORK):
                n = n0 + tx + v * BLOCK
                if m < M and n < N:
                    g = n // P
                    C[g, m, n - g * P] = acc[u, v] + bias[m]

    return gemm


def matmul(A, trans_a, B, trans_b, C, bias=None):
    """Write ``op(A) @ op(B) (+ bias per row)`` into the folded device matrix C."""
    M, N = C.shape[1], C.shape[0] * C.shape[2]
    grid = (math.ceil(N / TILE), math.ceil(M / TILE))
    bias = bias_or_zeros(bias, M, C.dtype)
    launch(_gemm_kernel(C.dtype), grid, (BLOCK, BLOCK), A, trans_a, B, trans_b, bias, C)
    return C
