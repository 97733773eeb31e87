"""conv2d entry points of the numba backend: allocate the outputs, pick an algorithm, run it.

Two algorithms compute the same convolution (see their modules): ``direct`` loops
(:mod:`.direct`) and ``im2col`` + BLAS GEMM (:mod:`.im2col`). With ``algorithm=None``
:func:`choose_algorithm` picks the one that measured faster for shapes like this.
"""
import numpy as np

from fastconv.buffers import empty
from fastconv.shapes import conv2d_geometry

from . import direct, im2col

ALGORITHMS = ("direct", "im2col")


#: Below this many taps per output (C*R*S, the inner dimension of the GEMM) the direct
#: loops are chosen. Measured (float32, python -m benchmarks.report, 2-vCPU machine
#: under load, median ms, direct / im2col):
#:   lenet_c1 (C*R*S = 25)   1 thread: fwd 4.2 / 3.5, bwd 12.7 / 10.5
#:                           2 threads: fwd 19 / 108, bwd 41 / 2032 (BLAS threads
#:                           stall on the 6 x 50176 x 25 weight-gradient product)
#:   lenet_c2 (150), mnist_c2 (400), keras_c2 (288), resnet_3x3 (576), resnet_s2 (576),
#:   pointwise_1x1 (256): im2col faster by 3x to 20x, forward and backward, 1 thread.
#: So im2col + BLAS wherever the product has a real inner dimension, direct loops
#: where it degenerates into a skinny product that BLAS threads badly.
DIRECT_BELOW_TAPS = 32


def choose_algorithm(g) -> str:
    """The faster algorithm for geometry g (rule and measurements: DIRECT_BELOW_TAPS)."""
    return "direct" if g.C * g.R * g.S < DIRECT_BELOW_TAPS else "im2col"


def conv2d_forward(x, w, b, stride, padding, dilation, algorithm=None):
    """y = conv2d(x, w, b) (PyTorch semantics); ``algorithm`` is "direct", "im2col" or None."""
    g = conv2d_geometry(x, w, b, stride, padding, dilation)
    algorithm = algorithm or choose_algorithm(g)
    y = empty(g.output_shape, x.dtype)
    bias = np.zeros(g.K, x.dtype) if b is None else b
    {"direct": direct, "im2col": im2col}[algorithm].forward(x, w, bias, y, g)
    return y


def conv2d_backward(dy, x, w, stride, padding, dilation, algorithm=None):
    """(dx, dw, db) of conv2d given dy = dL/dy."""
    g = conv2d_geometry(x, w, None, stride, padding, dilation)
    algorithm = algorithm or choose_algorithm(g)
    dx = empty(g.input_shape, x.dtype)
    dw = empty(g.weight_shape, x.dtype)
    db = empty((g.K,), x.dtype)
    if algorithm == "direct":
        direct.input_gradient(dy, w, dx, g)
        direct.weight_gradient(dy, x, dw, g)
    else:
        im2col.backward(dy, x, w, dx, dw, g)
    direct.bias_gradient(dy, db)
    return dx, dw, db
