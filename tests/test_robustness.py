"""Hostile but valid input: NaN and infinities, huge shapes, several threads at once."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastconv.functional as F
from fastconv import available_backends, shapes
from helpers import ACCELERATED, SIMULATED_CUDA, assert_close


def _special_values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=6, replace=False)
    flat[picks[:2]], flat[picks[2:4]], flat[picks[4:]] = np.nan, np.inf, -np.inf
    return x


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_propagate_as_ieee_says(kernel, dtype):
    """Same NaN/inf pattern as the naive kernels: never a crash, never a silent number."""
    x = _special_values((2, 3, 9, 8), dtype, seed=1)
    w = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(dtype)
    for padding in (0, 1):  # without padding, kernels may read x in place
        args = dict(stride=1, padding=padding)
        y = F.conv2d(x, w, **args, backend=kernel.spec)
        assert_close(y, F.conv2d(x, w, **args, backend="naive"), dtype, "conv2d with NaN/inf")
        dy = np.ones_like(y)
        for got, want in zip(F.conv2d_backward(dy, x, w, **args, backend=kernel.spec),
                             F.conv2d_backward(dy, x, w, **args, backend="naive")):
            assert_close(got, want, dtype, "conv2d_backward with NaN/inf")
    for kind in ("max", "avg"):
        forward, backward = getattr(F, f"{kind}_pool2d"), getattr(F, f"{kind}_pool2d_backward")
        y = forward(x, 3, 2, 1, backend=kernel.backend)
        assert_close(y, forward(x, 3, 2, 1, backend="naive"), dtype, f"{kind}_pool2d with NaN/inf")
        dy = np.ones_like(y)
        assert_close(backward(dy, x, 3, 2, 1, backend=kernel.backend),
                     backward(dy, x, 3, 2, 1, backend="naive"), dtype, f"{kind}_pool2d_backward")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("stride", [1, 2])
def test_infinite_and_nan_weights_give_the_naive_outputs_and_gradients(kernel, stride):
    """A diverged model: outputs and gradients hold the naive kernel's NaN and inf, no
    more and no fewer (an inf weight times a zero of the padding is NaN there too; rows
    as wide as several SIMD vectors, so that a kernel may work on one row at a time)."""
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 3, 9, 30)), rng.standard_normal((4, 3, 3, 3))
    w[1, 2, 0, 1], w[2, 0, 2, 2] = np.inf, np.nan
    assert_close(F.conv2d(x, w, stride=stride, padding=1, backend=kernel.spec),
                 F.conv2d(x, w, stride=stride, padding=1, backend="naive"), np.float64,
                 f"{kernel.spec} conv2d with inf/NaN weights")
    dy = rng.standard_normal(F.conv2d(x, w, stride=stride, padding=1, backend="naive").shape)
    for got, want in zip(F.conv2d_backward(dy, x, w, stride=stride, padding=1, backend=kernel.spec),
                         F.conv2d_backward(dy, x, w, stride=stride, padding=1, backend="naive")):
        assert_close(got, want, np.float64, f"{kernel.spec} conv2d_backward with inf/NaN weights")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_one_infinite_pixel_spoils_only_the_weight_gradients_that_read_it(kernel):
    """An inf in x's last column is read by the last column of taps only: the other
    taps' dw stay finite (a kernel must not multiply it by a zero it made up)."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 1, 8, 8)), rng.standard_normal((2, 1, 3, 3))
    x[0, 0, 3, 7] = np.inf
    dy = rng.standard_normal(F.conv2d(x, w, backend="naive").shape)
    for got, want in zip(F.conv2d_backward(dy, x, w, backend=kernel.spec),
                         F.conv2d_backward(dy, x, w, backend="naive")):
        assert_close(got, want, np.float64, f"{kernel.spec} conv2d_backward with an inf pixel")
    assert np.isfinite(F.conv2d_backward(dy, x, w, backend=kernel.spec)[1][:, :, :, :2]).all()


def test_max_pool_follows_nan_like_pytorch():
    x = np.array([[1.0, np.nan], [5.0, 2.0]])[None, None]
    assert np.isnan(F.max_pool2d(x, 2, backend="naive")[0, 0, 0, 0])
    dx = F.max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2, backend="naive")
    np.testing.assert_array_equal(dx[0, 0], [[0, 1], [0, 0]])


@pytest.mark.parametrize("backend", available_backends())
def test_max_pool_indices_are_pytorchs(backend):
    """Same positions as ``torch.nn.functional.max_pool2d(..., return_indices=True)``,
    ties and all -inf windows included."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: no reference indices")
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6))
    x[0, 0, :3, :3] = 1.0
    x[1, 2, :4, :] = -np.inf
    args = ((3, 2), (2, 1), (1, 1))
    y, indices = F.max_pool2d(x, *args, return_indices=True, backend=backend)
    expected_y, expected = torch.nn.functional.max_pool2d(torch.from_numpy(x), *args, return_indices=True)
    np.testing.assert_array_equal(y, expected_y.numpy())
    np.testing.assert_array_equal(indices, expected.numpy())


def test_an_im2col_buffer_that_cannot_fit_is_refused_before_allocating():
    x = np.zeros((1, 64, 512, 512), dtype=np.float32)
    w = np.zeros((1, 64, 64, 64), dtype=np.float32)
    with pytest.raises(MemoryError, match=r"needs an im2col buffer of \d+\.\d GiB per image"):
        F.conv2d(x, w, padding=32, backend="numpy")


def test_big_batches_are_worked_through_in_chunks(monkeypatch):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((7, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2))
    dy = rng.standard_normal((7, 3, 4, 4))
    whole = F.conv2d(x, w, backend="numpy"), F.conv2d_backward(dy, x, w, backend="numpy")
    g = shapes.conv2d_geometry(x, w)
    monkeypatch.setattr(shapes, "WORKSPACE_BYTES", 2 * shapes.im2col_bytes(g, 8))
    assert len(shapes.batch_chunks(g, 8)) == 4
    np.testing.assert_allclose(F.conv2d(x, w, backend="numpy"), whole[0], rtol=1e-12)
    for got, want in zip(F.conv2d_backward(dy, x, w, backend="numpy"), whole[1]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# Numba's CUDA simulator keeps its thread and block indices in per-thread state and
# cannot serve several host threads at once; a real GPU can.
HOST_THREAD_SAFE = [k for k in ACCELERATED if not (k.backend == "cuda" and SIMULATED_CUDA)]


@pytest.mark.parametrize("kernel", HOST_THREAD_SAFE, ids=lambda k: k.spec)
def test_threads_calling_one_backend_at_once_get_correct_results(kernel):
    rng = np.random.default_rng(4)
    problems = [(rng.standard_normal((3, 4, 12, 11)).astype(np.float32),
                 rng.standard_normal((5, 4, 3, 3)).astype(np.float32)) for _ in range(8)]

    def work(problem):
        x, w = problem
        y = F.conv2d(x, w, padding=1, backend=kernel.spec)
        return y, F.conv2d_backward(y, x, w, padding=1, backend=kernel.spec), F.max_pool2d(y, 2, backend=kernel.backend)

    expected = [work(p) for p in problems]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, problems * 2))
    for got, want in zip(results, expected * 2):
        np.testing.assert_array_equal(got[0], want[0])
        for g, e in zip(got[1], want[1]):
            np.testing.assert_array_equal(g, e)
        np.testing.assert_array_equal(got[2], want[2])
