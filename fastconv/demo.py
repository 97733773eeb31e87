"""What the example scripts and ``fastconv show`` share: digits ready for a model, a quick
training run and a small command line.

    args = demo.parser("LeNet-5 on the embedded MNIST digits").parse_args()
    model = models.lenet5(seed=args.seed).to(args.backend)
    digits = demo.digits(model, limit=args.limit, seed=args.seed)
    model.fit(digits.x, digits.y, epochs=args.epochs)
    demo.report(model, digits)

The test set is the tenth of the embedded digits that ``fastconv train`` holds out with
the same seed, so a model saved by ``fastconv train --save`` is judged on digits it has
not seen.
"""
from __future__ import annotations

import argparse
from typing import NamedTuple

import numpy as np

from . import data, models, optim

QUICK_DIGITS = 2000  # training digits of a quick model


class Digits(NamedTuple):
    """Training and test digits, padded and normalised for one model; labels as integers."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # where the test digits come from
    raw_test: np.ndarray  # the test digits as uint8 pixels (N, 1, 28, 28), for pictures


def digits(model, limit: int | None = None, seed: int = 0, test_idx=None) -> Digits:
    """The embedded digits for ``model``: ``limit`` training digits (all by default) and
    the held-out tenth as the test set, or the MNIST test files in ``test_idx``."""
    x, y, x_test, y_test, source = data.load_datasets(None, test_idx, limit, np.random.default_rng(seed))
    return Digits(data.for_model(x, model), y, data.for_model(x_test, model), y_test, source, x_test)


def quick_model(name: str, backend=None, seed: int = 0, limit: int = QUICK_DIGITS, epochs: int = 1,
                test_idx=None):
    """Train the zoo model ``name`` briefly (SGD with momentum): (model, digits, history)."""
    model = models.MODELS[name](seed=seed).to(backend)
    dataset = digits(model, limit, seed, test_idx)
    history = model.fit(dataset.x, dataset.y, epochs=epochs, batch_size=32, seed=seed, progress=False,
                        optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                        validation_data=(dataset.x_test, dataset.y_test))
    return model, dataset, history


def parser(description: str, epochs: int = 3) -> argparse.ArgumentParser:
    """The command line every example takes: backend, epochs, batch size, a digit limit, a seed."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--backend", default=None,
                        help="naive, numpy, numba, cython, cuda, or backend:algorithm (default: auto)")
    result.add_argument("--epochs", type=int, default=epochs, help=f"default: {epochs}")
    result.add_argument("--batch-size", type=int, default=64, help="default: 64")
    result.add_argument("--limit", type=int, metavar="N", help="train on N digits only (a quick trial)")
    result.add_argument("--seed", type=int, default=0, help="seeds weights, shuffling and the split (default: 0)")
    return result


def report(model, dataset: Digits) -> float:
    """Print and return the model's accuracy on the test digits."""
    accuracy = model.evaluate(dataset.x_test, dataset.y_test)["accuracy"]
    print(f"test accuracy: {accuracy:.2%} on {len(dataset.y_test):,} digits ({dataset.source})")
    return accuracy
