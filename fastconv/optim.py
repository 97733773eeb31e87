"""Optimizers and a learning-rate schedule, with the update rules of ``torch.optim``.

An optimizer holds a list of :class:`~fastconv.nn.Parameter` and updates their ``data``
in place from their ``grad`` at each ``step()``.
"""
from __future__ import annotations

import math

import numpy as np


class Optimizer:
    def __init__(self, params, lr: float):
        self.params = list(params)
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = lr

    def step(self):
        raise NotImplementedError

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
            g = self.gradient(p, self.weight_decay)
            if self.momentum:
                v = self.velocity[i]
                if v is None:
                    v = self.velocity[i] = g.copy()
                else:
                    v *= self.momentum
                    v += g
                g = g + self.momentum * v if self.nesterov else v
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma and Ba) with bias correction and optional L2 weight decay::

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        w = w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0

    def step(self):
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v):
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
