"""Fully connected layer, Flatten and Dropout."""
from __future__ import annotations

import numpy as np

from ..devices import gpu_kernels, to_gpu
from ..shapes import check_same_dtype, is_device_array
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
        self.output_shape(tuple(x.shape))  # a clear error for a wrong number of features
        self._x = x
        if is_device_array(x):  # y^T = w @ x^T + b, one GEMM kernel on the GPU
            if len(x.shape) != 2:
                raise ValueError(f"{self!r} on the GPU takes (N, {self.in_features}) inputs, got {tuple(x.shape)}")
            check_same_dtype(x=x, weight=self.weight.data)
            return gpu_kernels().linear_forward(x, self.weight.data, None if self.bias is None else self.bias.data)
        y = x @ self.weight.data.T
        return y if self.bias is None else y + self.bias.data

    def backward(self, dout):
        if is_device_array(dout):
            dx, self.weight.grad, db = gpu_kernels().linear_backward(dout, self._x, self.weight.data)
        else:
            dx, self.weight.grad, db = dout @ self.weight.data, dout.T @ self._x, dout.sum(axis=0)
        if self.bias is not None:
            self.bias.grad = db
        return dx

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
        return x.reshape(x.shape[0], elements(x.shape[1:]))

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
        if is_device_array(x):  # the mask is drawn on the host, from the same generator
            self._scale = to_gpu(self._scale)
        return self._times_scale(x)

    def backward(self, dout):
        return dout if self._scale is None else self._times_scale(dout)

    def _times_scale(self, a):
        return gpu_kernels().multiply(a, self._scale) if is_device_array(a) else a * self._scale

    def extra_repr(self):
        return f"p={self.p}"


Dense = Linear
