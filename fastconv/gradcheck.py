"""Gradient checks: analytic gradients against centered finite differences.

Every op is checked through a scalar loss ``L = sum(op(inputs) * probe)`` with a fixed
random ``probe``; the backward kernel given ``dy = probe`` must return dL/d(input).

Two tiers, both in float64:

* **elementwise**: for every input element, ``(L(x + eps) - L(x - eps)) / (2 eps)``,
  compared with the analytic gradient by the relative error
  ``max |a - n| / max(1e-8, |a| + |n|)``. Exact, but costs two forward passes per
  element, so only for small inputs.
* **directional**: along one random unit direction ``v`` (over all inputs at once),
  ``(L(x + eps v) - L(x - eps v)) / (2 eps)`` must equal ``sum(grad * v)``. Two forward
  passes in all, so it scales to realistic shapes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import functional as F
from .backends import available_backends, available_kernels

EPSILON = 1e-6
TOLERANCE = 1e-6


def relative_error(analytic, numeric) -> float:
    """max |a - n| / max(1e-8, |a| + |n|), elementwise, as a float."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    if analytic.size == 0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))))


def numerical_gradient(loss: Callable[[], float], x: np.ndarray, eps: float = EPSILON) -> np.ndarray:
    """dL/dx by centered differences, perturbing ``x`` in place one element at a time."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = loss()
        x[index] = original - eps
        minus = loss()
        x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def elementwise_error(loss, inputs: dict, grads: dict, eps: float = EPSILON) -> float:
    """Worst relative error of the analytic ``grads`` over every element of every input."""
    return max(relative_error(grads[name], numerical_gradient(loss, x, eps)) for name, x in inputs.items())


def directional_error(loss, inputs: dict, grads: dict, rng: np.random.Generator, eps: float = EPSILON) -> float:
    """Relative error of the derivative of ``loss`` along one random unit direction."""
    direction = {name: rng.standard_normal(x.shape) for name, x in inputs.items()}
    norm = np.sqrt(sum(np.sum(v * v) for v in direction.values()))
    originals = {name: x.copy() for name, x in inputs.items()}

    def loss_at(step):
        for name, x in inputs.items():
            x[...] = originals[name] + step * direction[name] / norm
        return loss()

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    loss_at(0.0)
    analytic = sum(np.sum(grads[name] * direction[name]) for name in inputs) / norm
    return relative_error(analytic, numeric)


@dataclass
class CheckResult:
    op: str
    backend: str
    method: str
    error: float
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.error) and self.error <= self.tolerance)


# Input shapes: "small" suits the elementwise tier, "large" the directional one.
SIZES = {
    "small": dict(x=(2, 2, 5, 6), w=(3, 2, 3, 2), pool_x=(2, 2, 5, 6)),
    "large": dict(x=(4, 6, 16, 15), w=(8, 6, 3, 3), pool_x=(4, 6, 16, 15)),
}
DEFAULT_SIZE = {"elementwise": "small", "directional": "large"}
CONV_ARGS = dict(stride=(1, 2), padding=(1, 0), dilation=(1, 2))
POOL_ARGS = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))


def _loss(forward, probe):
    """The scalar L = sum(forward() * probe), as a function of the (mutable) inputs."""
    return lambda: float(np.sum(np.asarray(forward()) * probe))


def _conv2d_problem(backend, rng, size):
    inputs = dict(
        x=rng.standard_normal(SIZES[size]["x"]),
        w=rng.standard_normal(SIZES[size]["w"]),
        b=rng.standard_normal(SIZES[size]["w"][0]),
    )

    def forward():
        return F.conv2d(inputs["x"], inputs["w"], inputs["b"], **CONV_ARGS, backend=backend)

    probe = rng.standard_normal(forward().shape)
    dx, dw, db = F.conv2d_backward(probe, inputs["x"], inputs["w"], **CONV_ARGS, backend=backend)
    return inputs, _loss(forward, probe), dict(x=dx, w=dw, b=db)


def _pool_problem(kind):
    def problem(backend, rng, size):
        inputs = dict(x=rng.standard_normal(SIZES[size]["pool_x"]))
        forward_op = getattr(F, f"{kind}_pool2d")
        backward_op = getattr(F, f"{kind}_pool2d_backward")

        def forward():
            return forward_op(inputs["x"], **POOL_ARGS, backend=backend)

        probe = rng.standard_normal(forward().shape)
        dx = backward_op(probe, inputs["x"], **POOL_ARGS, backend=backend)
        return inputs, _loss(forward, probe), dict(x=dx)

    return problem


PROBLEMS = {
    "conv2d": _conv2d_problem,
    "max_pool2d": _pool_problem("max"),
    "avg_pool2d": _pool_problem("avg"),
}


def check_op(op: str, backend: str, method: str = "elementwise", seed: int = 0, size=None) -> CheckResult:
    """Check one op's backward against finite differences of its forward on ``backend``.

    ``size`` ("small" or "large") picks the input shapes; by default the method's own.
    """
    if method not in DEFAULT_SIZE:
        raise ValueError(f"method must be 'elementwise' or 'directional', got {method!r}")
    rng = np.random.default_rng(seed)
    inputs, loss, grads = PROBLEMS[op](backend, rng, size or DEFAULT_SIZE[method])
    if method == "elementwise":
        error = elementwise_error(loss, inputs, grads)
    else:
        error = directional_error(loss, inputs, grads, rng)
    return CheckResult(op, backend, method, error)


def targets(ops=None, backends=None):
    """(op, backend spec) pairs to check: conv2d per algorithm, pooling per backend."""
    ops = list(PROBLEMS) if ops is None else ops
    chosen = available_backends() if backends is None else backends
    for op in ops:
        if op == "conv2d":
            yield from ((op, k.spec) for k in available_kernels() if k.backend in chosen)
        else:
            yield from ((op, name) for name in chosen)


def check_all(ops=None, backends=None, methods=("elementwise", "directional"), seed=0):
    """Run every check; returns the list of :class:`CheckResult`."""
    return [check_op(op, backend, method, seed) for op, backend in targets(ops, backends) for method in methods]
