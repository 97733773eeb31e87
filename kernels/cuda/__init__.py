"""The cuda backend: hand-written ``numba.cuda`` kernels, numbered like a lab's versions.

conv2d forward, each version changing one thing from the one before:

* ``v1_direct``  one thread per output element, the naive loop body as a kernel;
  every thread reads its window and filter from global memory.
* ``v2_tiled``   a block owns a tile of outputs for 8 filters: per input channel it
  stages the input tile with its halo and the 8 filters in shared memory, and every
  thread accumulates its pixel for all 8 filters in registers.
* ``v3_im2col``  im2col writes each receptive field as a column once, then a
  shared-memory tiled GEMM with 4x4 register blocking does all the arithmetic and
  writes straight into NCHW (:mod:`.gemm`).

conv2d backward has no atomics (:mod:`.conv_backward`). v1 and v2 share one: dx is a
gather (each thread owns one dx element), dw a reduction per element by a row of
threads. v3 computes dw and the gradient columns with two GEMMs, then gathers the
columns into dx (col2im). db is a reduction in all three. Max and average pooling run
one thread per output forward and one per input backward (a gather again).

The pieces a model needs besides convolution and pooling (Linear through the same
GEMM, ReLU/Sigmoid/Tanh, softmax cross-entropy) are in :mod:`.dense`, the optimizer
updates in :mod:`.optim`.

Every op takes NumPy arrays (copied to the device, results copied back) or device
arrays (results stay on the device). The backend runs where a CUDA GPU is present, or
on the Numba CUDA simulator with ``NUMBA_ENABLE_CUDASIM=1`` set before Numba is
imported (slow: for tests on tiny shapes).
"""
from . import compat  # noqa: F401  (first: numba.cuda must not compile before it)

from numba import cuda  # noqa: E402

from . import conv_backward, conv_forward, pool  # noqa: E402
from .device import deliver, to_device, wants_host  # noqa: E402

# What the layers, losses and optimizers of a model on the GPU call (model.to("cuda")).
from .dense import (  # noqa: E402, F401
    activation_backward, activation_forward, linear_backward, linear_forward, multiply, softmax_cross_entropy,
)
from .optim import adam_step, sgd_step  # noqa: E402, F401

ALGORITHMS = tuple(conv_forward.ALGORITHMS)
DEFAULT_ALGORITHM = "v3_im2col"  # what algorithm=None runs


def unavailable_reason():
    """None where a CUDA GPU (or the simulator) is usable, else why not."""
    if cuda.is_available():
        return None
    return (
        "no usable CUDA GPU found (numba.cuda.is_available() is False); "
        "set NUMBA_ENABLE_CUDASIM=1 before importing to run the kernels on the CUDA simulator"
    )


def conv2d_forward(x, w, b, stride, padding, dilation, algorithm=None):
    host = wants_host(x, w, b)
    y = conv_forward.conv2d_forward(
        to_device(x), to_device(w), to_device(b), stride, padding, dilation,
        algorithm or DEFAULT_ALGORITHM,
    )
    return deliver(host, y)


def conv2d_backward(dy, x, w, stride, padding, dilation, algorithm=None, input_grad=True):
    host = wants_host(dy, x, w)
    grads = conv_backward.conv2d_backward(
        to_device(dy), to_device(x), to_device(w), stride, padding, dilation,
        algorithm or DEFAULT_ALGORITHM, input_grad,
    )
    return deliver(host, *grads)


def max_pool2d_forward(x, kernel, stride, padding):
    return deliver(wants_host(x), pool.max_pool2d_forward(to_device(x), kernel, stride, padding))


def max_pool2d_forward_indices(x, kernel, stride, padding):
    return deliver(wants_host(x), *pool.max_pool2d_forward_indices(to_device(x), kernel, stride, padding))


def max_pool2d_backward_indices(dy, indices, x_shape, kernel, stride, padding):
    dx = pool.max_pool2d_backward_indices(to_device(dy), to_device(indices), x_shape, kernel, stride, padding)
    return deliver(wants_host(dy, indices), dx)


def avg_pool2d_forward(x, kernel, stride, padding):
    return deliver(wants_host(x), pool.avg_pool2d_forward(to_device(x), kernel, stride, padding))


def avg_pool2d_backward(dy, x, kernel, stride, padding):
    dx = pool.avg_pool2d_backward(to_device(dy), to_device(x), kernel, stride, padding)
    return deliver(wants_host(dy, x), dx)
