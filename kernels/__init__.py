"""Compute kernels, one sub-package per backend, imported as ``fastconv.kernels.<backend>``.

Every backend implements the same functions with the same arguments (see
``fastconv.backends`` for the contract); ``naive`` is the ground truth the others are
tested against.
"""
