"""Device functions for the index arithmetic that gather kernels share.

A gather kernel owns one input element and sums what every output window that covers
it sends back, so no two threads ever write the same address (no atomics needed).
"""
from numba import cuda


@cuda.jit(device=True)
def window_index(padded, tap, stride, count):
    """Which output's window puts its tap offset ``tap`` on padded coordinate ``padded``.

    Output ``i`` reads padded positions ``i * stride + tap``, so the answer is
    ``(padded - tap) / stride`` when that is a whole number in ``[0, count)``, else -1.
    """
    t = padded - tap
    if t < 0 or t % stride != 0:
        return -1
    i = t // stride
    return i if i < count else -1


@cuda.jit(device=True)
def unravel(index, C, H, W):
    """(n, c, h, w) of flat position ``index`` in a C-contiguous (N, C, H, W) array."""
    return index // (C * H * W), index // (H * W) % C, index // W % H, index % W
