"""``fastconv show``: pictures of a network, written as PNG files.

    fastconv show sobel                              # edges of a digit, no model needed
    fastconv show filters features errors            # trains a quick LeNet-5 first
    fastconv show filters --weights lenet5.npz       # weights saved by `fastconv train --save`
    fastconv show curves --epochs 3 --out pictures   # loss and accuracy per epoch

Each picture goes to ``<what>.png`` in the current directory (or ``--out``) and its path
is printed. The digits shown are the test digits ``fastconv train`` holds out with the
same seed (or the MNIST test files of ``--test-idx``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .. import demo, training, visualize
from ..models import MODELS

HELP = "draw filters, feature maps, Sobel edges, predictions or training curves as PNG files"
PICTURES = ("curves", "errors", "features", "filters", "sobel")
NEEDS_MODEL = {"curves", "errors", "features", "filters"}


def add_arguments(parser):
    parser.add_argument("what", nargs="+", choices=PICTURES,
                        help="sobel: edges of a digit; filters: a conv layer's weights; features: a digit "
                             "through every layer; errors: predictions, mistakes first; curves: training history")
    parser.add_argument("--out", default=".", metavar="DIR", help="where to write the PNG files (default: .)")
    parser.add_argument("--model", choices=sorted(MODELS), default="lenet5", help="default: lenet5")
    parser.add_argument("--weights", metavar="PATH",
                        help="a .npz saved by `fastconv train --save` (default: train a quick model)")
    parser.add_argument("--backend", default=None, help="numpy, numba, ... (default: auto)")
    parser.add_argument("--limit", type=int, default=demo.QUICK_DIGITS,
                        help=f"digits the quick model trains on (default: {demo.QUICK_DIGITS})")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the quick model (default: 1)")
    parser.add_argument("--layer", type=int, metavar="INDEX",
                        help="the conv layer whose filters to draw (default: the first)")
    parser.add_argument("--digit", type=int, default=0, metavar="INDEX",
                        help="which test digit sobel and features use (default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="the held-out split and the quick model (default: 0)")
    parser.add_argument("--test-idx", metavar="DIR", help="take the test digits from the MNIST IDX files in DIR")


def _trained(args, wants_history):
    """(model, digits, history): loaded from --weights, else trained for a few seconds."""
    if args.weights and not wants_history:
        model = MODELS[args.model]().to(args.backend).load(args.weights)
        return model, demo.digits(model, limit=1, seed=args.seed, test_idx=args.test_idx), None
    reason = "curves need a training run" if args.weights else "no --weights"
    print(f"{reason}: training a quick {args.model} on {args.limit:,} embedded digits for "
          f"{args.epochs} epoch(s), a few seconds", file=sys.stderr)
    return demo.quick_model(args.model, args.backend, args.seed, args.limit, args.epochs, args.test_idx)


def _draw(what, args, model, data, history, path):
    if what == "sobel":
        visualize.plot_sobel(data.raw_test[args.digit, 0] / 255, path, args.backend)
    elif what == "filters":
        layers = visualize.conv_layers(model)
        index = layers[0] if args.layer is None else args.layer
        if index not in layers:
            raise ValueError(f"layer {index} is not a convolution; the conv layers of {args.model} are {layers}")
        visualize.plot_filters(model[index].weight.data, path, f"{args.model} layer {index}")
    elif what == "features":
        visualize.plot_feature_maps(model, data.x_test[args.digit], path)
    elif what == "errors":
        predictions = model.predict(data.x_test).argmax(axis=1)
        visualize.plot_predictions(data.raw_test, data.y_test, predictions, path)
    else:
        training.plot_history(history, path)


def run(args) -> int:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if NEEDS_MODEL & set(args.what):
            model, data, history = _trained(args, "curves" in args.what)
        else:
            model = history = None
            data = demo.digits(MODELS[args.model](), limit=1, seed=args.seed, test_idx=args.test_idx)
        if not 0 <= args.digit < len(data.y_test):
            raise ValueError(f"--digit must be in [0, {len(data.y_test)}), got {args.digit}")
        for what in dict.fromkeys(args.what):
            path = out / f"{what}.png"
            _draw(what, args, model, data, history, path)
            print(path)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"fastconv show: error: {exc}", file=sys.stderr)
        return 2
    return 0
