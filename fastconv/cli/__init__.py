"""The ``fastconv`` command line: one sub-command per module of this package.

Each module ``fastconv/cli/<command>.py`` defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil


def _commands():
    return {
        info.name: importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastconv", description="Convolutional networks from naive loops to fast kernels."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in sorted(_commands().items()):
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return _commands()[args.command].run(args)
