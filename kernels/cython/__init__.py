"""The Cython backend: im2col/col2im and pooling compiled to C at install time.

``_im2col.pyx`` and ``_pool.pyx`` hold the typed loops (float32 and float64 through one
fused type, no bounds checks, OpenMP threads when the compiler has them); ``conv.py``
and ``pool.py`` allocate the outputs and run the GEMMs in NumPy. If the extension was
not compiled (no C compiler or no Cython at install), this package still imports and
:func:`unavailable_reason` says why.
"""
ALGORITHMS = ("im2col",)

try:
    from ._im2col import OPENMP  # True when the compiled loops run on several threads
    from .conv import conv2d_backward, conv2d_forward
    from .pool import (
        avg_pool2d_backward,
        avg_pool2d_forward,
        max_pool2d_backward_indices,
        max_pool2d_forward,
        max_pool2d_forward_indices,
    )
except ImportError as exc:
    OPENMP = False
    _MISSING = (
        f"the compiled Cython kernels cannot be imported ({exc}); they are built by "
        "`pip install .` when Cython and a C compiler are present"
    )
else:
    _MISSING = None


def unavailable_reason():
    """Why this backend cannot run here, or None when it can."""
    return _MISSING


__all__ = [
    "ALGORITHMS",
    "OPENMP",
    "conv2d_forward",
    "conv2d_backward",
    "max_pool2d_forward",
    "max_pool2d_forward_indices",
    "max_pool2d_backward_indices",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "unavailable_reason",
]
