"""Element-wise activations and Softmax."""
from __future__ import annotations

import numpy as np

from .module import Module, elements


class _Elementwise(Module):
    def flops(self, input_shape):
        return elements(input_shape)


class ReLU(_Elementwise):
    """max(x, 0); the gradient passes where x > 0."""

    def forward(self, x):
        self._positive = x > 0
        return np.where(self._positive, x, x.dtype.type(0))

    def backward(self, dout):
        return np.where(self._positive, dout, dout.dtype.type(0))


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x)); dy/dx = y (1 - y)."""

    def forward(self, x):
        # exp of a non-positive number only: no overflow for large |x|.
        e = np.exp(-np.abs(x))
        self._y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self._y

    def backward(self, dout):
        return dout * self._y * (1 - self._y)


class Tanh(_Elementwise):
    """tanh(x); dy/dx = 1 - y^2."""

    def forward(self, x):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dout):
        return dout * (1 - self._y * self._y)


def softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the maximum so exp cannot overflow."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Softmax(_Elementwise):
    """Softmax along ``dim``; dx = y * (dy - sum(dy * y)).

    To train a classifier, feed logits to :class:`~fastconv.losses.CrossEntropyLoss`
    instead: it applies the softmax itself, in a numerically stable way.
    """

    def __init__(self, dim=1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        self._y = softmax(x, self.dim)
        return self._y

    def backward(self, dout):
        return self._y * (dout - (dout * self._y).sum(axis=self.dim, keepdims=True))

    def extra_repr(self):
        return f"dim={self.dim}"
