"""Pictures of what a network computes, saved as image files.

* :func:`plot_sobel`: the vertical and horizontal edges of a digit, found by convolving
  it with the two hand-built 3x3 Sobel kernels through :func:`fastconv.functional.conv2d`.
* :func:`plot_filters`: the learned weights of a convolution layer.
* :func:`plot_feature_maps`: an image as it flows through each layer of a model.
* :func:`plot_predictions`: digits with their predicted and true labels, mistakes first.
* Training curves: :func:`fastconv.training.plot_history`.

Each function computes what it draws with a separate function that returns the arrays
(:func:`sobel_edges`, :func:`feature_maps`, :func:`mistakes_first`), then draws on a bare
matplotlib Figure: no display is needed and pyplot's global state is never touched.
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .nn import Conv2d, softmax

# The Sobel kernels: a derivative across one axis, smoothed (1, 2, 1) along the other.
# SOBEL_X grows from left to right, so it answers vertical edges; SOBEL_Y is its transpose.
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
SOBEL_Y = SOBEL_X.T.copy()

MAX_FILTERS = 16  # filters (columns) drawn by plot_filters
MAX_CHANNELS = 8  # input channels (rows) drawn by plot_filters, feature maps per layer
GRID_COLUMNS = 8  # digits per row in plot_predictions


def _figure(size):
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _image(axis, values, title=None, **options):
    axis.imshow(values, **{"cmap": "gray", "interpolation": "nearest", **options})
    axis.set_xticks([])
    axis.set_yticks([])
    if title:
        axis.set_title(title, fontsize=8)


def sobel_edges(image: np.ndarray, backend=None) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and horizontal edge maps (H, W) of a grey image (H, W), same size (padding 1)."""
    x = np.asarray(image, dtype=np.float32)[None, None]
    w = np.stack([SOBEL_X, SOBEL_Y])[:, None]  # two filters, one input channel
    edges = F.conv2d(x, w, padding=1, backend=backend)[0]
    return edges[0], edges[1]


def plot_sobel(image: np.ndarray, path, backend=None) -> None:
    """The digit, its vertical edges, its horizontal edges and the edge strength."""
    vertical, horizontal = sobel_edges(image, backend)
    figure = _figure((10, 3))
    axes = figure.subplots(1, 4)
    limit = max(np.abs(vertical).max(), np.abs(horizontal).max(), 1e-6)
    _image(axes[0], image, "digit")
    _image(axes[1], vertical, "vertical edges\n[[-1 0 1] [-2 0 2] [-1 0 1]]", cmap="RdBu_r",
           vmin=-limit, vmax=limit)
    _image(axes[2], horizontal, "horizontal edges\n(the transposed kernel)", cmap="RdBu_r",
           vmin=-limit, vmax=limit)
    _image(axes[3], np.hypot(vertical, horizontal), "edge strength")
    figure.savefig(path)


def conv_layers(model) -> list[int]:
    """Indices of the convolution layers of a Sequential model."""
    return [i for i, layer in enumerate(model.layers) if isinstance(layer, Conv2d)]


def plot_filters(weight: np.ndarray, path, title: str = "") -> None:
    """Weights (K, C, R, S) of a convolution: one column per filter, one row per input channel.

    Red is positive, blue negative, on one scale for the whole layer; at most
    MAX_FILTERS filters and MAX_CHANNELS channels are drawn.
    """
    shown = weight[:MAX_FILTERS, :MAX_CHANNELS]
    filters, channels = shown.shape[:2]
    limit = max(np.abs(shown).max(), 1e-12)
    figure = _figure((1.1 * filters + 0.5, 1.1 * channels + 0.8))
    axes = np.asarray(figure.subplots(channels, filters, squeeze=False))
    for c in range(channels):
        for k in range(filters):
            _image(axes[c, k], shown[k, c], f"filter {k}" if c == 0 else None, cmap="RdBu_r",
                   vmin=-limit, vmax=limit)
        axes[c, 0].set_ylabel(f"channel {c}", fontsize=8)
    K, C, R, S = weight.shape
    figure.suptitle(f"{title}{': ' if title else ''}{K} filters of {C}x{R}x{S}", fontsize=10)
    figure.savefig(path)


def feature_maps(model, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(layer name, output) for one image (C, H, W) through each layer, in eval mode.

    The first entry is the input itself; outputs keep the batch dimension of 1.
    """
    model.eval()
    x = image[None]
    result = [("input", x)]
    for i, layer in enumerate(model.layers):
        x = layer.forward(x)
        result.append((f"{i} {type(layer).__name__}", x))
    return result


def plot_feature_maps(model, image: np.ndarray, path) -> None:
    """One row per layer with an image output (up to MAX_CHANNELS channels), then the
    class probabilities of the last layer."""
    maps = feature_maps(model, image)
    planes = [(name, y[0]) for name, y in maps if y.ndim == 4]
    probabilities = softmax(maps[-1][1], axis=1)[0]
    figure = _figure((1.2 * MAX_CHANNELS, 1.2 * len(planes) + 2))
    grid = figure.add_gridspec(len(planes) + 1, MAX_CHANNELS)
    for row, (name, y) in enumerate(planes):
        for c in range(min(len(y), MAX_CHANNELS)):
            axis = figure.add_subplot(grid[row, c])
            _image(axis, y[c], f"{name}\n{y.shape[1]}x{y.shape[2]}" if c == 0 else None, cmap="viridis")
    bars = figure.add_subplot(grid[-1, :])
    bars.bar(range(len(probabilities)), probabilities)
    bars.set_xticks(range(len(probabilities)))
    bars.set_ylim(0, 1)
    bars.set_xlabel("class")
    bars.set_ylabel("probability")
    figure.savefig(path)


def mistakes_first(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Indices of the samples, the misclassified ones first, each group in its original order."""
    return np.argsort(predictions == labels, kind="stable")


def plot_predictions(images: np.ndarray, labels, predictions, path, count: int = 40) -> None:
    """``count`` digits (N, 1, H, W) titled "predicted / true", misclassified first, in red."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    order = mistakes_first(labels, predictions)[:count]
    rows = -(-len(order) // GRID_COLUMNS)
    figure = _figure((1.3 * GRID_COLUMNS, 1.5 * rows + 0.5))
    axes = np.asarray(figure.subplots(rows, GRID_COLUMNS, squeeze=False)).ravel()
    for axis in axes:
        axis.set_axis_off()
    for axis, i in zip(axes, order):
        _image(axis, images[i, 0], f"{predictions[i]} / {labels[i]}")
        axis.title.set_color("red" if predictions[i] != labels[i] else "black")
    wrong = int(np.sum(predictions != labels))
    figure.suptitle(f"predicted / true: {wrong} of {len(labels)} misclassified "
                    f"({1 - wrong / len(labels):.1%} accuracy), mistakes first in red", fontsize=10)
    figure.savefig(path)
