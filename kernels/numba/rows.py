"""Operations on one image row, the innermost loops of every conv2d kernel.

Each takes a step for the strided operand (the convolution stride). When the step
is 1 the loop indexes both rows with the loop counter alone, which LLVM turns into
packed (SIMD) fused multiply-adds; a strided index ``t * step`` would defeat that,
so the unit step gets its own copy of the one-line loop.
"""
from .jit import helper


@helper
def axpy(count, weight, src, src_step, dst, dst_step):
    """dst[t * dst_step] += weight * src[t * src_step] for t < count."""
    if src_step == 1 and dst_step == 1:
        for t in range(count):
            dst[t] += weight * src[t]
    else:
        for t in range(count):
            dst[t * dst_step] += weight * src[t * src_step]


@helper
def dot(count, a, b, b_step, total):
    """total + sum over t < count of a[t] * b[t * b_step]."""
    if b_step == 1:
        for t in range(count):
            total += a[t] * b[t]
    else:
        for t in range(count):
            total += a[t] * b[t * b_step]
    return total


@helper
def copy(count, src, src_step, dst):
    """dst[t] = src[t * src_step] for t < count."""
    if src_step == 1:
        for t in range(count):
            dst[t] = src[t]
    else:
        for t in range(count):
            dst[t] = src[t * src_step]
