"""Keep numba.cuda compiling on NumPy releases newer than it knows.

numba-cuda 0.30 registers a device overload for ``numpy.row_stack`` when its array
functions load, which happens at the first kernel compilation. NumPy 2.5 removed
``row_stack`` (an alias of ``vstack`` since NumPy 2.0), so every compilation there fails
with ``module 'numpy' has no attribute 'row_stack'``. Restoring the alias before any
kernel compiles lets the backend run unchanged on both old and new NumPy.
"""
import numpy


def restore_row_stack() -> None:
    """Provide ``numpy.row_stack`` as ``numpy.vstack`` where NumPy no longer has it."""
    if not hasattr(numpy, "row_stack"):
        numpy.row_stack = numpy.vstack


restore_row_stack()
