"""conv2d backward on the GPU: dx as a gather, dw and db as reductions, no atomics.

Given dy = dL/dy, with x_pad the zero-padded input::

    dx_pad[n, c, i*sh + r*dh, j*sw + s*dw] += dy[n, k, i, j] * w[k, c, r, s]
    dw[k, c, r, s] = sum_{n, i, j} dy[n, k, i, j] * x_pad[n, c, i*sh + r*dh, j*sw + s*dw]
    db[k]          = sum_{n, i, j} dy[n, k, i, j]

The naive loops scatter each dy into dx and dw; on the GPU many threads would write the
same element at once. Here every thread or block owns the elements it writes:

* ``direct`` (used by v1 and v2): one thread per dx element gathers the dy that reached
  it; one row of threads per dw element and per db element sums its terms: every
  thread adds up a strided share of the terms in a register, then the row combines its
  partial sums in shared memory in log2(row) halving steps. Long sums get 128-thread
  rows; short sums get short rows, up to 128 threads' worth to a block;
* ``im2col_gemm`` (v3): ``dw = dy @ cols^T`` and ``dcols = w^T @ dy`` are two GEMMs
  (the first one sums over the N*OH*OW depth inside each thread), then col2im gathers
  dcols back into dx.
"""
from numba import cuda

from . import gemm
from .device import empty, grid_1d, launch, per_dtype
from .im2col import col2im, im2col
from .window import unravel, window_index

ROW_THREADS = 128  # threads of a block, and the most threads one sum may use
TERMS_PER_THREAD = 64  # fewer terms than this per thread: fewer threads per sum


# Kept in this module, next to the kernels that call it: the CUDA simulator rebinds
# ``cuda`` in the calling kernel's module for a launch, but rebinds and restores it per
# call and per thread in other modules, so a device function elsewhere that reads
# cuda.threadIdx / blockDim races with its own block's threads.
@cuda.jit(device=True)
def row_sum(partials, value):
    """Sum ``value`` over this thread's row (blockDim.x a power of two); every thread gets it.

    Every thread of the block must call it: it synchronises the block.
    """
    t = cuda.threadIdx.x
    base = cuda.threadIdx.y * cuda.blockDim.x
    partials[base + t] = value
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if t < step:
            partials[base + t] += partials[base + t + step]
        cuda.syncthreads()
        step //= 2
    return partials[base]


def launch_shape(elements: int, terms: int):
    """(blocks, (row threads, rows per block)) for ``elements`` sums of ``terms`` terms each."""
    threads = 1
    while threads < ROW_THREADS and threads * TERMS_PER_THREAD < terms:
        threads *= 2
    rows = max(1, min(ROW_THREADS // threads, elements))
    return (elements + rows - 1) // rows, (threads, rows)


@per_dtype
def _dx_kernel(ftype):
    @cuda.jit
    def conv2d_dx(dy, w, dx, sh, sw, ph, pw, dh, dw):
        """One thread per dx element sums dy * w over the (output, filter tap) pairs that read it.

        The naive loops scatter every dy into dx_pad; run in parallel, that scatter would
        need atomic adds. The gather gives every thread a private sum and one store, and
        skips the taps that land between strided outputs without touching memory.
        """
        index = cuda.grid(1)
        C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
        K, OH, OW = dy.shape[1], dy.shape[2], dy.shape[3]
        R, S = w.shape[2], w.shape[3]
        if index < dx.size:
            n, c, h, v = unravel(index, C, H, W)
            acc = ftype(0)
            for r in range(R):
                i = window_index(h + ph, r * dh, sh, OH)
                if i >= 0:
                    for s in range(S):
                        j = window_index(v + pw, s * dw, sw, OW)
                        if j >= 0:
                            for k in range(K):
                                acc += dy[n, k, i, j] * w[k, c, r, s]
            dx[n, c, h, v] = acc

    return conv2d_dx


@per_dtype
def _dw_kernel(ftype):
    @cuda.jit
    def conv2d_dw(dy, x, dw_out, sh, sw, ph, pw, dh, dw):
        """One row of threads per dw[k, c, r, s]: it shares the N*OH*OW terms, then a tree sum.

        The naive loops add into dw one term at a time; here up to 128 threads add in
        parallel into registers and combine in log2 steps, with no atomics and no
        padded copy of x.
        """
        partials = cuda.shared.array(ROW_THREADS, ftype)
        C, R, S = dw_out.shape[1], dw_out.shape[2], dw_out.shape[3]
        N, OH, OW = dy.shape[0], dy.shape[2], dy.shape[3]
        H, W = x.shape[2], x.shape[3]
        element = cuda.blockIdx.x * cuda.blockDim.y + cuda.threadIdx.y
        k, c, r, s = unravel(element, C, R, S)
        acc = ftype(0)
        if element < dw_out.size:
            for t in range(cuda.threadIdx.x, N * OH * OW, cuda.blockDim.x):
                n, i, j = t // (OH * OW), t // OW % OH, t % OW
                h = i * sh + r * dh - ph
                v = j * sw + s * dw - pw
                if 0 <= h < H and 0 <= v < W:
                    acc += dy[n, k, i, j] * x[n, c, h, v]
        total = row_sum(partials, acc)
        if element < dw_out.size and cuda.threadIdx.x == 0:
            dw_out[k, c, r, s] = total

    return conv2d_dw


@per_dtype
def _db_kernel(ftype):
    @cuda.jit
    def conv2d_db(dy, db):
        """One row of threads per db[k] sums dy[:, k] the same way."""
        partials = cuda.shared.array(ROW_THREADS, ftype)
        N, K, OH, OW = dy.shape
        k = cuda.blockIdx.x * cuda.blockDim.y + cuda.threadIdx.y
        acc = ftype(0)
        if k < K:
            for t in range(cuda.threadIdx.x, N * OH * OW, cuda.blockDim.x):
                acc += dy[t // (OH * OW), k, t // OW % OH, t % OW]
        total = row_sum(partials, acc)
        if k < K and cuda.threadIdx.x == 0:
            db[k] = total

    return conv2d_db


def bias_grad(dy):
    """db (K,) of device array dy (N, K, OH, OW)."""
    N, K, OH, OW = dy.shape
    db = empty((K,), dy.dtype)
    launch(_db_kernel(dy.dtype), *launch_shape(K, N * OH * OW), dy, db)
    return db


def direct(dy, x, w, stride, padding, dilation, input_grad):
    """Gather kernel for dx (if input_grad), reduction kernels for dw and db."""
    N, K, OH, OW = dy.shape
    dx = None
    if input_grad:
        dx = empty(x.shape, x.dtype)
        launch(_dx_kernel(x.dtype), *grid_1d(dx.size), dy, w, dx, *stride, *padding, *dilation)
    dw = empty(w.shape, w.dtype)
    launch(_dw_kernel(x.dtype), *launch_shape(w.size, N * OH * OW), dy, x, dw, *stride, *padding, *dilation)
    return dx, dw, bias_grad(dy)


def im2col_gemm(dy, x, w, stride, padding, dilation, input_grad):
    """Two GEMMs on the folded dy (K, N*OH*OW) and the columns of x, then col2im (if input_grad)."""
    N, K, OH, OW = dy.shape
    cols, _ = im2col(x, w.shape[2:], stride, padding, dilation)
    w_matrix = w.reshape(1, K, w.size // K)
    dy_matrix = dy.reshape(N, K, OH * OW)
    dw = empty(w.shape, w.dtype)
    gemm.matmul(dy_matrix, False, cols, True, dw.reshape(1, K, w.size // K))
    if not input_grad:
        return None, dw, bias_grad(dy)
    dcols = empty(cols.shape, cols.dtype)
    gemm.matmul(w_matrix, True, dy_matrix, False, dcols)
    dx = col2im(dcols, x.shape, w.shape[2:], (OH, OW), stride, padding, dilation)
    return dx, dw, bias_grad(dy)


ALGORITHMS = {"v1_direct": direct, "v2_tiled": direct, "v3_im2col": im2col_gemm}


def conv2d_backward(dy, x, w, stride, padding, dilation, algorithm, input_grad=True):
    """Run one version's backward on device arrays: (dx, dw, db), dx None without input_grad."""
    return ALGORITHMS[algorithm](dy, x, w, stride, padding, dilation, input_grad)
