"""Optimizers and a learning-rate schedule, with the update rules of ``torch.optim``.

An optimizer holds a list of :class:`~fastconv.nn.Parameter` and updates their ``data``
in place from their ``grad`` at each ``step()``. Parameters on the GPU (``model.to("cuda")``)
are updated there, by one kernel per parameter, with their state kept on the device.
"""
from __future__ import annotations

import math

import numpy as np

from .devices import gpu_kernels, like, zeros_like
from .shapes import is_device_array


class Optimizer:
    def __init__(self, params, lr: float):
        self.params = list(params)
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = lr

    def step(self):
        raise NotImplementedError

    @staticmethod
    def placed(state, p):
        """An optimizer state array where parameter ``p`` lives now (``model.to`` may move it)."""
        return None if state is None else like(state, p.data)

    def gradient(self, p, weight_decay: float) -> np.ndarray:
        """The gradient with L2 weight decay added: ``grad + weight_decay * data``."""
        return p.grad + weight_decay * p.data if weight_decay else p.grad


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and weight decay::

        g = grad + weight_decay * w
        v = momentum * v + g            (v starts at g)
        w = w - lr * (g + momentum * v if nesterov else v)
    """

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr)
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        self.velocity = [None] * len(self.params)

    def step(self):
        for i, p in enumerate(self.params):
            if is_device_array(p.data):
                self._gpu_step(i, p)
                continue
            g = self.gradient(p, self.weight_decay)
            if self.momentum:
                v = self.velocity[i] = self.placed(self.velocity[i], p)
                if v is None:
                    v = self.velocity[i] = g.copy()
                else:
                    v *= self.momentum
                    v += g
                g = g + self.momentum * v if self.nesterov else v
            p.data -= self.lr * g

    def _gpu_step(self, i, p):
        first = self.velocity[i] is None
        if self.momentum:
            self.velocity[i] = zeros_like(p.data) if first else self.placed(self.velocity[i], p)
        velocity = self.velocity[i] if self.momentum else p.grad  # the kernel ignores it then
        gpu_kernels().sgd_step(p.data, p.grad, velocity, self.lr, self.momentum,
                               self.weight_decay, self.nesterov, first)


class Adam(Optimizer):
    """Adam (Kingma and Ba) with bias correction and optional L2 weight decay::

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        w = w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.m = [None] * len(self.params)  # the moments, made where each parameter lives
        self.v = [None] * len(self.params)
        self.t = 0

    def step(self):
        self.t += 1
        b1, b2 = self.betas
        for i, p in enumerate(self.params):
            if self.m[i] is None:
                self.m[i], self.v[i] = zeros_like(p.data), zeros_like(p.data)
            m = self.m[i] = self.placed(self.m[i], p)
            v = self.v[i] = self.placed(self.v[i], p)
            if is_device_array(p.data):
                gpu_kernels().adam_step(p.data, p.grad, m, v, self.lr, self.betas, self.eps,
                                        self.weight_decay, self.t)
                continue
            g = self.gradient(p, self.weight_decay)
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat = m / (1 - b1**self.t)
            v_hat = v / (1 - b2**self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class CosineAnnealingLR:
    """Lower the learning rate from its initial value to ``eta_min`` along a half cosine over
    ``T_max`` epochs; call ``step()`` once per epoch, as ``torch.optim.lr_scheduler.CosineAnnealingLR``."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        self.optimizer, self.T_max, self.eta_min = optimizer, T_max, eta_min
        self.base_lr = optimizer.lr
        self.epoch = 0

    def step(self):
        self.epoch += 1
        progress = min(self.epoch, self.T_max) / self.T_max
        self.optimizer.lr = self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
