"""The backend registry: which implementations exist, which run here, which is current.

A backend is a module ``fastconv.kernels.<name>`` that implements the contract::

    ALGORITHMS: tuple[str, ...]            # conv2d algorithms it holds, e.g. ("direct", "im2col")
    conv2d_forward(x, w, b, stride, padding, dilation, algorithm=None) -> y
    conv2d_backward(dy, x, w, stride, padding, dilation, algorithm=None, input_grad=True) -> (dx, dw, db)
    max_pool2d_forward(x, kernel, stride, padding) -> y
    max_pool2d_forward_indices(x, kernel, stride, padding) -> (y, indices)
    max_pool2d_backward_indices(dy, indices, x_shape, kernel, stride, padding) -> dx
    avg_pool2d_forward(x, kernel, stride, padding) -> y
    avg_pool2d_backward(dy, x, kernel, stride, padding) -> dx
    unavailable_reason() -> str | None     # optional: why it cannot run on this machine

Arguments arrive validated (see :mod:`fastconv.shapes`): C-contiguous NCHW arrays of
one float dtype, and pairs of ints. ``indices`` are int64, the shape of y: the position
``h * W + w`` of each window's maximum in its plane x[n, c], as PyTorch's. Max pooling's
backward without indices is the two indices functions in a row, composed once in
:func:`fastconv.functional.max_pool2d_backward`. ``algorithm=None`` lets the backend choose. With ``input_grad=False``
the convolution's backward skips dx and returns None in its place.

A backend is named on its own (``"numba"``) or with an algorithm (``"numba:im2col"``).
``"auto"``, in the functional API, is the fastest kernel for each op and shape by
measurement (:mod:`fastconv.autotune`); where nothing is measured it is the first
available backend of :data:`AUTO_PREFERENCE`.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import os
import threading
from types import ModuleType
from typing import NamedTuple

BACKEND_NAMES = ("naive", "numpy", "numba", "cython", "cuda")
AUTO_PREFERENCE = ("numba", "cython", "numpy", "naive")
ENV_VARIABLE = "FASTCONV_BACKEND"


class BackendUnavailable(RuntimeError):
    """The named backend exists but cannot run on this machine."""


class Kernel(NamedTuple):
    """One (backend, algorithm) pair: what tests and benchmarks iterate over."""

    backend: str
    algorithm: str

    @property
    def spec(self) -> str:
        return f"{self.backend}:{self.algorithm}"


@functools.lru_cache(maxsize=None)
def _load(name: str) -> tuple[ModuleType | None, str | None]:
    """Import a backend once; return (module, None) or (None, reason it is unavailable)."""
    try:
        module = importlib.import_module(f"fastconv.kernels.{name}")
    except ImportError as exc:
        return None, f"cannot import fastconv.kernels.{name}: {exc}"
    if not hasattr(module, "ALGORITHMS"):
        return None, f"fastconv.kernels.{name} is not a backend module (no ALGORITHMS)"
    reason = module.unavailable_reason() if hasattr(module, "unavailable_reason") else None
    return (None, reason) if reason else (module, None)


def unavailable_backends() -> dict[str, str]:
    """Backends that cannot run here, with the reason for each."""
    return {name: _load(name)[1] for name in BACKEND_NAMES if _load(name)[0] is None}


def available_backends() -> list[str]:
    """Names of the backends that run on this machine, in :data:`BACKEND_NAMES` order."""
    return [name for name in BACKEND_NAMES if _load(name)[0] is not None]


def available_kernels() -> list[Kernel]:
    """Every (backend, algorithm) pair that runs on this machine."""
    return [
        Kernel(name, algorithm)
        for name in available_backends()
        for algorithm in _load(name)[0].ALGORITHMS
    ]


_state = threading.local()
_default = {"spec": None}


def set_backend(name: str | None) -> None:
    """Make ``name`` the default backend of this process (None: back to the environment/auto)."""
    if name is not None:
        resolve(name)
    _default["spec"] = name


def get_backend() -> str:
    """The spec that ``backend=None`` means right now."""
    override = getattr(_state, "stack", None)
    if override:
        return override[-1]
    return _default["spec"] or os.environ.get(ENV_VARIABLE) or "auto"


@contextlib.contextmanager
def use_backend(name: str):
    """Use ``name`` as the default backend inside a ``with`` block (this thread only)."""
    resolve(name)
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(name)
    try:
        yield
    finally:
        stack.pop()


def resolve(spec: str | None) -> tuple[ModuleType, str | None]:
    """Turn ``"name"``, ``"name:algorithm"``, ``"auto"`` or None into (module, algorithm)."""
    if spec is None:
        spec = get_backend()
    if not isinstance(spec, str):
        raise TypeError(f"backend must be a string such as 'numpy', got {spec!r}")
    name, _, algorithm = spec.partition(":")
    if name == "auto":
        if algorithm:
            raise ValueError(f"backend 'auto' takes no algorithm, got {spec!r}")
        name = next(n for n in AUTO_PREFERENCE if _load(n)[0] is not None)
    if name not in BACKEND_NAMES:
        raise ValueError(
            f"unknown backend {spec!r}; choose one of {', '.join(BACKEND_NAMES + ('auto',))}"
        )
    module, reason = _load(name)
    if module is None:
        raise BackendUnavailable(f"backend {name!r} is not available here: {reason}")
    if algorithm and algorithm not in module.ALGORITHMS:
        raise ValueError(
            f"backend {name!r} has no algorithm {algorithm!r}; it has {', '.join(module.ALGORITHMS)}"
        )
    return module, algorithm or None
