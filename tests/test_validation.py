"""Bad input gets a clear exception, naming the argument and the shapes, on every backend."""
import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from helpers import KERNELS

ALL = pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.spec)

X = np.zeros((2, 3, 8, 8), dtype=np.float32)
W = np.zeros((4, 3, 3, 3), dtype=np.float32)


@ALL
@pytest.mark.parametrize(
    "x, w, b, kwargs, error, message",
    [
        (X[0], W, None, {}, ValueError, r"x must be 4-D \(N, C, H, W\), got shape \(3, 8, 8\)"),
        (X, W[0], None, {}, ValueError, r"w must be 4-D .* got shape \(3, 3, 3\)"),
        (X[None], W, None, {}, ValueError, r"x must be 4-D .*\(1, 2, 3, 8, 8\)"),
        (X, W, np.zeros((4, 1), np.float32), {}, ValueError, r"b must be 1-D, got shape \(4, 1\)"),
        (X, W, np.zeros(5, np.float32), {}, ValueError, r"b must have shape \(4,\) .* got \(5,\)"),
        (X, W[:, :2], None, {}, ValueError, r"w has 2 input channels but x has 3: x \(2, 3, 8, 8\), w \(4, 2, 3, 3\)"),
        (X, np.zeros((4, 3, 9, 3), np.float32), None, {}, ValueError, r"output would be empty \(0x6\)"),
        (X, W, None, dict(padding=-1), ValueError, r"padding must be >= 0, got -1"),
        (X, W, None, dict(stride=0), ValueError, r"stride must be >= 1, got 0"),
        (X, W, None, dict(stride=(1, -2)), ValueError, r"stride must be >= 1, got \(1, -2\)"),
        (X, W, None, dict(dilation=0), ValueError, r"dilation must be >= 1, got 0"),
        (X, W, None, dict(stride=(1, 2, 3)), TypeError, r"stride must be an int or a pair of ints"),
        (X, W, None, dict(stride=1.5), TypeError, r"stride must be an int or a pair of ints, got 1.5"),
        (X, W, None, dict(padding=True), TypeError, r"padding must be an int or a pair of ints"),
        (X.astype(np.int32), W, None, {}, TypeError, r"x must be float32 or float64, got int32"),
        (X.astype(np.float16), W, None, {}, TypeError, r"x must be float32 or float64, got float16"),
        (X, W.astype(np.float64), None, {}, TypeError, r"share one dtype, got x: float32 \(2, 3, 8, 8\), w: float64"),
        (X.tolist(), W, None, {}, TypeError, r"x must be a NumPy array .* got list"),
        (X, 3.0, None, {}, TypeError, r"w must be a NumPy array .* got float"),
        (np.zeros((2, 0, 8, 8), np.float32), W[:, :0], None, {}, ValueError, r"at least one channel"),
    ],
)
def test_conv2d_rejects(kernel, x, w, b, kwargs, error, message):
    with pytest.raises(error, match=message):
        F.conv2d(x, w, b, **kwargs, backend=kernel.spec)


@ALL
def test_conv2d_backward_rejects_a_dy_of_the_wrong_shape(kernel):
    with pytest.raises(ValueError, match=r"dy must have the shape of the conv2d output \(2, 4, 6, 6\), got \(2, 4, 6, 5\)"):
        F.conv2d_backward(np.zeros((2, 4, 6, 5), np.float32), X, W, backend=kernel.spec)
    with pytest.raises(TypeError, match=r"share one dtype, got dy: float64"):
        F.conv2d_backward(np.zeros((2, 4, 6, 6)), X, W, backend=kernel.spec)


@ALL
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize(
    "x, args, error, message",
    [
        (X[0], dict(kernel_size=2), ValueError, r"x must be 4-D"),
        (X, dict(kernel_size=0), ValueError, r"kernel_size must be >= 1, got 0"),
        (X, dict(kernel_size=2, stride=0), ValueError, r"stride must be >= 1, got 0"),
        (X, dict(kernel_size=2, padding=-1), ValueError, r"padding must be >= 0"),
        (X, dict(kernel_size=(3, 2), padding=(1, 2)), ValueError, r"padding \(1, 2\) must be at most half of kernel_size \(3, 2\)"),
        (X, dict(kernel_size=9), ValueError, r"pooling output would be empty \(0x0\): x \(2, 3, 8, 8\)"),
        (X.astype(np.int64), dict(kernel_size=2), TypeError, r"x must be float32 or float64, got int64"),
        ([[1.0]], dict(kernel_size=1), TypeError, r"x must be a NumPy array"),
    ],
)
def test_pooling_rejects(kernel, op, x, args, error, message):
    with pytest.raises(error, match=message):
        getattr(F, op)(x, **args, backend=kernel.backend)


@ALL
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pooling_backward_rejects_a_dy_of_the_wrong_shape(kernel, op):
    with pytest.raises(ValueError, match=rf"dy must have the shape of the {op} output \(2, 3, 4, 4\), got \(2, 3, 4, 3\)"):
        getattr(F, f"{op}_backward")(np.zeros((2, 3, 4, 3), np.float32), X, 2, backend=kernel.backend)


@ALL
@pytest.mark.parametrize(
    "indices, error, message",
    [
        ([[0]], TypeError, r"indices must be a NumPy array"),
        (np.zeros((2, 3, 4, 4), np.float32), TypeError, r"indices must hold integers, got float32"),
        (np.zeros((2, 3, 4, 3), np.int64), ValueError, r"indices must have the shape of the max_pool2d output \(2, 3, 4, 4\), got \(2, 3, 4, 3\)"),
        (np.full((2, 3, 4, 4), 64), ValueError, r"in \[0, 64\), got values from 64 to 64"),
        (np.full((2, 3, 4, 4), -1), ValueError, r"in \[0, 64\), got values from -1 to -1"),
    ],
)
def test_max_pool_backward_rejects_bad_indices(kernel, indices, error, message):
    """A scatter to a position outside the plane would write out of bounds: refused first."""
    with pytest.raises(error, match=message):
        F.max_pool2d_backward(np.zeros((2, 3, 4, 4), np.float32), X, 2, indices=indices, backend=kernel.backend)


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match=r"unknown backend 'fortran'; choose one of naive, numpy"):
        F.conv2d(X, W, backend="fortran")
    with pytest.raises(ValueError, match=r"backend 'numpy' has no algorithm 'winograd'; it has im2col"):
        F.conv2d(X, W, backend="numpy:winograd")
    with pytest.raises(TypeError, match=r"backend must be a string"):
        F.conv2d(X, W, backend=3)


def test_unavailable_backend_says_why(monkeypatch):
    from fastconv import backends

    real_load = backends._load
    monkeypatch.setattr(backends, "_load", lambda name: (None, "no compiler") if name == "numpy" else real_load(name))
    with pytest.raises(fastconv.BackendUnavailable, match=r"backend 'numpy' is not available here: no compiler"):
        F.conv2d(X, W, backend="numpy")
    assert "numpy" not in fastconv.available_backends()
    assert fastconv.unavailable_backends()["numpy"] == "no compiler"


def test_validation_runs_before_any_kernel(monkeypatch):
    """A bad call must never reach a kernel, whatever the backend."""
    import fastconv.kernels.numpy as numpy_backend

    def explode(*args, **kwargs):
        raise AssertionError("kernel called with invalid input")

    monkeypatch.setattr(numpy_backend, "conv2d_forward", explode)
    with pytest.raises(ValueError, match="input channels"):
        F.conv2d(X, W[:, :2], backend="numpy")
