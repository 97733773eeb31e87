"""The ``fastconv`` command line: one sub-command per module of this package.

Each module ``fastconv/cli/<command>.py`` defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status).
"""
from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import pkgutil

#: glibc's mallopt parameters (malloc.h) and what the command line sets them to.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
TRIM_THRESHOLD, MMAP_THRESHOLD = 1 << 30, 32 << 20


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


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep the memory that arrays free for the next ones, instead of
    giving it back to the system: by default it maps every block above 128 KB (or a
    larger size it has seen freed) afresh and unmaps it on free, so the next array of
    that size starts on new pages, each one a page fault when first written. A LeNet-5
    training step took 300-360 of them (PyTorch's 950-1600) and 4.9-6.2 ms, 3.9-5.3 ms
    with the memory kept (PyTorch's 7.9-9.8 and 6.6-7.8 ms; 2 threads, five runs each).
    Only for the command line: a library should not set the allocator of the program
    that imports it. False where nothing was set: the C library is not glibc, or the
    environment already says how to allocate (MALLOC_*, GLIBC_TUNABLES)."""
    if any(name.startswith("MALLOC_") or name == "GLIBC_TUNABLES" for name in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()
    return _commands()[args.command].run(args)
