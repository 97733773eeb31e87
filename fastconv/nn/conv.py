"""The convolution layer."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..shapes import ConvGeometry, as_pair, conv_geometry
from .init import initial_weight
from .module import Module, Parameter


class Conv2d(Module):
    """2-D convolution (cross-correlation) of (N, C, H, W) inputs, arguments as ``torch.nn.Conv2d``.

    ``weight`` has shape (out_channels, in_channels, kH, kW), ``bias`` (out_channels,).
    ``init`` is ``"he"`` or ``"glorot"``, drawn from ``rng`` (a Generator or a seed).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, *, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = as_pair(kernel_size, "kernel_size", minimum=1)
        self.stride = as_pair(stride, "stride", minimum=1)
        self.padding = as_pair(padding, "padding", minimum=0)
        self.dilation = as_pair(dilation, "dilation", minimum=1)
        area = self.kernel_size[0] * self.kernel_size[1]
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight = Parameter(initial_weight(init, shape, in_channels * area, out_channels * area, rng, dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None

    def forward(self, x):
        self._x = x
        b = None if self.bias is None else self.bias.data
        return F.conv2d(x, self.weight.data, b, self.stride, self.padding, self.dilation, backend=self.backend)

    def backward(self, dout):
        return self._backward(dout, input_grad=True)

    def backward_parameters(self, dout):
        self._backward(dout, input_grad=False)

    def _backward(self, dout, input_grad):
        dx, dw, db = F.conv2d_backward(dout, self._x, self.weight.data, self.stride, self.padding,
                                       self.dilation, input_grad=input_grad, backend=self.backend)
        self.weight.grad = dw
        if self.bias is not None:
            self.bias.grad = db
        return dx

    def _geometry(self, input_shape) -> ConvGeometry:
        weight_shape = (self.out_channels, self.in_channels, *self.kernel_size)
        return conv_geometry(input_shape, weight_shape, self.stride, self.padding, self.dilation)

    def output_shape(self, input_shape):
        return self._geometry(input_shape).output_shape

    def flops(self, input_shape):
        return self._geometry(input_shape).flops

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}")


Conv2D = Conv2d
