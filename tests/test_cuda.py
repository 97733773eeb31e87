"""The cuda backend: each kernel version against the naive kernels, device residency,
the NumPy compatibility shim and the availability rules.

Without a GPU these run on the Numba CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set
before Numba is imported), which executes every thread in Python: shapes stay tiny, but
each one still crosses tile, filter-group and window boundaries.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv.buffers import poisoned
from helpers import assert_close

needs_cuda = pytest.mark.skipif(
    "cuda" not in fastconv.available_backends(),
    reason="no CUDA GPU here and NUMBA_ENABLE_CUDASIM is not 1",
)
DTYPES = [np.float32, np.float64]
ALGORITHMS = ["v1_direct", "v2_tiled", "v3_im2col"]
# Non-square image and kernel, a stride, padding and dilation pair that all differ.
CONV = dict(x_shape=(2, 2, 6, 5), w_shape=(3, 2, 3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2))


def conv_problem(dtype, x_shape, w_shape, bias=True, seed=0, **args):
    """Inputs in ``dtype`` and the naive float64 results on the same rounded values."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    f64 = lambda a: None if a is None else a.astype(np.float64)
    y = F.conv2d(f64(x), f64(w), f64(b), **args, backend="naive")
    dy = rng.standard_normal(y.shape).astype(dtype)
    grads = F.conv2d_backward(f64(dy), f64(x), f64(w), **args, backend="naive")
    return dict(x=x, w=w, b=b, dy=dy, args=args, y=y, grads=grads)


@needs_cuda
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv2d_versions_match_naive(algorithm, dtype):
    p = conv_problem(dtype, **CONV)
    with poisoned():
        y = F.conv2d(p["x"], p["w"], p["b"], **p["args"], backend=f"cuda:{algorithm}")
        grads = F.conv2d_backward(p["dy"], p["x"], p["w"], **p["args"], backend=f"cuda:{algorithm}")
    assert isinstance(y, np.ndarray) and all(isinstance(g, np.ndarray) for g in grads)
    assert_close(y, p["y"], dtype, f"{algorithm} forward")
    for name, got, expected in zip(("dx", "dw", "db"), grads, p["grads"]):
        assert_close(got, expected, dtype, f"{algorithm} {name}")


@needs_cuda
def test_tiled_conv2d_covers_several_tiles_and_filter_groups():
    """19 output rows need two 16-row tiles, 9 filters need two groups of 8."""
    p = conv_problem(np.float32, (1, 1, 18, 3), (9, 1, 2, 1), stride=1, padding=(1, 0), dilation=1)
    with poisoned():
        y = F.conv2d(p["x"], p["w"], p["b"], **p["args"], backend="cuda:v2_tiled")
    assert_close(y, p["y"], np.float32, "v2 over tiles")


@needs_cuda
def test_tiled_conv2d_shrinks_its_tile_to_fit_shared_memory(monkeypatch):
    from fastconv.kernels.cuda import conv_forward

    monkeypatch.setattr(conv_forward, "SHARED_BYTES", 400)  # an 8x5 tile would need 520
    p = conv_problem(np.float64, (1, 2, 8, 5), (3, 2, 2, 2), stride=1, padding=1, dilation=1)
    with poisoned():
        y = F.conv2d(p["x"], p["w"], p["b"], **p["args"], backend="cuda:v2_tiled")
    assert_close(y, p["y"], np.float64, "v2 with a small tile")


def fold(matrix, groups):
    """The folded form (G, rows, P) of a (rows, G*P) matrix, as the GEMM reads it."""
    rows, cols = matrix.shape
    return np.ascontiguousarray(matrix.reshape(rows, groups, cols // groups).transpose(1, 0, 2))


@needs_cuda
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_on_folded_and_transposed_operands(trans_a, trans_b):
    """op(A) (6 x 20) @ op(B) (20 x 12): depth 20 is one full and one partial slice."""
    from numba import cuda

    from fastconv.kernels.cuda.gemm import matmul

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((6, 20)), rng.standard_normal((20, 12))
    A = fold(a.T, 2) if trans_a else fold(a, 4)
    B = fold(b.T, 4) if trans_b else fold(b, 2)
    C = cuda.to_device(np.full((3, 6, 4), np.nan))
    matmul(cuda.to_device(A), trans_a, cuda.to_device(B), trans_b, C)
    np.testing.assert_allclose(C.copy_to_host(), fold(a @ b, 3), rtol=1e-12)


@needs_cuda
def test_gemm_across_block_tiles_with_bias():
    """66 x 65 outputs take four 64 x 64 tiles, three of them partial."""
    from numba import cuda

    from fastconv.kernels.cuda.gemm import matmul

    rng = np.random.default_rng(2)
    a, b, bias = rng.standard_normal((66, 3)), rng.standard_normal((3, 65)), rng.standard_normal(66)
    C = cuda.to_device(np.full((1, 66, 65), np.nan))
    matmul(cuda.to_device(a[None]), False, cuda.to_device(b[None]), False, C, cuda.to_device(bias))
    np.testing.assert_allclose(C.copy_to_host()[0], a @ b + bias[:, None], rtol=1e-12)


def pool_input(dtype):
    """Small integers (many ties), a NaN and a window of -inf: the max-pool edge cases."""
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, size=(2, 2, 5, 7)).astype(dtype)
    x[0, 0, 2, 3] = np.nan
    x[1, 1, :3, :3] = -np.inf
    return x


@needs_cuda
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_naive(kind, dtype):
    forward, backward = getattr(F, f"{kind}_pool2d"), getattr(F, f"{kind}_pool2d_backward")
    x = pool_input(dtype)
    args = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))
    y = forward(x.astype(np.float64), **args, backend="naive")
    dy = np.random.default_rng(4).standard_normal(y.shape).astype(dtype)
    dx = backward(dy.astype(np.float64), x.astype(np.float64), **args, backend="naive")
    with poisoned():
        got_y = forward(x, **args, backend="cuda")
        got_dx = backward(dy, x, **args, backend="cuda")
    assert_close(got_y, y, dtype, f"{kind} forward")  # NaN where the naive result has NaN
    assert_close(got_dx, dx, dtype, f"{kind} dx")


@needs_cuda
def test_device_arrays_in_give_device_arrays_out():
    """A model on the GPU keeps its tensors there: no copies back to the host."""
    from numba import cuda

    p = conv_problem(np.float32, (1, 2, 5, 4), (3, 2, 2, 2), stride=1, padding=1, dilation=1)
    x, w, b, dy = (cuda.to_device(p[k]) for k in ("x", "w", "b", "dy"))
    results = [
        F.conv2d(x, w, b, **p["args"]),  # backend 'auto' sends device arrays to cuda
        *F.conv2d_backward(dy, x, w, **p["args"], backend="cuda:v2_tiled"),
    ]
    pooled = F.max_pool2d(x, 2, backend="cuda")
    results += [pooled, F.avg_pool2d_backward(F.avg_pool2d(x, 2, backend="cuda"), x, 2, backend="cuda")]
    assert not any(isinstance(r, np.ndarray) for r in results)
    assert_close(results[0].copy_to_host(), p["y"], np.float32, "device forward")
    for got, expected in zip(results[1:4], p["grads"]):
        assert_close(got.copy_to_host(), expected, np.float32, "device backward")
    assert_close(pooled.copy_to_host(), F.max_pool2d(p["x"], 2, backend="naive"), np.float32, "device pool")


@needs_cuda
def test_poisoned_device_outputs_are_nan():
    from fastconv.kernels.cuda.device import empty

    with poisoned():
        assert np.isnan(empty((2, 3), np.float32).copy_to_host()).all()


def test_row_stack_is_restored_where_numpy_removed_it(monkeypatch):
    from fastconv.kernels.cuda.compat import restore_row_stack

    monkeypatch.delattr(np, "row_stack", raising=False)
    restore_row_stack()
    assert np.row_stack is np.vstack


def test_row_stack_is_left_alone_where_numpy_has_it(monkeypatch):
    from fastconv.kernels.cuda.compat import restore_row_stack

    sentinel = object()
    monkeypatch.setattr(np, "row_stack", sentinel, raising=False)
    restore_row_stack()
    assert np.row_stack is sentinel


def backends_in_fresh_process(simulator: bool):
    """(available backends, cuda's reason, numba.cuda.is_available()) in a new interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    code = (
        "import json, fastconv; from numba import cuda; "
        "print(json.dumps([fastconv.available_backends(), "
        "fastconv.unavailable_backends().get('cuda'), cuda.is_available()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_cuda_is_listed_with_the_simulator_on():
    available, reason, _ = backends_in_fresh_process(simulator=True)
    assert "cuda" in available and reason is None


def test_cuda_is_listed_only_where_a_gpu_is_present():
    available, reason, gpu = backends_in_fresh_process(simulator=False)
    assert ("cuda" in available) == gpu
    if not gpu:
        assert "NUMBA_ENABLE_CUDASIM=1" in reason


@needs_cuda
def test_linear_forward_and_backward():
    from fastconv.kernels.cuda import dense

    rng = np.random.default_rng(5)
    x, w, b, dy = (rng.standard_normal(s) for s in ((3, 5), (4, 5), (4,), (3, 4)))
    with poisoned():
        y = dense.linear_forward(x, w, b)
        dx, dw, db = dense.linear_backward(dy, x, w)
    assert_close(y, x @ w.T + b, np.float64, "linear y")
    for name, got, expected in (("dx", dx, dy @ w), ("dw", dw, dy.T @ x), ("db", db, dy.sum(axis=0))):
        assert_close(got, expected, np.float64, f"linear {name}")


@needs_cuda
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations(name):
    from fastconv.kernels.cuda import dense

    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 2)).astype(np.float32)
    x[0, 0, 0] = np.nan
    dy = rng.standard_normal(x.shape).astype(np.float32)
    forward = {"relu": lambda v: np.where(v > 0, v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
               "tanh": np.tanh}
    backward = {"relu": lambda y: dy * (x > 0), "sigmoid": lambda y: dy * y * (1 - y),
                "tanh": lambda y: dy * (1 - y * y)}
    expected = np.where(np.isnan(x), np.nan, forward[name](x)).astype(np.float32)
    with poisoned():
        y = dense.activation_forward(name, x)
        dx = dense.activation_backward(name, dy, x if name == "relu" else expected)
    assert_close(y, expected, np.float32, f"{name} forward")
    assert_close(dx, backward[name](expected).astype(np.float32), np.float32, f"{name} backward")


@needs_cuda
def test_softmax_cross_entropy():
    from fastconv.kernels.cuda import dense

    rng = np.random.default_rng(7)
    logits, labels = rng.standard_normal((4, 3)) * 30, np.array([0, 2, 1, 2])  # large: needs the stable form
    with poisoned():
        loss, dlogits = dense.softmax_cross_entropy(logits, labels)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-log_p[np.arange(4), labels].mean(), rel=1e-12)
    assert_close(dlogits, (np.exp(log_p) - np.eye(3)[labels]) / 4, np.float64, "dlogits")


def test_gpu_check_runs_on_the_simulator():
    """benchmarks/gpu_check.py --tiny: every kernel version validated, the epoch timed, exit 0."""
    script = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "gpu_check.py")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    out = subprocess.run([sys.executable, script, "--tiny"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "card: " in out.stdout and "WRONG" not in out.stdout
    assert "conv2d v3_im2col bwd" in out.stdout and "max_pool2d bwd" in out.stdout
    assert "fastconv on the GPU" in out.stdout and "fastconv on the CPU" in out.stdout
