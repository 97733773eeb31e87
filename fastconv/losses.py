"""Loss functions: each returns the mean loss over the batch and remembers what its gradient needs.

    loss = CrossEntropyLoss()
    value = loss(logits, labels)      # forward
    dlogits = loss.backward()         # dL/dlogits, ready for model.backward
"""
from __future__ import annotations

import numpy as np

from .devices import gpu_kernels, to_gpu, to_host
from .shapes import is_device_array


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log(softmax(logits)) along axis 1, computed as ``z - logsumexp(z)`` with the maximum taken out."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def as_probabilities(targets: np.ndarray, shape: tuple, dtype) -> np.ndarray:
    """Class labels (N,) as one-hot rows; (N, classes) targets pass through."""
    targets = np.asarray(targets)
    if targets.shape == tuple(shape):
        return targets.astype(dtype, copy=False)
    if targets.shape != shape[:1] or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be class labels ({shape[0]},) or probabilities {shape}, "
                         f"got {targets.dtype} {targets.shape}")
    if targets.min(initial=0) < 0 or targets.max(initial=0) >= shape[1]:
        raise ValueError(f"class labels must lie in [0, {shape[1]}), got {targets.min()}..{targets.max()}")
    return np.eye(shape[1], dtype=dtype)[targets]


class _Loss:
    """Losses run on the host. Outputs of a model on the GPU, (N, classes) and small,
    come over for the loss and their gradient goes back; subclasses may do better."""

    def __call__(self, outputs, targets) -> float:
        return self.forward(outputs, targets)

    def forward(self, outputs, targets) -> float:
        self._on_gpu = is_device_array(outputs)
        return self.host_forward(to_host(outputs), to_host(targets))

    def backward(self):
        grad = self.host_backward()
        return to_gpu(grad) if self._on_gpu else grad


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (N, classes), as ``torch.nn.CrossEntropyLoss``.

    ``L = -mean_n sum_c t[n, c] log softmax(z)[n, c]`` with t the one-hot labels (or given
    probabilities). Its gradient is simply ``(softmax(z) - t) / N``. Logits on the GPU
    with class labels run as one kernel there (one thread per sample).
    """

    def forward(self, logits, targets) -> float:
        labels = np.asarray(to_host(targets))
        if not (is_device_array(logits) and labels.ndim == 1):
            self._gpu_grad = None
            return super().forward(logits, labels)
        as_probabilities(labels, logits.shape, logits.dtype)  # checks the labels before the kernel reads them
        value, self._gpu_grad = gpu_kernels().softmax_cross_entropy(logits, labels)
        return value

    def backward(self) -> np.ndarray:
        return super().backward() if self._gpu_grad is None else self._gpu_grad

    def host_forward(self, logits, targets) -> float:
        log_p = log_softmax(logits)
        self._t = as_probabilities(targets, logits.shape, logits.dtype)
        self._p = np.exp(log_p)
        return float(-(self._t * log_p).sum() / len(logits))

    def host_backward(self) -> np.ndarray:
        return (self._p - self._t) / len(self._p)


class MSELoss(_Loss):
    """Mean squared error over every element, as ``torch.nn.MSELoss``: ``mean((y - t)^2)``."""

    def host_forward(self, outputs, targets) -> float:
        targets = np.asarray(targets)
        if targets.shape != outputs.shape:
            targets = as_probabilities(targets, outputs.shape, outputs.dtype)
        self._diff = outputs - targets
        return float(np.mean(self._diff * self._diff))

    def host_backward(self) -> np.ndarray:
        return 2 * self._diff / self._diff.size


LOSSES = {"cross_entropy": CrossEntropyLoss, "mse": MSELoss}
