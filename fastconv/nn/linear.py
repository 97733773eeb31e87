"""Fully connected layer, Flatten and Dropout."""
from __future__ import annotations

import numpy as np

from .init import generator, initial_weight
from .module import Module, Parameter, elements


class Linear(Module):
    """y = x @ weight.T + bias for x (N, in_features), arguments as ``torch.nn.Linear``.

    ``weight`` has shape (out_features, in_features), ``bias`` (out_features,).
    """

    def __init__(self, in_features, out_features, bias=True, *, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(
            initial_weight(init, (out_features, in_features), in_features, out_features, rng, dtype)
        )
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None

    def forward(self, x):
        self._x = x
        y = x @ self.weight.data.T
        return y if self.bias is None else y + self.bias.data

    def backward(self, dout):
        self.weight.grad = dout.T @ self._x
        if self.bias is not None:
            self.bias.grad = dout.sum(axis=0)
        return dout @ self.weight.data

    def output_shape(self, input_shape):
        if input_shape[-1] != self.in_features:
            raise ValueError(f"{self!r} cannot take an input of shape {tuple(input_shape)}")
        return (*input_shape[:-1], self.out_features)

    def flops(self, input_shape):
        return 2 * elements(input_shape) * self.out_features

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): keeps the batch dimension, joins the rest."""

    def forward(self, x):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._shape)

    def output_shape(self, input_shape):
        return (input_shape[0], elements(input_shape[1:]))


class Dropout(Module):
    """While training, zero each element with probability ``p`` and scale the rest by 1/(1-p).

    In eval mode it passes its input through unchanged (inverted dropout).
    """

    def __init__(self, p=0.5, *, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = generator(rng)

    def forward(self, x):
        if not self.training or self.p == 0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        self._scale = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self._scale

    def backward(self, dout):
        return dout if self._scale is None else dout * self._scale

    def extra_repr(self):
        return f"p={self.p}"


Dense = Linear
