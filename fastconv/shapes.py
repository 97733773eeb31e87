"""Shape arithmetic and input validation, written once for every backend.

Every public function in :mod:`fastconv.functional` runs its arguments through the
checks here before any kernel sees them, so a backend may assume:

* arrays are 4-D NCHW, float32 or float64, all of one dtype;
* ``stride``, ``padding``, ``dilation`` and ``kernel`` are pairs of Python ints,
  already checked for range;
* the output is non-empty in its spatial dimensions.

The output size of a convolution or pooling window along one axis is::

    out = floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1
"""
from __future__ import annotations

import numbers
import os
from typing import NamedTuple

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# im2col kernels work through the batch in chunks whose column matrix fits in this much
# memory, so that a big batch never needs one giant buffer (nor its page faults).
WORKSPACE_BYTES = 256 * 2**20


class ConvGeometry(NamedTuple):
    """Everything a conv2d kernel needs to know about its shapes."""

    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    OH: int
    OW: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]

    @property
    def input_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def weight_shape(self):
        return (self.K, self.C, self.R, self.S)

    @property
    def output_shape(self):
        return (self.N, self.K, self.OH, self.OW)

    @property
    def flops(self) -> int:
        """Multiply-adds of the forward pass, counted as 2 FLOPs each."""
        return 2 * self.N * self.K * self.OH * self.OW * self.C * self.R * self.S


class PoolGeometry(NamedTuple):
    """Everything a pooling kernel needs to know about its shapes."""

    N: int
    C: int
    H: int
    W: int
    kernel: tuple[int, int]
    OH: int
    OW: int
    stride: tuple[int, int]
    padding: tuple[int, int]

    @property
    def input_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def output_shape(self):
        return (self.N, self.C, self.OH, self.OW)


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length along one axis (PyTorch's formula, floor mode)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def as_pair(value, name: str, *, minimum: int) -> tuple[int, int]:
    """Turn an int or a pair of ints into a pair, checking that both are >= ``minimum``."""
    if type(value) is int:  # the common cases first, without the slower checks below
        pair = (value, value)
    elif type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        pair = value
    elif isinstance(value, (numbers.Integral,)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def is_device_array(a) -> bool:
    """GPU arrays: anything with ``__cuda_array_interface__``, and Numba's (also simulated) ones."""
    return hasattr(a, "__cuda_array_interface__") or hasattr(a, "copy_to_host")


def is_array(a) -> bool:
    """True for NumPy arrays and GPU arrays."""
    return isinstance(a, np.ndarray) or is_device_array(a)


def check_array(a, name: str, ndim: int):
    """Check that ``a`` is an array of rank ``ndim`` with a supported float dtype."""
    if not is_array(a):
        raise TypeError(
            f"{name} must be a NumPy array (or a CUDA device array), got {type(a).__name__}"
        )
    if a.ndim != ndim:
        layout = {4: " (N, C, H, W)", 1: ""}.get(ndim, "")
        raise ValueError(f"{name} must be {ndim}-D{layout}, got shape {tuple(a.shape)}")
    if np.dtype(a.dtype) not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} must be float32 or float64, got {np.dtype(a.dtype)} with shape {tuple(a.shape)}"
        )
    return a


def check_same_dtype(**arrays) -> np.dtype:
    """All given arrays (None skipped) must share one dtype; return it."""
    named = {k: v for k, v in arrays.items() if v is not None}
    dtypes = {np.dtype(v.dtype) for v in named.values()}
    if len(dtypes) > 1:
        listing = ", ".join(f"{k}: {np.dtype(v.dtype)} {tuple(v.shape)}" for k, v in named.items())
        raise TypeError(f"arrays must share one dtype, got {listing}")
    return dtypes.pop()


def check_dy(dy, expected_shape, what: str):
    check_array(dy, "dy", 4)
    if tuple(dy.shape) != tuple(expected_shape):
        raise ValueError(
            f"dy must have the shape of the {what} output {tuple(expected_shape)}, "
            f"got {tuple(dy.shape)}"
        )


def check_indices(indices, g: PoolGeometry):
    """Max pooling indices: integers of the output's shape (their range: :func:`check_index_range`)."""
    if not is_array(indices):
        raise TypeError(f"indices must be a NumPy array (or a CUDA device array), got {type(indices).__name__}")
    if np.dtype(indices.dtype).kind not in "iu":
        raise TypeError(f"indices must hold integers, got {np.dtype(indices.dtype)}")
    if tuple(indices.shape) != g.output_shape:
        raise ValueError(f"indices must have the shape of the max_pool2d output {g.output_shape}, "
                         f"got {tuple(indices.shape)}")
    return indices


def check_index_range(indices, plane: int):
    """Max pooling indices on the host: each a position in a plane of ``plane`` elements."""
    # one pass: read as unsigned, a negative index is larger than any position
    if indices.size and indices.view(f"u{indices.itemsize}").max() >= plane:
        raise ValueError(f"indices must be positions h * W + w in an input plane, in [0, {plane}), "
                         f"got values from {indices.min()} to {indices.max()}")


def conv2d_geometry(x, w, b=None, stride=1, padding=0, dilation=1) -> ConvGeometry:
    """Validate conv2d arguments (arrays included) and return the geometry."""
    check_array(x, "x", 4)
    check_array(w, "w", 4)
    if b is not None:
        check_array(b, "b", 1)
    check_same_dtype(x=x, w=w, b=b)
    return conv_geometry(x.shape, w.shape, stride, padding, dilation, None if b is None else b.shape)


def conv_geometry(x_shape, w_shape, stride=1, padding=0, dilation=1, b_shape=None) -> ConvGeometry:
    """Validate the shapes and hyper-parameters of a conv2d (PyTorch semantics)."""
    stride = as_pair(stride, "stride", minimum=1)
    padding = as_pair(padding, "padding", minimum=0)
    dilation = as_pair(dilation, "dilation", minimum=1)
    N, C, H, W = (int(d) for d in x_shape)
    K, Cw, R, S = (int(d) for d in w_shape)
    x_shape, w_shape = (N, C, H, W), (K, Cw, R, S)
    if C < 1 or K < 1 or R < 1 or S < 1:
        raise ValueError(
            f"x and w need at least one channel, filter and kernel element, "
            f"got x {x_shape} and w {w_shape}"
        )
    if Cw != C:
        raise ValueError(f"w has {Cw} input channels but x has {C}: x {x_shape}, w {w_shape}")
    if b_shape is not None and tuple(b_shape) != (K,):
        raise ValueError(f"b must have shape ({K},) to match w {w_shape}, got {tuple(b_shape)}")
    OH = output_size(H, R, stride[0], padding[0], dilation[0])
    OW = output_size(W, S, stride[1], padding[1], dilation[1])
    if OH < 1 or OW < 1:
        raise ValueError(
            f"conv2d output would be empty ({OH}x{OW}): x {x_shape}, w {w_shape}, "
            f"stride {stride}, padding {padding}, dilation {dilation}; the dilated kernel "
            f"({dilation[0] * (R - 1) + 1}x{dilation[1] * (S - 1) + 1}) is larger than the "
            f"padded input ({H + 2 * padding[0]}x{W + 2 * padding[1]})"
        )
    return ConvGeometry(N, C, H, W, K, R, S, OH, OW, stride, padding, dilation)


def pool2d_geometry(x, kernel_size, stride=None, padding=0) -> PoolGeometry:
    """Validate pooling arguments (the array included) and return the geometry."""
    check_array(x, "x", 4)
    return pool_geometry(x.shape, kernel_size, stride, padding)


def pool_geometry(x_shape, kernel_size, stride=None, padding=0) -> PoolGeometry:
    """Validate the shape and hyper-parameters of a pooling (PyTorch semantics).

    ``stride=None`` means ``stride = kernel_size``. As in PyTorch, padding may be at
    most half the kernel, so that every window holds at least one real input element.
    """
    kernel = as_pair(kernel_size, "kernel_size", minimum=1)
    stride = kernel if stride is None else as_pair(stride, "stride", minimum=1)
    padding = as_pair(padding, "padding", minimum=0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"padding {padding} must be at most half of kernel_size {kernel}"
        )
    N, C, H, W = (int(d) for d in x_shape)
    if C < 1:
        raise ValueError(f"x needs at least one channel, got shape {(N, C, H, W)}")
    OH = output_size(H, kernel[0], stride[0], padding[0])
    OW = output_size(W, kernel[1], stride[1], padding[1])
    if OH < 1 or OW < 1:
        raise ValueError(
            f"pooling output would be empty ({OH}x{OW}): x {(N, C, H, W)}, "
            f"kernel_size {kernel}, stride {stride}, padding {padding}"
        )
    return PoolGeometry(N, C, H, W, kernel, OH, OW, stride, padding)


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def im2col_bytes(g: ConvGeometry, itemsize: int, images: int = 1) -> int:
    """Size of the (C*R*S, images*OH*OW) column matrix of ``images`` images."""
    return g.C * g.R * g.S * g.OH * g.OW * images * itemsize


def batch_chunks(g: ConvGeometry, itemsize: int, workspace: int | None = None):
    """Split the batch into ``(start, stop)`` ranges whose im2col matrix fits ``workspace``
    bytes (default :data:`WORKSPACE_BYTES`).

    Raises MemoryError, with the sizes, before anything is allocated when the column
    matrix of a single image would not fit in this machine's memory.
    """
    per_image = im2col_bytes(g, itemsize)
    if per_image > physical_memory_bytes():
        raise MemoryError(
            f"conv2d with x {g.input_shape} and w {g.weight_shape} needs an im2col buffer of "
            f"{per_image / 2**30:.1f} GiB per image, more than this machine's "
            f"{physical_memory_bytes() / 2**30:.1f} GiB of memory; use a direct algorithm "
            f"(e.g. backend='numba:direct') or a smaller input"
        )
    workspace = WORKSPACE_BYTES if workspace is None else workspace
    step = max(1, workspace // max(per_image, 1))
    return [(start, min(start + step, g.N)) for start in range(0, g.N, step)] or [(0, 0)]
