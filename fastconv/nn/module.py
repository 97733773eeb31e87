"""The base of every layer: parameters with gradients, train/eval mode, backend, shapes.

A layer is a :class:`Module` with ``forward(x)`` and ``backward(dout)``. ``forward``
keeps what ``backward`` needs; ``backward`` takes dL/d(output), stores dL/d(parameter)
in each parameter's ``grad`` and returns dL/d(input). Parameters are the attributes of
type :class:`Parameter`, named after the attribute (``weight``, ``bias``), as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from .. import devices
from ..backends import resolve


class Parameter:
    """A trainable array (``data``) and the gradient of the loss with respect to it (``grad``)."""

    def __init__(self, data: np.ndarray):
        self.data = data
        self.grad = np.zeros_like(data)

    @property
    def shape(self):
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """A layer: ``forward``/``backward``, named parameters, a mode and a backend.

    ``backend`` is passed to every :mod:`fastconv.functional` call the layer makes
    (None: the current default backend). ``training`` switches layers such as
    :class:`~fastconv.nn.Dropout` between their training and inference behaviour.
    """

    def __init__(self):
        self.training = True
        self.backend = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward_parameters(self, dout: np.ndarray) -> None:
        """The parameters' gradients alone, for a first layer whose input needs none.

        By default the whole backward with its dx dropped; layers whose dx costs time
        (:class:`~fastconv.nn.Conv2d`) skip computing it.
        """
        self.backward(dout)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def named_parameters(self):
        """(name, Parameter) pairs in definition order."""
        return [(name, value) for name, value in vars(self).items() if isinstance(value, Parameter)]

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def parameter_count(self) -> int:
        return sum(p.size for p in self.parameters())

    def train(self, mode: bool = True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def to(self, backend: str | None = None, *, dtype=None):
        """Run on ``backend`` from now on and/or cast the parameters to ``dtype``; returns self.

        A cuda backend also moves the parameters and their gradients to the GPU, where
        the layer then keeps its activations; any other backend brings them back.
        """
        if backend is not None:
            resolve(backend)
            self.backend = backend
            place = devices.to_gpu if devices.is_gpu_backend(backend) else devices.to_host
            for p in self.parameters():
                p.data, p.grad = place(p.data), place(p.grad)
        if dtype is not None:
            for p in self.parameters():
                p.data, p.grad = devices.astype(p.data, dtype), devices.astype(p.grad, dtype)
        return self

    def output_shape(self, input_shape: tuple) -> tuple:
        """Shape of the output for an input of ``input_shape`` (batch dimension included)."""
        return tuple(input_shape)

    def flops(self, input_shape: tuple) -> int:
        """Floating-point operations of one forward pass on ``input_shape`` (a multiply-add is 2)."""
        return 0

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


def elements(shape: tuple) -> int:
    return int(np.prod(shape, dtype=np.int64))
