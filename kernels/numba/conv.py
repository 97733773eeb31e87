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


#: Measured (float32, ``fastconv bench``, 2-vCPU machine shared with other jobs, median
#: ms, direct / im2col) before the few-taps kernels of :mod:`.shifted`:
#:                            1 thread                        2 threads
#:   lenet_c1 (C*R*S = 25)    fwd 2.7 / 1.7, bwd 11.3 / 5.2    fwd 4.8 / 3.0, bwd 12.2 / 5.5
#:   lenet_c2 (150)           fwd 1.8 / 3.8, bwd 4.7 / 7.5     fwd 2.4 / 4.4, bwd 7.6 / 9.8
#:   mnist_c2 (400)           fwd 7.1 / 14.3, bwd 14.3 / 25.7  fwd 11.8 / 19.9, bwd 11.8 / 24.9
#:   keras_c2 (288)           fwd 19.3 / 22.8, bwd 38.8 / 45.7 fwd 15.0 / 20.0, bwd 38.9 / 43.7
#:   resnet_3x3 (576)         fwd 41 / 44, bwd 85 / 90         fwd 47 / 192, bwd 74 / 315
#:   resnet_s2 (576, stride 2) fwd 24 / 25, bwd 70 / 48        fwd 24 / 28, bwd 65 / 35
#:   pointwise_1x1 (256)      fwd 7.8 / 4.2, bwd 22.9 / 10.0   fwd 11.5 / 128, bwd 21.4 / 7.4
#: (128 and 192: BLAS threads stalling while another job holds the second core; with
#: 2 threads any im2col shape does that now and then, lenet_c1 included, 15 ms instead
#: of 3, which Numba's threads in the direct loops did not.) With few taps the direct
#: loops' dot products were too short and their window copies dominated; :mod:`.shifted`
#: now takes those (lenet_c1, 2 threads: fwd 0.6 / 2.3, bwd 1.7 / 6.1), and, with its
#: SIMD register tiles, every stride-1 convolution (2 threads, ``fastconv bench``, fwd /
#: bwd, the direct loops' dot products -> shifted: lenet_c2 1.11 / 2.84 -> 0.57 / 1.93,
#: mnist_c2 3.86 / 8.46 -> 3.13 / 6.62, keras_c2 9.4 / 21.5 -> 6.3 / 18.1, resnet_3x3
#: 21.0 / 48.7 -> 18.7 / 34.6); then, with vectors that skip unused columns, kernel rows
#: of zero padding left out and unpadded images read in place (same command, another
#: run): lenet_c2 0.55 / 1.48, mnist_c2 2.63 / 6.44, keras_c2 6.7 / 16.7, resnet_3x3
#: 19.0 / 36.5; then, with the lanes along the filters where rows waste them
#: (:mod:`.filter_lanes`, 2026-11-28, two runs, torch in the same run): mnist_c2
#: 2.49-2.72 / 5.53-5.57 (torch 2.36-2.39 / 5.56-7.67), keras_c2 6.1-6.2 / 14.1-14.4
#: (torch 7.2-9.0 / 18.3-18.5). With a stride, the lanes along the filters (where K or C
#: fill their tiles) and dx phase by phase (:mod:`.phases`) made the direct loops the
#: faster ones there too (2026-11-28, 2 threads, same process, fwd / bwd, direct / im2col
#: / torch): resnet_s2 5.4 / 11.4, 8.0 / 16.3, 5.4 / 11.5; 1x1 stride 2 (8,64,56,56 ->
#: 128) 2.0 / 4.7, 2.3 / 4.4, 2.3 / 5.4; K = 6 stride 2 (32,3,32,32, 5x5, all in the
#: strided loops) 0.60 / 1.14, 1.53 / 2.85, 0.55 / 1.32.


def choose_algorithm(g) -> str:
    """The faster algorithm for geometry g: direct, except 1x1 convolutions with stride 1
    and no padding, which im2col runs as one BLAS product without any copy."""
    copy_free_im2col = (g.R, g.S, g.stride, g.padding) == (1, 1, (1, 1), (0, 0))
    return "im2col" if copy_free_im2col else "direct"


def conv2d_forward(x, w, b, stride, padding, dilation, algorithm=None):
    """y = conv2d(x, w, b) (PyTorch semantics); ``algorithm`` is "direct", "im2col" or None."""
    g = conv2d_geometry(x, w, b, stride, padding, dilation)
    algorithm = algorithm or choose_algorithm(g)
    y = empty(g.output_shape, x.dtype)
    bias = np.zeros(g.K, x.dtype) if b is None else b
    {"direct": direct, "im2col": im2col}[algorithm].forward(x, w, bias, y, g)
    return y


def conv2d_backward(dy, x, w, stride, padding, dilation, algorithm=None, input_grad=True):
    """(dx, dw, db) of conv2d given dy = dL/dy; dx is None without ``input_grad``."""
    g = conv2d_geometry(x, w, None, stride, padding, dilation)
    algorithm = algorithm or choose_algorithm(g)
    if input_grad and algorithm == "direct" and not np.isfinite(w).all():
        # The direct dx also multiplies the zeros around dy's pixels by the weights: exact
        # for finite weights only (0 * inf is NaN). im2col sums the naive terms alone.
        algorithm = "im2col"
    dx = empty(g.input_shape, x.dtype) if input_grad else None
    dw = empty(g.weight_shape, x.dtype)
    db = empty((g.K,), x.dtype)
    if algorithm == "direct":
        if input_grad:
            direct.input_gradient(dy, w, dx, g)
        direct.parameter_gradients(dy, x, dw, db, g)
    else:
        im2col.backward(dy, x, w, dx, dw, g)
        direct.bias_gradient(dy, db)
    return dx, dw, db
