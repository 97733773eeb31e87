"""Property-based tests: any valid configuration, every backend, against the naive kernels.

Hypothesis draws the batch (zero included), channels, image and kernel sizes, stride,
padding, dilation, dtype and the memory layout of the inputs (contiguous, strided views,
transposed). Profiles: ``ci`` (default, quick) and ``long`` (10,000 examples per test,
or ``HYPOTHESIS_EXAMPLES``)::

    HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py
    HYPOTHESIS_PROFILE=long HYPOTHESIS_EXAMPLES=4000 python -m pytest tests/test_properties.py -k cuda:v1

Pooling has no algorithms: its tests call ``kernel.backend``, so the algorithms of one
backend repeat the same pooling test.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastconv.functional as F
from fastconv.buffers import poisoned
from fastconv.shapes import output_size
from helpers import assert_close

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 10_000)), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


def layouts(data, shape, dtype):
    """An array of ``shape`` in a drawn memory layout, with values drawn from a seed."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    layout = data.draw(st.sampled_from(["contiguous", "strided", "transposed"]), label="layout")
    if layout == "strided":
        big = rng.standard_normal(tuple(2 * d for d in shape)).astype(dtype)
        return big[::2, ::2, ::2, ::2]
    if layout == "transposed":
        return np.asfortranarray(rng.standard_normal(shape).astype(dtype))
    return rng.standard_normal(shape).astype(dtype)


@st.composite
def conv_configs(draw):
    R, S = draw(pairs, label="kernel")
    stride, dilation = draw(pairs, label="stride"), draw(st.tuples(st.integers(1, 2), st.integers(1, 2)), label="dilation")
    padding = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)), label="padding")
    min_h = max(1, dilation[0] * (R - 1) + 1 - 2 * padding[0])
    min_w = max(1, dilation[1] * (S - 1) + 1 - 2 * padding[1])
    H, W = draw(st.integers(min_h, min_h + 8)), draw(st.integers(min_w, min_w + 8))
    N, C, K = draw(st.integers(0, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return (N, C, H, W), (K, C, R, S), dict(stride=stride, padding=padding, dilation=dilation), dtype


@st.composite
def pool_configs(draw):
    kernel = draw(pairs, label="kernel")
    stride = draw(pairs, label="stride")
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    H = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 12))
    W = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 12))
    shape = (draw(st.integers(0, 3)), draw(st.integers(1, 3)), H, W)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return shape, dict(kernel_size=kernel, stride=stride, padding=padding), dtype


def naive_in_float64(op, *arrays, **kwargs):
    return op(*(np.asarray(a, dtype=np.float64) for a in arrays), **kwargs, backend="naive")


@given(config=conv_configs(), data=st.data())
def test_conv2d_property(kernel, config, data):
    x_shape, w_shape, args, dtype = config
    x, w = layouts(data, x_shape, dtype), layouts(data, w_shape, dtype)
    OH = output_size(x_shape[2], w_shape[2], args["stride"][0], args["padding"][0], args["dilation"][0])
    OW = output_size(x_shape[3], w_shape[3], args["stride"][1], args["padding"][1], args["dilation"][1])
    dy = layouts(data, (x_shape[0], w_shape[0], OH, OW), dtype)
    with poisoned():
        y = F.conv2d(x, w, **args, backend=kernel.spec)
        grads = F.conv2d_backward(dy, x, w, **args, backend=kernel.spec)
    assert_close(y, naive_in_float64(F.conv2d, x, w, **args), dtype, "forward")
    for got, want in zip(grads, naive_in_float64(F.conv2d_backward, dy, x, w, **args)):
        assert_close(got, want, dtype, "backward")


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(config=pool_configs(), data=st.data())
def test_pool2d_property(kernel, kind, config, data):
    shape, args, dtype = config
    forward, backward = getattr(F, f"{kind}_pool2d"), getattr(F, f"{kind}_pool2d_backward")
    x = layouts(data, shape, dtype)
    expected = naive_in_float64(forward, x, **args)
    dy = layouts(data, expected.shape, dtype)
    with poisoned():
        y = forward(x, **args, backend=kernel.backend)
        dx = backward(dy, x, **args, backend=kernel.backend)
    assert_close(y, expected, dtype, "forward")
    expected_dx = naive_in_float64(backward, dy, x, **args)
    assert_close(dx, expected_dx, dtype, "backward")
    if kind == "max":  # the same through the indices that forward can return
        with poisoned():
            y, indices = forward(x, **args, return_indices=True, backend=kernel.backend)
            dx = backward(dy, x, **args, indices=indices, backend=kernel.backend)
        assert_close(y, expected, dtype, "forward with indices")
        assert_close(dx, expected_dx, dtype, "backward from indices")
