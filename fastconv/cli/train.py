"""``fastconv train``: train a model of the zoo on MNIST and report its test accuracy.

Without arguments it trains LeNet-5 on the 5,000 embedded MNIST digits, holding out a
random tenth as the test set. ``--test-idx DIR`` tests on MNIST IDX files instead (then
all 5,000 digits train) and ``--train-idx DIR`` trains on IDX files.

The default recipe: ReLU and max-pooling, SGD with momentum 0.9, learning rate 0.05 with
cosine decay, mini-batches of 64, and each digit shifted by up to 2 pixels at random.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from .. import data, optim, training
from ..backends import get_backend, resolve
from ..models import MODELS

HELP = "train a CNN (LeNet-5 by default) on MNIST and report its test accuracy"
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3}


def add_arguments(parser):
    parser.add_argument("--model", choices=sorted(MODELS), default="lenet5", help="default: lenet5")
    parser.add_argument("--backend", default=None, help="numpy, numba, ... or auto (default: the current default)")
    parser.add_argument("--epochs", type=int, default=20, help="default: 20")
    parser.add_argument("--batch-size", type=int, default=64, help="default: 64")
    parser.add_argument("--optimizer", choices=sorted(optim.OPTIMIZERS), default="sgd", help="default: sgd")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: sgd 0.05, adam 0.001)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                        help="learning rate over the epochs (default: cosine)")
    parser.add_argument("--shift", type=int, default=2,
                        help="shift each training digit by up to this many pixels (default: 2; 0: off)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the weights, shuffling, split and shifts (default: 0)")
    parser.add_argument("--train-idx", metavar="DIR", help="train on the MNIST IDX files in DIR")
    parser.add_argument("--test-idx", metavar="DIR", help="test on the MNIST IDX files in DIR (t10k-*)")
    parser.add_argument("--limit", type=int, metavar="N", help="train on N randomly chosen digits only (quick trials)")
    parser.add_argument("--save", metavar="PATH", help="save the trained weights to PATH (.npz)")
    parser.add_argument("--plot", metavar="PATH",
                        help="save loss and accuracy curves to PATH (e.g. curves.png); "
                             "the test set is then also evaluated after each epoch")
    parser.add_argument("--json", action="store_true", help="end with one line of JSON with the results")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    try:
        resolve(args.backend)
        backend = args.backend or get_backend()
        rng = np.random.default_rng(args.seed)
        x, y, x_test, y_test, test_source = data.load_datasets(args.train_idx, args.test_idx, args.limit, rng)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"fastconv train: error: {exc}", file=sys.stderr)
        return 2
    model = MODELS[args.model](seed=rng).to(args.backend)
    x, x_test = data.for_model(x, model), data.for_model(x_test, model)
    lr = args.lr or DEFAULT_LR[args.optimizer]
    if args.optimizer == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=lr, momentum=args.momentum)
    else:
        optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.CosineAnnealingLR(optimizer, args.epochs) if args.schedule == "cosine" else None
    print(f"training {args.model} on {len(x):,} digits with the {backend} backend, "
          f"{args.epochs} epochs of batches of {args.batch_size}", file=sys.stderr)

    history = model.fit(
        x, y, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer, scheduler=scheduler,
        augment=lambda batch, generator: data.random_shift(batch, args.shift, generator),
        validation_data=(x_test, y_test) if args.plot else None,
        seed=rng, progress=not args.quiet,
    )
    train_seconds = sum(history["seconds"])
    result = model.evaluate(x_test, y_test)

    print(f"test accuracy: {result['accuracy']:.2%} on {len(x_test):,} images ({test_source}); "
          f"training took {train_seconds:.1f} s")
    if args.save:
        model.save(args.save)
    if args.plot:
        training.plot_history(history, args.plot)
    if args.json:
        print(json.dumps({
            "model": args.model, "backend": backend, "epochs": args.epochs, "batch_size": args.batch_size,
            "optimizer": args.optimizer, "lr": lr, "schedule": args.schedule, "shift": args.shift,
            "seed": args.seed, "train_samples": len(x), "train_seconds": round(train_seconds, 2),
            "test_accuracy": result["accuracy"], "test_loss": result["loss"], "test_samples": len(x_test),
        }))
    return 0
