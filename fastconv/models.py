"""The model zoo: classic small CNNs for MNIST, as :class:`~fastconv.nn.Sequential` models.

Each function takes ``seed`` (or a NumPy Generator) for the initial weights and ``dtype``.

=============  ==========  =====================================================================
model          input       layers
=============  ==========  =====================================================================
lenet5         1x32x32     conv 6@5x5, pool 2, conv 16@5x5, pool 2, linear 120, 84, 10 (61,706 params)
tiny_cnn       1x28x28     conv 8@3x3, max-pool 2, linear 10 (softmax in the loss)
keras_cnn      1x28x28     conv 32@3x3, max-pool 2, conv 64@3x3, max-pool 2, dropout 0.5, dense 10
pytorch_cnn    1x28x28     conv 16@5x5 pad 2, max-pool 2, conv 32@5x5 pad 2, max-pool 2, linear 10
=============  ==========  =====================================================================
"""
from __future__ import annotations

import numpy as np

from . import nn
from .nn.init import generator

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def lenet5(pool="max", activation="relu", init="glorot", seed=0, dtype=np.float32) -> nn.Sequential:
    """LeNet-5 (LeCun et al., 1998) on 32x32 digits, with a choice of pooling and activation.

    The default, ReLU and max-pooling, trains best; ``pool="avg", activation="tanh"``
    is closest to the original. Glorot initialisation suits this shallow network even
    with ReLU: the first logits are small (initial loss about ln 10), where He
    initialisation starts at a loss of 3 to 7 and ends a little less accurate.
    """
    rng, act, pooling = generator(seed), ACTIVATIONS[activation], POOLS[pool]
    options = dict(init=init, rng=rng, dtype=dtype)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, **options), act(), pooling(2),
        nn.Conv2d(6, 16, 5, **options), act(), pooling(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120, **options), act(),
        nn.Linear(120, 84, **options), act(),
        nn.Linear(84, 10, **options),
        input_shape=(1, 32, 32),
    )


def tiny_cnn(seed=0, dtype=np.float32) -> nn.Sequential:
    """The smallest CNN: eight 3x3 filters, max-pooling, one linear layer to 10 classes."""
    options = dict(init="glorot", rng=generator(seed), dtype=dtype)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, **options),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 13 * 13, 10, **options),
        input_shape=(1, 28, 28),
    )


def keras_cnn(seed=0, dtype=np.float32) -> nn.Sequential:
    """The Keras MNIST convnet: two conv/ReLU/max-pool stages, dropout, one dense layer.

    Glorot initialisation everywhere, as Keras does by default.
    """
    rng = generator(seed)
    options = dict(init="glorot", rng=rng, dtype=dtype)
    return nn.Sequential(
        nn.Conv2D(1, 32, 3, **options), nn.ReLU(), nn.MaxPooling2D(2),
        nn.Conv2D(32, 64, 3, **options), nn.ReLU(), nn.MaxPooling2D(2),
        nn.Flatten(),
        nn.Dropout(0.5, rng=rng),
        nn.Dense(64 * 5 * 5, 10, **options),
        input_shape=(1, 28, 28),
    )


def pytorch_cnn(seed=0, dtype=np.float32) -> nn.Sequential:
    """The classic PyTorch MNIST CNN: two 5x5 conv (padding 2)/ReLU/max-pool stages, one linear layer."""
    rng = generator(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2, rng=rng, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2, rng=rng, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10, init="glorot", rng=rng, dtype=dtype),
        input_shape=(1, 28, 28),
    )


MODELS = {"lenet5": lenet5, "tiny_cnn": tiny_cnn, "keras_cnn": keras_cnn, "pytorch_cnn": pytorch_cnn}
