"""im2col and its adjoint col2im, the two data movements of the GEMM version (v3).

``cols[0, (c*R + r)*S + s, (n*OH + i)*OW + j] = x_pad[n, c, i*sh + r*dh, j*sw + s*dw]``:
each column holds the receptive field of one output pixel, so a convolution becomes one
matrix product. The leading axis of length 1 makes ``cols`` a folded matrix for
:mod:`.gemm`.
"""
from numba import cuda

from fastconv.shapes import output_size

from .device import empty, grid_1d, launch, per_dtype
from .window import unravel, window_index


@per_dtype
def _im2col_kernel(ftype):
    @cuda.jit
    def unfold(x, cols, R, S, OH, OW, sh, sw, ph, pw, dh, dw):
        """One thread per column (output pixel) copies its receptive field.

        Neighbouring threads own neighbouring columns, so for every row of ``cols``
        their writes are coalesced; zeros stand in for the padding.
        """
        column = cuda.grid(1)
        C, H, W = x.shape[1], x.shape[2], x.shape[3]
        if column < cols.shape[2]:
            j = column % OW
            i = column // OW % OH
            n = column // (OW * OH)
            for c in range(C):
                for r in range(R):
                    h = i * sh + r * dh - ph
                    for s in range(S):
                        v = j * sw + s * dw - pw
                        inside = 0 <= h < H and 0 <= v < W
                        cols[0, (c * R + r) * S + s, column] = x[n, c, h, v] if inside else ftype(0)

    return unfold


@per_dtype
def _col2im_kernel(ftype):
    @cuda.jit
    def fold(cols, dx, R, S, OH, OW, sh, sw, ph, pw, dh, dw):
        """One thread per element of dx gathers every column entry that was copied from it.

        The adjoint of im2col sums overlapping receptive fields. Scattering columns back
        would need atomic adds; gathering gives each thread a private sum instead.
        """
        index = cuda.grid(1)
        C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
        if index < dx.size:
            n, c, h, v = unravel(index, C, H, W)
            acc = ftype(0)
            for r in range(R):
                i = window_index(h + ph, r * dh, sh, OH)
                if i >= 0:
                    for s in range(S):
                        j = window_index(v + pw, s * dw, sw, OW)
                        if j >= 0:
                            acc += cols[0, (c * R + r) * S + s, (n * OH + i) * OW + j]
            dx[n, c, h, v] = acc

    return fold


def im2col(x, kernel, stride, padding, dilation):
    """Unfold device array x (N, C, H, W); return ``cols`` (1, C*R*S, N*OH*OW) and (OH, OW)."""
    (N, C, H, W), (R, S) = x.shape, kernel
    OH = output_size(H, R, stride[0], padding[0], dilation[0])
    OW = output_size(W, S, stride[1], padding[1], dilation[1])
    cols = empty((1, C * R * S, N * OH * OW), x.dtype)
    launch(_im2col_kernel(x.dtype), *grid_1d(N * OH * OW),
           x, cols, R, S, OH, OW, *stride, *padding, *dilation)
    return cols, (OH, OW)


def col2im(cols, x_shape, kernel, out_size, stride, padding, dilation):
    """Fold gradient columns (1, C*R*S, N*OH*OW) back into dx of shape ``x_shape``."""
    dx = empty(x_shape, cols.dtype)
    launch(_col2im_kernel(cols.dtype), *grid_1d(dx.size),
           cols, dx, *kernel, *out_size, *stride, *padding, *dilation)
    return dx
