"""The training loop: mini-batches, shuffling, epochs, validation, progress bar, history.

:func:`fit` trains any model with ``forward``, ``backward``, ``parameters``, ``train``
and ``eval`` (a :class:`~fastconv.nn.Sequential`, for instance); :func:`evaluate` and
:func:`predict` run it in eval mode, batch by batch.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from tqdm import tqdm

from . import devices
from .data import split
from .losses import CrossEntropyLoss
from .optim import Adam


def batches(count: int, batch_size: int, order=None):
    """Index arrays of consecutive mini-batches over ``order`` (default 0..count-1)."""
    order = np.arange(count) if order is None else order
    return [order[i:i + batch_size] for i in range(0, count, batch_size)]


def accuracy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of rows whose largest output is the target class (labels or one-hot rows)."""
    labels = targets if targets.ndim == 1 else targets.argmax(axis=1)
    return float(np.mean(outputs.argmax(axis=1) == labels))


def predict(model, x, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for every sample of x, in eval mode, as a NumPy array."""
    model.eval()
    place = devices.to_gpu if devices.on_gpu(model) else np.asarray
    outputs = [devices.to_host(model.forward(place(x[index]))) for index in batches(len(x), batch_size)]
    return np.concatenate(outputs)


def evaluate(model, x, y, loss=None, batch_size: int = 256) -> dict:
    """Mean loss and accuracy of the model on (x, y), in eval mode."""
    loss = loss or CrossEntropyLoss()
    outputs = predict(model, x, batch_size)
    return {"loss": loss(outputs, y), "accuracy": accuracy(outputs, y)}


def fit(model, x, y, *, epochs=1, batch_size=32, optimizer=None, loss=None, scheduler=None,
        validation_split=0.0, validation_data=None, shuffle=True, augment=None, seed=None,
        progress=True) -> dict:
    """Train ``model`` on (x, y) and return the history, one entry per epoch.

    ``optimizer`` defaults to ``Adam(model.parameters())``, ``loss`` to cross-entropy.
    ``scheduler`` (e.g. :class:`~fastconv.optim.CosineAnnealingLR`) steps after each epoch.
    ``validation_split`` holds out a random fraction of (x, y), or give ``validation_data=(x, y)``.
    ``augment(batch, rng)`` transforms each training batch (see :func:`fastconv.data.random_shift`).
    ``seed`` fixes shuffling, the held-out split and augmentation.

    A model on the GPU (``model.to("cuda")``) trains there: each batch is copied over
    once, after augmentation, and only its outputs come back, for the accuracy.

    The history holds ``loss``, ``accuracy``, ``lr`` and ``seconds`` (of training, without
    validation) per epoch, and ``val_loss``, ``val_accuracy`` when there is validation data.
    """
    rng = np.random.default_rng(seed)
    place = devices.to_gpu if devices.on_gpu(model) else np.asarray
    optimizer = optimizer or Adam(model.parameters())
    loss = loss or CrossEntropyLoss()
    if validation_split:
        x, y, *validation_data = split(x, y, validation_split, rng)
    history = {"loss": [], "accuracy": [], "lr": [], "seconds": []}
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = rng.permutation(len(x)) if shuffle else None
        total_loss = total_correct = 0.0
        bar = tqdm(batches(len(x), batch_size, order), desc=f"epoch {epoch}/{epochs}",
                   unit="batch", disable=not progress, leave=False)
        for index in bar:
            xb, yb = x[index], y[index]
            if augment is not None:
                xb = augment(xb, rng)
            outputs = model.forward(place(xb))
            batch_loss = loss(outputs, yb)
            model.backward(loss.backward(), input_grad=False)
            optimizer.step()
            total_loss += batch_loss * len(index)
            total_correct += accuracy(devices.to_host(outputs), yb) * len(index)
            bar.set_postfix(loss=f"{batch_loss:.4f}")
        history["loss"].append(total_loss / len(x))
        history["accuracy"].append(total_correct / len(x))
        history["lr"].append(optimizer.lr)
        history["seconds"].append(time.perf_counter() - start)
        if validation_data:
            for name, value in evaluate(model, *validation_data, loss, batch_size=max(batch_size, 256)).items():
                history.setdefault(f"val_{name}", []).append(value)
        if scheduler is not None:
            scheduler.step()
        if progress:
            tqdm.write(describe_epoch(history, epoch, epochs), file=sys.stderr)
    return history


def describe_epoch(history: dict, epoch: int, epochs: int) -> str:
    """One line per epoch: the last value of each history entry."""
    fields = [f"epoch {epoch}/{epochs}"] + [
        f"{name} {values[-1]:.4g}" for name, values in history.items() if values
    ]
    return "  ".join(fields)


def plot_history(history: dict, path) -> None:
    """Save loss and accuracy curves per epoch (training, and validation when present) to an image.

    Draws on a bare matplotlib Figure: no display needed and no global pyplot state touched.
    """
    from matplotlib.figure import Figure

    epochs = range(1, len(history["loss"]) + 1)
    figure = Figure(figsize=(10, 4))
    left, right = figure.subplots(1, 2)
    for axis, metric in ((left, "loss"), (right, "accuracy")):
        axis.plot(epochs, history[metric], label="training")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], label="held out")
        axis.set_xlabel("epoch")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path)
