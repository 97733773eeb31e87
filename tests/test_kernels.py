"""Every accelerated kernel against the naive ground truth on seeded random configurations.

Each case draws shapes (odd sizes, non-square kernels and images, stride > 1, padding,
dilation, batch 1, single channel) and values, runs forward and backward with output
buffers poisoned with NaN (an element a kernel forgets to write fails), in float32 and
float64. The reference is the naive kernel in float64 on the same (rounded) inputs.
"""
import functools

import numpy as np
import pytest

import fastconv.functional as F
from fastconv.buffers import poisoned
from helpers import assert_close, case_count, random_conv_case, random_pool_case

CASES = 200
CHUNKS = 4
DTYPES = [np.float32, np.float64]


def _inputs(case_seed, dtype, make_case):
    rng = np.random.default_rng(case_seed)
    case = make_case(rng)
    x = rng.standard_normal(case["x_shape"]).astype(dtype)
    return rng, case, x


@functools.lru_cache(maxsize=None)
def conv_problem(case_seed, dtype):
    rng, case, x = _inputs(case_seed, dtype, random_conv_case)
    w = rng.standard_normal(case["w_shape"]).astype(dtype)
    b = rng.standard_normal(case["w_shape"][0]).astype(dtype) if rng.random() < 0.8 else None
    args = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])
    exact = lambda a: None if a is None else a.astype(np.float64)
    y = F.conv2d(exact(x), exact(w), exact(b), **args, backend="naive")
    dy = rng.standard_normal(y.shape).astype(dtype)
    grads = F.conv2d_backward(exact(dy), exact(x), exact(w), **args, backend="naive")
    return dict(x=x, w=w, b=b, dy=dy, args=args, y=y, grads=grads)


@functools.lru_cache(maxsize=None)
def pool_problem(case_seed, dtype, kind):
    rng, case, x = _inputs(case_seed, dtype, random_pool_case)
    args = dict(kernel_size=case["kernel"], stride=case["stride"], padding=case["padding"])
    forward, backward = getattr(F, f"{kind}_pool2d"), getattr(F, f"{kind}_pool2d_backward")
    y = forward(x.astype(np.float64), **args, backend="naive")
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = backward(dy.astype(np.float64), x.astype(np.float64), **args, backend="naive")
    indices = F.max_pool2d(x, **args, return_indices=True, backend="naive")[1] if kind == "max" else None
    return dict(x=x, dy=dy, args=args, y=y, dx=dx, indices=indices)


def seeds(kernel, chunk):
    count = case_count(kernel, CASES)
    return range(chunk * count // CHUNKS, (chunk + 1) * count // CHUNKS)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_conv2d_matches_naive(kernel, dtype, chunk):
    for seed in seeds(kernel, chunk):
        p = conv_problem(seed, dtype)
        what = f"{kernel.spec} case {seed}: x {p['x'].shape} w {p['w'].shape} {p['args']}"
        with poisoned():
            y = F.conv2d(p["x"], p["w"], p["b"], **p["args"], backend=kernel.spec)
            grads = F.conv2d_backward(p["dy"], p["x"], p["w"], **p["args"], backend=kernel.spec)
        assert_close(y, p["y"], dtype, f"forward, {what}")
        for name, got, expected in zip(("dx", "dw", "db"), grads, p["grads"]):
            assert_close(got, expected, dtype, f"{name}, {what}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_conv2d_backward_without_input_grad_gives_the_same_dw_and_db(kernel, dtype):
    """input_grad=False (a network's first layer) skips dx and changes nothing else."""
    for seed in range(case_count(kernel, CASES) // CHUNKS):
        p = conv_problem(seed, dtype)
        what = f"{kernel.spec} case {seed}: x {p['x'].shape} w {p['w'].shape} {p['args']}"
        with poisoned():
            dx, dw, db = F.conv2d_backward(p["dy"], p["x"], p["w"], **p["args"], input_grad=False,
                                           backend=kernel.spec)
        assert dx is None, what
        assert_close(dw, p["grads"][1], dtype, f"dw, {what}")
        assert_close(db, p["grads"][2], dtype, f"db, {what}")


def test_naive_conv2d_backward_without_input_grad_skips_only_dx():
    p = conv_problem(0, np.float64)
    exact = F.conv2d_backward(p["dy"], p["x"], p["w"], **p["args"], backend="naive")
    dx, dw, db = F.conv2d_backward(p["dy"], p["x"], p["w"], **p["args"], input_grad=False, backend="naive")
    assert dx is None
    np.testing.assert_array_equal(dw, exact[1])
    np.testing.assert_array_equal(db, exact[2])


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_pool2d_matches_naive(kernel, kind, dtype, chunk):
    forward, backward = getattr(F, f"{kind}_pool2d"), getattr(F, f"{kind}_pool2d_backward")
    for seed in seeds(kernel, chunk):
        p = pool_problem(seed, dtype, kind)
        what = f"{kernel.backend} {kind} case {seed}: x {p['x'].shape} {p['args']}"
        with poisoned():
            y = forward(p["x"], **p["args"], backend=kernel.backend)
            dx = backward(p["dy"], p["x"], **p["args"], backend=kernel.backend)
        assert_close(y, p["y"], dtype, f"forward, {what}")
        assert_close(dx, p["dx"], dtype, f"dx, {what}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_max_pool2d_indices_match_naive(kernel, dtype, chunk):
    """Forward with indices gives the naive indices exactly; backward from them gives dx."""
    for seed in seeds(kernel, chunk):
        p = pool_problem(seed, dtype, "max")
        what = f"{kernel.backend} case {seed}: x {p['x'].shape} {p['args']}"
        with poisoned():
            y, indices = F.max_pool2d(p["x"], **p["args"], return_indices=True, backend=kernel.backend)
            dx = F.max_pool2d_backward(p["dy"], p["x"], **p["args"], indices=p["indices"], backend=kernel.backend)
        assert_close(y, p["y"], dtype, f"forward, {what}")
        assert indices.dtype == np.int64, what
        np.testing.assert_array_equal(indices, p["indices"], err_msg=what)
        assert_close(dx, p["dx"], dtype, f"dx from indices, {what}")


def test_random_cases_cover_the_awkward_configurations():
    """The random cases must include what breaks kernels, or the comparison proves little."""
    cases = [random_conv_case(np.random.default_rng(seed)) for seed in range(CASES)]
    assert any(c["x_shape"][0] == 1 for c in cases), "batch 1"
    assert any(c["x_shape"][1] == 1 for c in cases), "single channel"
    assert any(c["w_shape"][2] != c["w_shape"][3] for c in cases), "non-square kernel"
    assert any(c["x_shape"][2] != c["x_shape"][3] for c in cases), "non-square image"
    assert any(c["x_shape"][2] % 2 == 1 for c in cases), "odd size"
    assert any(max(c["stride"]) > 1 for c in cases), "stride > 1"
    assert any(max(c["padding"]) > 0 for c in cases), "padding"
    assert any(max(c["dilation"]) > 1 for c in cases), "dilation"
    pools = [random_pool_case(np.random.default_rng(seed)) for seed in range(CASES)]
    assert any(max(c["padding"]) > 0 and c["kernel"][0] != c["kernel"][1] for c in pools)
    assert any(c["stride"] != c["kernel"] for c in pools), "overlapping or gapped windows"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_non_contiguous_inputs_give_the_same_answer(kernel, dtype):
    rng = np.random.default_rng(7)
    x_big = rng.standard_normal((2, 3, 14, 12)).astype(dtype)
    w_big = rng.standard_normal((4, 6, 3, 3)).astype(dtype)
    x, w = x_big[:, :, ::2, :], w_big[:, ::2]  # strided views
    x_t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # Fortran-like
    expected = F.conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), backend="naive")
    for view in (x, x_t):
        assert_close(F.conv2d(view, w, backend=kernel.spec), expected, dtype, "strided conv2d")
    dy = rng.standard_normal(expected.shape).astype(dtype)[:, ::-1]
    expected_grads = F.conv2d_backward(np.ascontiguousarray(dy), np.ascontiguousarray(x),
                                       np.ascontiguousarray(w), backend="naive")
    for got, want in zip(F.conv2d_backward(dy, x, w, backend=kernel.spec), expected_grads):
        assert_close(got, want, dtype, "strided conv2d_backward")
    assert_close(F.max_pool2d(x, 2, backend=kernel.backend),
                 F.max_pool2d(np.ascontiguousarray(x), 2, backend="naive"), dtype, "strided max_pool2d")


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "avg_pool2d"])
def test_zero_size_batch_gives_an_empty_result_of_the_right_shape(kernel, op):
    x = np.zeros((0, 2, 6, 5), dtype=np.float32)
    if op == "conv2d":
        w = np.ones((3, 2, 3, 3), dtype=np.float32)
        y = F.conv2d(x, w, backend=kernel.spec)
        dx, dw, db = F.conv2d_backward(np.zeros_like(y), x, w, backend=kernel.spec)
        assert (y.shape, dx.shape, dw.shape, db.shape) == ((0, 3, 4, 3), x.shape, w.shape, (3,))
        np.testing.assert_array_equal(np.asarray(dw), 0)
        np.testing.assert_array_equal(np.asarray(db), 0)
    else:
        y = getattr(F, op)(x, 2, backend=kernel.backend)
        dx = getattr(F, f"{op}_backward")(np.zeros_like(y), x, 2, backend=kernel.backend)
        assert (y.shape, dx.shape) == ((0, 2, 3, 2), x.shape)
