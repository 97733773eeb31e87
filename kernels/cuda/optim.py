"""Optimizer updates on the GPU: one thread per parameter element, state kept on the device.

The update rules are those of :mod:`fastconv.optim` (and ``torch.optim``), written for
one element; the host versions apply them to whole arrays with NumPy. Hyper-parameters
are cast to the parameter's dtype so float32 models update in float32 arithmetic.
"""
import math

from numba import cuda

from .device import grid_1d, launch, per_dtype


@per_dtype
def _sgd_kernel(ftype):
    @cuda.jit
    def sgd(w, g, velocity, lr, momentum, weight_decay, nesterov, first):
        """g += weight_decay * w; v = momentum * v + g (v = g at the first step); w -= lr * step."""
        i = cuda.grid(1)
        if i < w.size:
            grad = g[i] + ftype(weight_decay) * w[i]
            if momentum != 0:
                v = grad if first else ftype(momentum) * velocity[i] + grad
                velocity[i] = v
                grad = grad + ftype(momentum) * v if nesterov else v
            w[i] -= ftype(lr) * grad

    return sgd


@per_dtype
def _adam_kernel(ftype):
    @cuda.jit
    def adam(w, g, m, v, lr, beta1, beta2, eps, weight_decay, correction1, correction2):
        """Adam's moments and bias-corrected step for one element."""
        i = cuda.grid(1)
        if i < w.size:
            grad = g[i] + ftype(weight_decay) * w[i]
            m[i] = ftype(beta1) * m[i] + ftype(1 - beta1) * grad
            v[i] = ftype(beta2) * v[i] + ftype(1 - beta2) * grad * grad
            m_hat = m[i] / ftype(correction1)
            v_hat = v[i] / ftype(correction2)
            w[i] -= ftype(lr) * m_hat / (math.sqrt(v_hat) + ftype(eps))

    return adam


def _flat(*arrays):
    return [a.reshape(a.size) for a in arrays]


def sgd_step(w, g, velocity, lr, momentum, weight_decay, nesterov, first):
    """Update device arrays ``w`` (and ``velocity``, same shape) in place from ``g``."""
    launch(_sgd_kernel(w.dtype), *grid_1d(w.size), *_flat(w, g, velocity),
           lr, momentum, weight_decay, nesterov, first)


def adam_step(w, g, m, v, lr, betas, eps, weight_decay, t):
    """Update device arrays ``w``, ``m`` and ``v`` in place from ``g`` at step ``t`` (from 1)."""
    beta1, beta2 = betas
    launch(_adam_kernel(w.dtype), *grid_1d(w.size), *_flat(w, g, m, v),
           lr, beta1, beta2, eps, weight_decay, 1 - beta1**t, 1 - beta2**t)
