"""conv2d forward on the GPU, three versions (see the package docstring).

All three compute, with ``x_pad`` the zero-padded input::

    y[n, k, i, j] = b[k] + sum_{c, r, s} w[k, c, r, s] * x_pad[n, c, i*sh + r*dh, j*sw + s*dw]

Padding is never materialised: a tap that falls outside x reads zero.
"""
import math

from numba import cuda

from fastconv.shapes import output_size

from . import gemm
from .device import bias_or_zeros, empty, grid_1d, launch, per_dtype
from .im2col import im2col
from .window import unravel

TILE_SIDE = 16  # v2: an output tile is at most 16x16 pixels, one thread each
FILTERS = 8  # v2: filters per block, accumulated in registers by every thread
SHARED_BYTES = 48 * 1024  # v2: the dynamic shared memory a block may use without opting in


@per_dtype
def _direct_kernel(ftype):
    @cuda.jit
    def conv2d_direct(x, w, b, y, sh, sw, ph, pw, dh, dw):
        """v1: one thread per output element, every operand read from global memory.

        The naive loops visit the outputs one after another; here all N*K*OH*OW of
        them run at once. Each thread still re-reads its window of x and the whole
        filter w[k] from global memory (only the caches help), so it is memory-bound.
        Taps on the padding multiply a zero, as in the naive kernel (an infinite weight
        makes NaN there too).
        """
        index = cuda.grid(1)
        K, OH, OW = y.shape[1], y.shape[2], y.shape[3]
        C, R, S = w.shape[1], w.shape[2], w.shape[3]
        H, W = x.shape[2], x.shape[3]
        if index < y.size:
            n, k, i, j = unravel(index, K, OH, OW)
            acc = ftype(0)
            for c in range(C):
                for r in range(R):
                    h = i * sh + r * dh - ph
                    for s in range(S):
                        v = j * sw + s * dw - pw
                        pixel = x[n, c, h, v] if 0 <= h < H and 0 <= v < W else ftype(0)
                        acc += pixel * w[k, c, r, s]
            y[n, k, i, j] = acc + b[k]

    return conv2d_direct


@per_dtype
def _tiled_kernel(ftype):
    @cuda.jit
    def conv2d_tiled(x, w, b, y, sh, sw, ph, pw, dh, dw):
        """v2: a block computes one output tile for FILTERS filters from shared memory.

        Per input channel, the block first copies the input patch its tile needs (the
        tile plus its halo) and the FILTERS filters' R x S taps into shared memory, then
        every thread computes its pixel for all FILTERS filters from there. Each input
        value is fetched from global memory once per block instead of once per tap and
        filter (R*S*FILTERS times fewer reads), and filter taps are broadcast reads.
        Threads past the edge of the output skip the arithmetic, but still load their
        share and reach every syncthreads().
        """
        K, OH, OW = y.shape[1], y.shape[2], y.shape[3]
        C, R, S = w.shape[1], w.shape[2], w.shape[3]
        H, W = x.shape[2], x.shape[3]
        tw, th = cuda.blockDim.x, cuda.blockDim.y
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid = ty * tw + tx
        threads = tw * th
        tiles_w = (OW + tw - 1) // tw
        i0 = cuda.blockIdx.x // tiles_w * th
        j0 = cuda.blockIdx.x % tiles_w * tw
        k0 = cuda.blockIdx.y * FILTERS
        n = cuda.blockIdx.z
        inside = i0 + ty < OH and j0 + tx < OW
        patch_h = (th - 1) * sh + (R - 1) * dh + 1
        patch_w = (tw - 1) * sw + (S - 1) * dw + 1
        taps = R * S
        shared = cuda.shared.array(0, ftype)
        patch = shared[: patch_h * patch_w]
        filters = shared[patch_h * patch_w : patch_h * patch_w + FILTERS * taps]
        acc = cuda.local.array(FILTERS, ftype)
        for f in range(FILTERS):
            acc[f] = 0
        for c in range(C):
            for e in range(tid, patch_h * patch_w, threads):
                h = i0 * sh + e // patch_w - ph
                v = j0 * sw + e % patch_w - pw
                patch[e] = x[n, c, h, v] if 0 <= h < H and 0 <= v < W else ftype(0)
            for e in range(tid, FILTERS * taps, threads):
                k = k0 + e // taps
                filters[e] = w[k, c, e % taps // S, e % S] if k < K else ftype(0)
            cuda.syncthreads()
            if inside:
                for r in range(R):
                    for s in range(S):
                        value = patch[(ty * sh + r * dh) * patch_w + tx * sw + s * dw]
                        for f in range(FILTERS):
                            acc[f] += value * filters[f * taps + r * S + s]
            cuda.syncthreads()
        if inside:
            for f in range(FILTERS):
                if k0 + f < K:
                    y[n, k0 + f, i0 + ty, j0 + tx] = acc[f] + b[k0 + f]

    return conv2d_tiled


def direct(x, w, b, stride, padding, dilation):
    """v1 launcher: a 1-D grid over the outputs."""
    N, _, H, W = x.shape
    K, _, R, S = w.shape
    OH = output_size(H, R, stride[0], padding[0], dilation[0])
    OW = output_size(W, S, stride[1], padding[1], dilation[1])
    y = empty((N, K, OH, OW), x.dtype)
    launch(_direct_kernel(x.dtype), *grid_1d(y.size), x, w, b, y, *stride, *padding, *dilation)
    return y


def tiled(x, w, b, stride, padding, dilation):
    """v2 launcher: grid (tiles, filter groups, images), shared memory sized per call."""
    N, _, H, W = x.shape
    K, _, R, S = w.shape
    OH = output_size(H, R, stride[0], padding[0], dilation[0])
    OW = output_size(W, S, stride[1], padding[1], dilation[1])
    y = empty((N, K, OH, OW), x.dtype)
    th, tw = min(TILE_SIDE, OH), min(TILE_SIDE, OW)
    while True:  # halve the tile until the patch and the filters fit in shared memory
        patch_h = (th - 1) * stride[0] + (R - 1) * dilation[0] + 1
        patch_w = (tw - 1) * stride[1] + (S - 1) * dilation[1] + 1
        shared_bytes = (patch_h * patch_w + FILTERS * R * S) * x.dtype.itemsize
        if shared_bytes <= SHARED_BYTES or th == tw == 1:
            break
        th, tw = max(1, th // 2), max(1, tw // 2)
    grid = (math.ceil(OH / th) * math.ceil(OW / tw), math.ceil(K / FILTERS), N)
    launch(_tiled_kernel(x.dtype), grid, (tw, th), x, w, b, y, *stride, *padding, *dilation,
           shared_bytes=shared_bytes)
    return y


def im2col_gemm(x, w, b, stride, padding, dilation):
    """v3: unfold x into columns once, then one tiled GEMM ``y = w @ cols + b``.

    ``cols`` is (C*R*S, N*OH*OW); the GEMM writes column n*OH*OW + p straight into
    ``y[n, :, p]``, so no transpose pass is needed afterwards.
    """
    N, K = x.shape[0], w.shape[0]
    cols, (OH, OW) = im2col(x, w.shape[2:], stride, padding, dilation)
    y = empty((N, K, OH, OW), x.dtype)
    gemm.matmul(w.reshape(1, K, w.size // K), False, cols, False, y.reshape(N, K, OH * OW), b)
    return y


ALGORITHMS = {"v1_direct": direct, "v2_tiled": tiled, "v3_im2col": im2col_gemm}


def conv2d_forward(x, w, b, stride, padding, dilation, algorithm):
    """Run one version on device arrays (``b`` may be None)."""
    return ALGORITHMS[algorithm](x, w, bias_or_zeros(b, w.shape[0], x.dtype), stride, padding, dilation)

