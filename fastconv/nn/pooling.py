"""Pooling layers: windowed max and average, and their global versions."""
from __future__ import annotations

from .. import functional as F
from ..shapes import as_pair, pool_geometry
from .module import Module, elements


class _Pool2d(Module):
    """Shared by MaxPool2d and AvgPool2d: arguments as ``torch.nn.MaxPool2d``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size", minimum=1)
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride", minimum=1)
        self.padding = as_pair(padding, "padding", minimum=0)

    def output_shape(self, input_shape):
        return pool_geometry(input_shape, self.kernel_size, self.stride, self.padding).output_shape

    def flops(self, input_shape):
        """One comparison or addition per window element."""
        return elements(self.output_shape(input_shape)) * self.kernel_size[0] * self.kernel_size[1]

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each window (padding counts as -inf).

    Forward keeps where each maximum is (``return_indices``), so backward sends the
    gradient straight there instead of searching the windows of x again.
    """

    def forward(self, x):
        self._x = x
        y, self._indices = F.max_pool2d(x, self.kernel_size, self.stride, self.padding,
                                        return_indices=True, backend=self.backend)
        return y

    def backward(self, dout):
        return F.max_pool2d_backward(dout, self._x, self.kernel_size, self.stride, self.padding,
                                     indices=self._indices, backend=self.backend)


class AvgPool2d(_Pool2d):
    """Mean over each window (zero padding counted, as PyTorch's default)."""

    def forward(self, x):
        self._x = x
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, backend=self.backend)

    def backward(self, dout):
        return F.avg_pool2d_backward(dout, self._x, self.kernel_size, self.stride, self.padding,
                                     backend=self.backend)


class _GlobalPool2d(Module):
    """A pooling window as large as the image: (N, C, H, W) -> (N, C), as Keras' global pooling."""

    window = None  # the windowed pooling layer, set by each subclass

    def forward(self, x):
        self._pool = self.window(kernel_size=x.shape[2:]).to(self.backend)
        return self._pool.forward(x).reshape(x.shape[:2])

    def backward(self, dout):
        return self._pool.backward(dout.reshape(*dout.shape, 1, 1))

    def output_shape(self, input_shape):
        return tuple(input_shape[:2])

    def flops(self, input_shape):
        return elements(input_shape)


class GlobalAvgPool2d(_GlobalPool2d):
    """Mean of each channel over the whole image."""

    window = AvgPool2d


class GlobalMaxPool2d(_GlobalPool2d):
    """Maximum of each channel over the whole image."""

    window = MaxPool2d


MaxPooling2D = MaxPool2d
AveragePooling2D = AvgPool2d
GlobalAveragePooling2D = GlobalAvgPool2d
GlobalMaxPooling2D = GlobalMaxPool2d
