"""All sliding windows of an image batch at once, and the way back.

:func:`windows` is a zero-copy view: element ``[n, c, i, j, r, s]`` is the input pixel
that kernel tap (r, s) sees when the output pixel is (i, j). Every vectorized kernel of
this backend is built on it.

:func:`add_windows` is its adjoint: it sends a value per (n, c, i, j, r, s) back to the
pixel it came from, summing where windows overlap. Instead of scattering element by
element (``np.add.at``, slow), it loops over the R*S kernel taps: for a fixed tap the
output pixels read *distinct* input pixels (a strided grid), so one vectorized ``+=``
on a strided slice adds all of them without any conflict. R*S array operations in all.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pad(x, padding, value=0.0):
    """x with ``padding`` rows/columns of ``value`` around each image (no copy when 0)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def windows(x_pad, kernel, stride, dilation=(1, 1)):
    """View of shape (N, C, OH, OW, R, S) over the windows of the padded input."""
    (R, S), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = (dh * (R - 1) + 1, dw * (S - 1) + 1)
    view = sliding_window_view(x_pad, span, axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def add_windows(contributions, padded_shape, padding, stride, dilation=(1, 1)):
    """Sum ``contributions`` (N, C, OH, OW, R, S) into an array of ``padded_shape``, then crop.

    The adjoint of :func:`windows`: returns dx of shape (N, C, H, W).
    """
    _, _, OH, OW, R, S = contributions.shape
    (sh, sw), (dh, dw), (ph, pw) = stride, dilation, padding
    dx_pad = np.zeros(padded_shape, dtype=contributions.dtype)
    for r in range(R):
        for s in range(S):
            rows = slice(r * dh, r * dh + sh * (OH - 1) + 1, sh)
            cols = slice(s * dw, s * dw + sw * (OW - 1) + 1, sw)
            dx_pad[:, :, rows, cols] += contributions[:, :, :, :, r, s]
    H, W = padded_shape[2] - 2 * ph, padded_shape[3] - 2 * pw
    return dx_pad[:, :, ph:ph + H, pw:pw + W]
