"""The other pieces a model needs on the GPU: Linear, activations, dropout's product,
softmax cross-entropy.

Like the conv and pooling ops, each takes NumPy arrays (results come back as NumPy) or
device arrays (results stay on the device), so a whole model can run on the GPU.

Linear uses the tiled GEMM of :mod:`.gemm` with the batch folded into the columns:
``x`` (N, I) viewed as the folded matrix (N, I, 1) *is* x^T (I, N), so
``y^T = w @ x^T + b[:, None]`` writes y (N, F) in place, bias included, with no
transpose copies.
"""
import math

from numba import cuda

from . import gemm
from .conv_backward import bias_grad
from .device import deliver, empty, grid_1d, launch, per_dtype, to_device, wants_host

ACTIVATIONS = {"relu": 0, "sigmoid": 1, "tanh": 2}


def linear_forward(x, w, b=None):
    """y = x @ w.T + b for x (N, I), w (F, I), b (F,) or None (PyTorch's Linear)."""
    host = wants_host(x, w, b)
    x, w = to_device(x), to_device(w)
    (N, I), F = x.shape, w.shape[0]
    y = empty((N, F), x.dtype)
    gemm.matmul(w.reshape(1, F, I), False, x.reshape(N, I, 1), False, y.reshape(N, F, 1), to_device(b))
    return deliver(host, y)


def linear_backward(dy, x, w):
    """(dx, dw, db) of Linear: dx = dy @ w, dw = dy.T @ x, db = dy summed over the batch."""
    host = wants_host(dy, x, w)
    dy, x, w = to_device(dy), to_device(x), to_device(w)
    (N, I), F = x.shape, w.shape[0]
    dx, dw = empty((N, I), x.dtype), empty((F, I), x.dtype)
    gemm.matmul(w.reshape(1, F, I), True, dy.reshape(N, F, 1), False, dx.reshape(N, I, 1))
    gemm.matmul(dy.reshape(N, F, 1), False, x.reshape(N, I, 1), True, dw.reshape(1, F, I))
    return deliver(host, dx, dw, bias_grad(dy.reshape(N, F, 1, 1)))


@per_dtype
def _activation_kernel(ftype):
    @cuda.jit
    def activation(x, y, op):
        """One thread per element: y = relu(x), sigmoid(x) or tanh(x); NaN stays NaN."""
        i = cuda.grid(1)
        if i < x.size:
            v = x[i]
            if op == 0:
                y[i] = v if v > 0 or v != v else ftype(0)
            elif op == 1:
                y[i] = ftype(1) / (ftype(1) + math.exp(-v))
            else:
                y[i] = math.tanh(v)

    return activation


@per_dtype
def _activation_grad_kernel(ftype):
    @cuda.jit
    def activation_grad(dy, saved, dx, op):
        """One thread per element; ``saved`` is x for relu, the output y for sigmoid and tanh."""
        i = cuda.grid(1)
        if i < dy.size:
            s = saved[i]
            if op == 0:
                dx[i] = dy[i] if s > 0 else ftype(0)
            elif op == 1:
                dx[i] = dy[i] * s * (ftype(1) - s)
            else:
                dx[i] = dy[i] * (ftype(1) - s * s)

    return activation_grad


def activation_forward(name, x):
    """``name`` in relu, sigmoid, tanh, elementwise on an array of any shape."""
    host, x = wants_host(x), to_device(x)
    y = empty(x.shape, x.dtype)
    flat = (x.reshape(x.size), y.reshape(x.size))
    launch(_activation_kernel(x.dtype), *grid_1d(x.size), *flat, ACTIVATIONS[name])
    return deliver(host, y)


def activation_backward(name, dy, saved):
    """dx of ``name``; ``saved`` is the forward input x for relu, the output y otherwise."""
    host, dy, saved = wants_host(dy, saved), to_device(dy), to_device(saved)
    dx = empty(dy.shape, dy.dtype)
    flat = (dy.reshape(dy.size), saved.reshape(dy.size), dx.reshape(dy.size))
    launch(_activation_grad_kernel(dy.dtype), *grid_1d(dy.size), *flat, ACTIVATIONS[name])
    return deliver(host, dx)


@per_dtype
def _multiply_kernel(ftype):
    @cuda.jit
    def multiply(a, b, out):
        """One thread per element: out = a * b."""
        i = cuda.grid(1)
        if i < out.size:
            out[i] = a[i] * b[i]

    return multiply


def multiply(a, b):
    """a * b, elementwise, for two arrays of one shape (Dropout's scaled mask)."""
    host, a, b = wants_host(a, b), to_device(a), to_device(b)
    out = empty(a.shape, a.dtype)
    launch(_multiply_kernel(a.dtype), *grid_1d(a.size), a.reshape(a.size), b.reshape(a.size), out.reshape(a.size))
    return deliver(host, out)


@per_dtype
def _softmax_xent_kernel(ftype):
    @cuda.jit
    def softmax_xent(logits, labels, losses, dlogits):
        """One thread per sample: a stable log-sum-exp, its loss and its row of the gradient.

        loss_n = logsumexp(z_n) - z_n[label]; dlogits = (softmax(z_n) - onehot) / N,
        the gradient of the mean loss over the batch.
        """
        n = cuda.grid(1)
        N, F = logits.shape
        if n < N:
            top = logits[n, 0]
            for f in range(1, F):
                top = max(top, logits[n, f])
            total = ftype(0)
            for f in range(F):
                total += math.exp(logits[n, f] - top)
            losses[n] = top + math.log(total) - logits[n, labels[n]]
            for f in range(F):
                p = math.exp(logits[n, f] - top) / total
                dlogits[n, f] = (p - (ftype(1) if f == labels[n] else ftype(0))) / ftype(N)

    return softmax_xent


def softmax_cross_entropy(logits, labels):
    """(mean loss as a float, dlogits) for logits (N, F) and integer class labels (N,)."""
    host = wants_host(logits)
    logits, labels = to_device(logits), to_device(labels)
    N = logits.shape[0]
    losses, dlogits = empty((N,), logits.dtype), empty(logits.shape, logits.dtype)
    launch(_softmax_xent_kernel(logits.dtype), *grid_1d(N), logits, labels, losses, dlogits)
    return float(losses.copy_to_host().mean()), deliver(host, dlogits)
