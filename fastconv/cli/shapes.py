"""``fastconv shapes``: conv arithmetic for a stack of layers, before anything runs.

For each layer: the output shape, the parameter count (bias included), the FLOPs of one
forward pass and, for a convolution, the size of its im2col column matrix. A layer that
cannot take its input is named with the reason; a stride that does not tile the padded
input is a warning (the output is floored, as in PyTorch, and the last rows or columns
are never read).
"""
from __future__ import annotations

import argparse
import sys

from .. import nn
from ..models import MODELS
from ..shapes import conv_geometry, im2col_bytes

HELP = "output shapes, parameters, FLOPs and im2col sizes of a layer stack (a zoo model or a spec)"

SPEC_HELP = """\
layers, left to right, after the input size CxHxW (e.g. 1x28x28):
  conv:K:kR[:sS][:pP][:dD][:nobias]  K filters of RxR (k3x5: 3 rows, 5 columns),
                                     stride S, padding P, dilation D (defaults 1, 0, 1)
  maxpool:kR[:sS][:pP]               max pooling (the stride defaults to the kernel)
  avgpool:kR[:sS][:pP]               average pooling
  flatten                            (C, H, W) -> (C*H*W,)
  linear:N[:nobias]                  N outputs (dense:N too)
  relu, tanh, sigmoid, softmax, dropout
example (LeNet-5 on 28x28 digits):
  fastconv shapes 1x28x28 conv:6:k5:p2 relu maxpool:k2 conv:16:k5 relu maxpool:k2 \\
                  flatten linear:120 relu linear:84 relu linear:10
"""

PLAIN = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softmax": nn.Softmax,
         "flatten": nn.Flatten, "dropout": nn.Dropout}
POOLS = {"maxpool": nn.MaxPool2d, "avgpool": nn.AvgPool2d}
OPTIONS = {"k": "kernel_size", "s": "stride", "p": "padding", "d": "dilation"}
ALLOWED = {"conv": "kspd", "maxpool": "ksp", "avgpool": "ksp", "linear": "", "dense": ""}


class SpecError(ValueError):
    """A layer spec that cannot be read, or a layer that cannot take its input."""


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = SPEC_HELP
    parser.add_argument("spec", nargs="*", help="CxHxW then the layers (see below)")
    parser.add_argument("--model", choices=sorted(MODELS), help="a zoo model instead of a spec")
    parser.add_argument("--batch", type=int, default=1, help="images per batch (FLOPs and im2col; default: 1)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="element size of the im2col buffer (default: float32)")


def _value(text: str):
    """'5' -> 5, '3x5' -> (3, 5)."""
    parts = text.split("x")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    return int(parts[0]) if len(parts) == 1 else (int(parts[0]), int(parts[1]))


def parse_input(token: str) -> tuple[int, ...]:
    """'1x28x28' -> (1, 28, 28)."""
    parts = token.split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise SpecError(f"{token!r}: the input size must be CxHxW with positive integers, e.g. 1x28x28")
    return tuple(int(p) for p in parts)


def parse_layer(token: str, shape: tuple) -> nn.Module:
    """Build the layer of one spec token for an input of ``shape`` (without the batch)."""
    kind, *fields = token.lower().split(":")
    if kind in PLAIN:
        if fields:
            raise SpecError(f"{token!r}: {kind} takes no options")
        return PLAIN[kind]()
    if kind not in ALLOWED:
        raise SpecError(f"{token!r}: unknown layer {kind!r}; known: {', '.join([*ALLOWED, *PLAIN])}")
    count, options, bias = None, {}, True
    for field in fields:
        try:
            if field.isdigit() and count is None and kind not in POOLS:
                count = int(field)
            elif field == "nobias" and kind not in POOLS:
                bias = False
            elif field and field[0] in ALLOWED[kind] and OPTIONS[field[0]] not in options:
                options[OPTIONS[field[0]]] = _value(field[1:])
            else:
                raise ValueError(field)
        except ValueError:
            raise SpecError(f"{token!r}: cannot read {field!r} (see fastconv shapes --help)") from None
    if kind not in POOLS and count is None:
        raise SpecError(f"{token!r}: {kind} needs its number of outputs, e.g. {kind}:16")
    if "k" in ALLOWED[kind] and "kernel_size" not in options:
        raise SpecError(f"{token!r}: {kind} needs a kernel size, e.g. {token}:k3")
    if not ALLOWED[kind]:  # linear
        if len(shape) != 1:
            raise SpecError(f"{token!r}: linear needs a flat input, got {shape}; put flatten before it")
        return nn.Linear(shape[0], count, bias=bias)
    if len(shape) != 3:
        raise SpecError(f"{token!r}: {kind} needs a CxHxW input, got {shape}")
    if kind in POOLS:
        return POOLS[kind](**options)
    return nn.Conv2d(shape[0], count, bias=bias, **options)


def _text(pair) -> str:
    """(5, 5) -> '5', (3, 5) -> '3x5' (the inverse of :func:`_value`)."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def describe(layer) -> str:
    """The spec token of a layer (the inverse of :func:`parse_layer`)."""
    if isinstance(layer, nn.Conv2d):
        fields = [str(layer.out_channels), f"k{_text(layer.kernel_size)}"]
        fields += [f"{key}{_text(value)}" for key, value, default in (
            ("s", layer.stride, (1, 1)), ("p", layer.padding, (0, 0)), ("d", layer.dilation, (1, 1)))
            if value != default]
        return ":".join(["conv", *fields] + ([] if layer.bias is not None else ["nobias"]))
    for kind, cls in POOLS.items():
        if type(layer) is cls:
            fields = [f"k{_text(layer.kernel_size)}"]
            fields += [f"s{_text(layer.stride)}"] if layer.stride != layer.kernel_size else []
            fields += [f"p{_text(layer.padding)}"] if layer.padding != (0, 0) else []
            return ":".join([kind, *fields])
    if isinstance(layer, nn.Linear):
        return f"linear:{layer.out_features}" + ("" if layer.bias is not None else ":nobias")
    return next((kind for kind, cls in PLAIN.items() if type(layer) is cls), type(layer).__name__)


def dropped(layer, shape) -> str | None:
    """A warning when the stride does not tile the padded input of a conv or pooling layer, else None.

    Along each axis the window (``dilation * (kernel - 1) + 1`` wide) fits
    ``(padded - window) // stride + 1`` times; the remainder of that division is the
    number of trailing rows (columns) no window reads.
    """
    if not isinstance(layer, (nn.Conv2d, *POOLS.values())):
        return None
    dilation = getattr(layer, "dilation", (1, 1))
    padded = [size + 2 * p for size, p in zip(shape[1:], layer.padding)]
    window = [d * (k - 1) + 1 for d, k in zip(dilation, layer.kernel_size)]
    rest = [(size - span) % step for size, span, step in zip(padded, window, layer.stride)]
    if not any(rest):
        return None
    output = layer.output_shape((1, *shape))[2:]
    return (f"stride {_text(layer.stride)} does not tile the padded {padded[0]}x{padded[1]} input "
            f"with a {window[0]}x{window[1]} window: its last {rest[0]} row(s) and {rest[1]} column(s) are "
            f"never read (the output is floored to {output[0]}x{output[1]}, as in PyTorch)")


def rows(layers, input_shape, batch: int, itemsize: int):
    """One (index, spec, output shape, params, FLOPs, im2col bytes, warning) per layer."""
    shape = (batch, *input_shape)
    for i, layer in enumerate(layers):
        try:
            output = layer.output_shape(shape)
            flops = layer.flops(shape)
            buffer = None
            if isinstance(layer, nn.Conv2d):
                weight_shape = (layer.out_channels, layer.in_channels, *layer.kernel_size)
                g = conv_geometry(shape, weight_shape, layer.stride, layer.padding, layer.dilation)
                buffer = im2col_bytes(g, itemsize, images=batch)
        except ValueError as exc:
            raise SpecError(f"layer {i} ({describe(layer)}) cannot take an input of {shape[1:]}: {exc}") from None
        yield i, describe(layer), output[1:], layer.parameter_count(), flops, buffer, dropped(layer, shape[1:])
        shape = output


def build(tokens) -> tuple[tuple, list]:
    """(input shape, layers) from spec tokens, each layer built for the output of the one before."""
    if not tokens:
        raise SpecError("give a zoo model (--model lenet5) or an input size and layers, e.g. "
                        "1x28x28 conv:6:k5 maxpool:k2")
    input_shape = shape = parse_input(tokens[0])
    layers = []
    for index, token in enumerate(tokens[1:]):
        try:
            layer = parse_layer(token, shape)
            shape = layer.output_shape((1, *shape))[1:]
        except SpecError:
            raise
        except (ValueError, TypeError) as exc:
            raise SpecError(f"layer {index} ({token}) cannot take an input of {shape}: {exc}") from None
        layers.append(layer)
    return input_shape, layers


def _bytes(n) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


def table(layers, input_shape, batch: int, itemsize: int) -> list[str]:
    """The lines of the report; warnings go under their layer."""
    header = ("#", "layer", "output", "params", "FLOPs", "im2col")
    total_params = total_flops = largest = 0
    body = [("", "input", str(input_shape), "", "", "")]
    notes = {}
    for i, spec, output, params, flops, buffer, warning in rows(layers, input_shape, batch, itemsize):
        body.append((str(i), spec, str(output), f"{params:,}", f"{flops:,}", _bytes(buffer)))
        total_params, total_flops, largest = total_params + params, total_flops + flops, max(largest, buffer or 0)
        if warning:
            notes[len(body) - 1] = f"     warning: {warning}"
    widths = [max(len(row[c]) for row in [header, *body]) for c in range(len(header))]

    def line(row):
        return "  ".join(cell.ljust(w) if c < 3 else cell.rjust(w) for c, (cell, w) in enumerate(zip(row, widths)))

    rule = "-" * len(line(header))
    lines = [rule, line(header), rule]
    for n, row in enumerate(body):
        lines.append(line(row))
        lines += [notes[n]] if n in notes else []
    lines += [rule, f"parameters: {total_params:,}",
              f"forward FLOPs for a batch of {batch}: {total_flops:,}",
              f"largest im2col buffer: {_bytes(largest)}",
              "spec: " + " ".join(["x".join(map(str, input_shape)), *(describe(layer) for layer in layers)])]
    return lines


def run(args) -> int:
    try:
        if args.batch < 1:
            raise SpecError(f"--batch must be at least 1, got {args.batch}")
        if args.model:
            model = MODELS[args.model]()
            input_shape = parse_input(args.spec[0]) if args.spec else model.input_shape
            if len(args.spec) > 1:
                raise SpecError("with --model, give at most the input size (CxHxW), no layers")
            layers = model.layers
        else:
            input_shape, layers = build(args.spec)
        itemsize = 4 if args.dtype == "float32" else 8
        for line in table(layers, input_shape, args.batch, itemsize):
            print(line)
    except (ValueError, TypeError) as exc:  # SpecError included
        print(f"fastconv shapes: error: {exc}", file=sys.stderr)
        return 2
    return 0
