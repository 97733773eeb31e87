"""The one idea every naive kernel shares: the input window behind one output pixel."""
import numpy as np


def pad(x, padding, value=0.0):
    """Surround the two spatial axes of an NCHW array with ``padding`` rows/columns of ``value``."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def unpad(x_pad, padding):
    """Cut the padding off again (the inverse of :func:`pad`)."""
    ph, pw = padding
    H, W = x_pad.shape[2] - 2 * ph, x_pad.shape[3] - 2 * pw
    return np.ascontiguousarray(x_pad[:, :, ph:ph + H, pw:pw + W])


def window(i, j, kernel, stride, dilation=(1, 1)):
    """Index of the input window that output pixel (i, j) reads, in padded coordinates.

    Rows ``i*sh, i*sh + dh, ..., i*sh + (R-1)*dh`` and the same for columns: a tuple of
    two slices to index the last two axes with.
    """
    (R, S), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, left = i * sh, j * sw
    return (slice(top, top + dh * (R - 1) + 1, dh), slice(left, left + dw * (S - 1) + 1, dw))


def inside(i, j, g):
    """The part of pooling window (i, j) that lies in the image, in unpadded coordinates.

    Rows ``i*sh - ph .. i*sh - ph + kh - 1`` clipped to ``0 .. H-1``, columns likewise.
    """
    (kh, kw), (sh, sw), (ph, pw) = g.kernel, g.stride, g.padding
    top, left = i * sh - ph, j * sw - pw
    return (slice(max(top, 0), min(top + kh, g.H)), slice(max(left, 0), min(left + kw, g.W)))
