"""Examples worked out by hand, checked on every backend (naive included)."""
import numpy as np
import pytest

import fastconv.functional as F
from helpers import KERNELS

ALL = pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.spec)

IMAGE_4X4 = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)


@ALL
def test_4x4_image_with_3x3_filter(kernel):
    """A 3x3 filter of ones sums each 3x3 window: 0+1+2+4+5+6+8+9+10 = 45, and so on."""
    y = F.conv2d(IMAGE_4X4, np.ones((1, 1, 3, 3)), np.array([0.5]), backend=kernel.spec)
    np.testing.assert_allclose(y, [[[[45.5, 54.5], [81.5, 90.5]]]])


@ALL
def test_4x4_image_with_3x3_filter_padding_1(kernel):
    """With one ring of zeros, the corner window holds 0, 1, 4, 5 only."""
    y = F.conv2d(IMAGE_4X4, np.ones((1, 1, 3, 3)), padding=1, backend=kernel.spec)
    assert y.shape == (1, 1, 4, 4)
    assert y[0, 0, 0, 0] == 0 + 1 + 4 + 5
    assert y[0, 0, 1, 1] == 45


@ALL
def test_vertical_sobel_filter_finds_the_vertical_edge(kernel):
    """Dark left half, bright right half: the vertical Sobel responds 4 * 10 at the edge only."""
    image = np.zeros((1, 1, 5, 6))
    image[..., 3:] = 10.0
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)[None, None]
    y = F.conv2d(image, sobel_x, backend=kernel.spec)
    expected_row = [0.0, 40.0, 40.0, 0.0]
    np.testing.assert_allclose(y[0, 0], np.tile(expected_row, (3, 1)))
    sobel_y = sobel_x.transpose(0, 1, 3, 2)
    np.testing.assert_allclose(F.conv2d(image, sobel_y, backend=kernel.spec), 0.0)


@ALL
def test_2x2_max_pool_on_4x4(kernel):
    x = np.array([[1, 3, 2, 1], [4, 2, 0, 1], [5, 6, 1, 2], [7, 8, 3, 4]], dtype=np.float32)[None, None]
    y = F.max_pool2d(x, 2, backend=kernel.backend)
    np.testing.assert_array_equal(y, [[[[4, 2], [8, 4]]]])
    assert y.dtype == np.float32
    dx = F.max_pool2d_backward(np.ones_like(y), x, 2, backend=kernel.backend)
    winners = np.zeros((4, 4), dtype=np.float32)
    winners[1, 0] = winners[0, 2] = winners[3, 1] = winners[3, 3] = 1
    np.testing.assert_array_equal(dx[0, 0], winners)


@ALL
def test_2x2_avg_pool_on_4x4(kernel):
    y = F.avg_pool2d(IMAGE_4X4, 2, backend=kernel.backend)
    np.testing.assert_allclose(y, [[[[2.5, 4.5], [10.5, 12.5]]]])


@ALL
def test_max_pool_ties_go_to_the_first_maximum(kernel):
    x = np.ones((1, 1, 2, 2))
    dx = F.max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2, backend=kernel.backend)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0], [0, 0]])


@ALL
def test_avg_pool_counts_the_padding(kernel):
    """count_include_pad=True: the corner window of a 3x3 pool with padding 1 divides 4 ones by 9."""
    y = F.avg_pool2d(np.ones((1, 1, 2, 2)), 3, stride=1, padding=1, backend=kernel.backend)
    np.testing.assert_allclose(y[0, 0, 0, 0], 4 / 9)


@ALL
def test_conv_backward_of_a_single_pixel(kernel):
    """dy = 1 at one output pixel: dw is that pixel's window, dx is the filter placed there."""
    x = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    w = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    dy = np.zeros((1, 1, 3, 3))
    dy[0, 0, 1, 2] = 1.0
    dx, dw, db = F.conv2d_backward(dy, x, w, backend=kernel.spec)
    np.testing.assert_array_equal(dw[0, 0], x[0, 0, 1:4, 2:5])
    expected_dx = np.zeros((5, 5))
    expected_dx[1:4, 2:5] = w[0, 0]
    np.testing.assert_array_equal(dx[0, 0], expected_dx)
    np.testing.assert_array_equal(db, [1.0])


def test_parameter_count_of_6_filters_of_5x5x3():
    """Each filter has 5*5*3 weights and one bias: 6 * 76 = 456."""
    w = np.zeros((6, 3, 5, 5))
    b = np.zeros(6)
    assert w.size + b.size == 456
    y = F.conv2d(np.zeros((1, 3, 32, 32)), w, b, backend="numpy")
    assert y.shape == (1, 6, 28, 28)


@ALL
def test_max_pool_padding_never_wins_even_against_minus_infinity(kernel):
    """An image of -inf: each window's gradient goes to its first element inside the image."""
    x = np.full((1, 1, 3, 3), -np.inf)
    dy = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    y = F.max_pool2d(x, 3, stride=1, padding=1, backend=kernel.backend)
    np.testing.assert_array_equal(y, -np.inf)
    dx = F.max_pool2d_backward(dy, x, 3, stride=1, padding=1, backend=kernel.backend)
    # window (i, j) starts at row max(i-1, 0), column max(j-1, 0)
    expected = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            expected[max(i - 1, 0), max(j - 1, 0)] += dy[0, 0, i, j]
    np.testing.assert_array_equal(dx[0, 0], expected)
