"""Where a model's arrays live: in host memory (NumPy) or on a CUDA GPU (Numba device arrays).

``model.to("cuda")`` moves the parameters and their gradients to the GPU. From then on
every layer sees device arrays and runs each op as a kernel of the cuda backend
(:func:`gpu_kernels`), so activations and gradients stay on the device across layers
and steps; :func:`fastconv.training.fit` moves each batch over once, and only the small
(N, classes) outputs come back, for the loss value and the accuracy. ``model.to()``
with any other backend brings the parameters back to the host.
"""
from __future__ import annotations

import numpy as np

from .backends import resolve
from .shapes import is_device_array


def is_gpu_backend(spec: str | None) -> bool:
    """True for ``"cuda"`` and ``"cuda:<algorithm>"``."""
    return spec is not None and spec.split(":")[0] == "cuda"


def gpu_kernels():
    """The cuda backend module (:mod:`fastconv.kernels.cuda`); raises if no GPU can run it."""
    return resolve("cuda")[0]


def to_gpu(a):
    """``a`` on the GPU: NumPy arrays are copied over, device arrays kept."""
    return gpu_kernels().to_device(a)


def to_host(a):
    """``a`` as a NumPy array: device arrays are copied back, NumPy arrays kept."""
    return a.copy_to_host() if is_device_array(a) else a


def like(a, reference):
    """``a`` placed where ``reference`` lives (on the GPU or on the host)."""
    return to_gpu(a) if is_device_array(reference) else to_host(a)


def zeros_like(a):
    """Zeros of ``a``'s shape and dtype, where ``a`` lives."""
    return like(np.zeros(a.shape, dtype=a.dtype), a)


def astype(a, dtype):
    """``a`` cast to ``dtype``, where it lives (device arrays are cast on the host)."""
    return like(to_host(a).astype(dtype), a)


def on_gpu(model) -> bool:
    """True when the model's parameters are on the GPU (after ``model.to("cuda")``)."""
    return any(is_device_array(p.data) for p in model.parameters())
