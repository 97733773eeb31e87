"""Weight initialisation with a seedable generator.

``he`` (Kaiming, for ReLU networks): normal with standard deviation ``sqrt(2 / fan_in)``.
``glorot`` (Xavier, for tanh/sigmoid networks): uniform on ``±sqrt(6 / (fan_in + fan_out))``.
For a convolution, ``fan_in = in_channels * kernel area`` and ``fan_out = out_channels * kernel area``.
"""
from __future__ import annotations

import numpy as np

SCHEMES = ("he", "glorot")


def generator(rng) -> np.random.Generator:
    """A NumPy Generator from a Generator, an int seed or None (fresh entropy)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def initial_weight(scheme: str, shape: tuple, fan_in: int, fan_out: int, rng, dtype) -> np.ndarray:
    rng = generator(rng)
    if scheme == "he":
        weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif scheme == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weight = rng.uniform(-limit, limit, size=shape)
    else:
        raise ValueError(f"init must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    return weight.astype(dtype)
