"""Which output positions a kernel tap reaches inside the unpadded input.

Output position ``i`` with tap ``r`` reads input row ``i * stride + r * dilation - padding``.
Instead of testing every read against the borders (or padding a copy of the input),
the kernels ask once per tap for the range of outputs whose reads fall inside the
input, and loop over that range without branches.
"""
from .jit import helper


@helper
def valid_outputs(size, out_size, stride, offset):
    """Half-open range [lo, hi) of outputs i with ``0 <= i * stride + offset < size``."""
    lo = max(0, -(offset // stride))
    hi = min(out_size, (size - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


@helper
def tap_origin(position, out_size, stride, offset):
    """The output i whose tap at ``offset`` reads input ``position``, or -1 if none.

    Solves ``i * stride + offset == position`` for an integer ``0 <= i < out_size``.
    """
    distance = position - offset
    if distance < 0 or distance % stride != 0:
        return -1
    i = distance // stride
    return i if i < out_size else -1
