"""Sequential: layers applied one after the other, with summary, training and checkpoints."""
from __future__ import annotations

import lzma
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .. import training
from ..devices import like, to_host
from .module import Module

NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
# What reading a damaged or foreign file can raise: zipfile itself, the decompressors of
# its members (zlib, lzma), the .npy parser, and RuntimeError for an encrypted member.
UNREADABLE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, ValueError, OSError, RuntimeError)


class Sequential(Module):
    """Apply ``layers`` in order; ``backward`` runs them in reverse.

    ``input_shape`` (C, H, W), without the batch dimension, is what :meth:`summary` uses
    by default. Parameter names are ``"<layer index>.<name>"`` (``"0.weight"``), as in a
    PyTorch ``state_dict``.
    """

    def __init__(self, *layers: Module, input_shape: tuple | None = None):
        super().__init__()
        self.layers = list(layers)
        self.input_shape = tuple(input_shape) if input_shape else None

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout, *, input_grad=True):
        """dL/dx from dL/dy, filling every parameter's gradient on the way.

        With ``input_grad=False`` (what training does) the first layer skips dL/dx,
        which no one needs for the input images, and None is returned.
        """
        if not self.layers:
            return dout
        first, *rest = self.layers
        for layer in reversed(rest):
            dout = layer.backward(dout)
        if input_grad:
            return first.backward(dout)
        first.backward_parameters(dout)
        return None

    def backward_parameters(self, dout):
        self.backward(dout, input_grad=False)

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def named_parameters(self):
        return [(f"{i}.{name}", p) for i, layer in enumerate(self.layers) for name, p in layer.named_parameters()]

    def train(self, mode: bool = True):
        for layer in self.layers:
            layer.train(mode)
        return super().train(mode)

    def to(self, backend: str | None = None, *, dtype=None):
        for layer in self.layers:
            layer.to(backend, dtype=dtype)
        return super().to(backend)

    def output_shape(self, input_shape):
        for layer in self.layers:
            input_shape = layer.output_shape(input_shape)
        return input_shape

    def flops(self, input_shape):
        total = 0
        for layer in self.layers:
            total += layer.flops(input_shape)
            input_shape = layer.output_shape(input_shape)
        return total

    def __repr__(self):
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"

    # -- summary ---------------------------------------------------------------------

    def summary(self, input_shape: tuple | None = None, print_fn=print) -> str:
        """A table of each layer's output shape, parameter count and forward FLOPs for one sample.

        ``input_shape`` is (C, H, W) without the batch dimension (default: the model's).
        The text is passed to ``print_fn`` (None: not printed) and returned.
        """
        if not (input_shape or self.input_shape):
            raise ValueError("summary needs an input_shape such as (1, 32, 32)")
        shape = (1, *(input_shape or self.input_shape))
        rows = [("Layer (type)", "Output shape", "Params", "FLOPs"), ("input", str(shape[1:]), "", "")]
        total_flops = 0
        for i, layer in enumerate(self.layers):
            flops = layer.flops(shape)
            shape = layer.output_shape(shape)
            total_flops += flops
            name = f"{i} ({type(layer).__name__})"
            rows.append((name, str(shape[1:]), f"{layer.parameter_count():,}", f"{flops:,}"))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        rule = "-" * (sum(widths) + 6)

        def line(row):  # names and shapes to the left, numbers to the right
            cells = zip(row, widths)
            return "  ".join(cell.ljust(w) if c < 2 else cell.rjust(w) for c, (cell, w) in enumerate(cells))

        text = "\n".join([
            rule, line(rows[0]), rule, *map(line, rows[1:]), rule,
            f"Total params: {self.parameter_count():,}",
            f"Forward FLOPs per sample: {total_flops:,}",
            rule,
        ])
        if print_fn is not None:
            print_fn(text)
        return text

    # -- training ----------------------------------------------------------------------

    def fit(self, x, y, **options) -> dict:
        """Train on (x, y): see :func:`fastconv.training.fit` for the options."""
        return training.fit(self, x, y, **options)

    def evaluate(self, x, y, loss=None, batch_size: int = 256) -> dict:
        """{"loss": ..., "accuracy": ...} on (x, y), in eval mode."""
        return training.evaluate(self, x, y, loss, batch_size)

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """The outputs for every sample of x, in eval mode."""
        return training.predict(self, x, batch_size)

    # -- checkpoints -------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """The parameters by name, as NumPy arrays (copied from the GPU if they are there)."""
        return {name: to_host(p.data) for name, p in self.named_parameters()}

    def _mismatch(self, shapes: dict[str, tuple]) -> str | None:
        """Why parameters of these names and shapes do not fit this model, or None if they do."""
        params = dict(self.named_parameters())
        missing, unexpected = sorted(params.keys() - shapes.keys()), sorted(shapes.keys() - params.keys())
        if missing or unexpected:
            return f"parameter names do not match this model: missing {missing}, unexpected {unexpected}"
        wrong = [f"{name}: {shapes[name]} instead of {p.shape}"
                 for name, p in params.items() if shapes[name] != p.shape]
        return "parameter shapes do not match this model: " + "; ".join(wrong) if wrong else None

    def load_state_dict(self, state: dict[str, np.ndarray]):
        """Copy ``state`` into the parameters, where they live; names and shapes must match exactly."""
        problem = self._mismatch({name: tuple(value.shape) for name, value in state.items()})
        if problem:
            raise ValueError(problem)
        for name, p in self.named_parameters():
            p.data = like(np.array(to_host(state[name]), dtype=p.data.dtype), p.data)
        return self

    def save(self, path) -> None:
        """Write the parameters to a NumPy ``.npz`` file, atomically (a temporary file, then a rename)."""
        path = Path(path)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as f:
                np.savez(f, **self.state_dict())
                f.flush()
                os.fsync(f.fileno())  # on disk before the rename, so a power cut leaves the old or the new file
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def load(self, path):
        """Read parameters saved by :meth:`save`; returns self.

        Each array's ``.npy`` header is checked (a floating-point dtype, then the names and
        shapes of this model) before its data is read, so a damaged, foreign or lying file
        raises ``ValueError`` naming the file without allocating what it claims, and leaves
        the model unchanged. Nothing is ever unpickled.
        """
        try:
            with zipfile.ZipFile(path) as archive:
                members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
                shapes = {name: _float_array_shape(archive, info) for name, info in members.items()}
                problem = self._mismatch(shapes)
                if not problem:
                    state = {name: _read_array(archive, info) for name, info in members.items()}
        except FileNotFoundError:
            raise
        except UNREADABLE as exc:
            raise ValueError(f"{path}: not a readable .npz checkpoint ({exc})") from exc
        if problem:
            raise ValueError(f"{path}: {problem}")
        return self.load_state_dict(state)


def _float_array_shape(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple:
    """The shape in a member's ``.npy`` header, read without its data; only floating-point arrays pass."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in NPY_HEADER_READERS:
            raise ValueError(f"{info.filename}: unsupported .npy format version {version}")
        shape, _, dtype = NPY_HEADER_READERS[version](member)
    if dtype.kind != "f":
        raise ValueError(f"{info.filename} holds {dtype} values, not floating-point numbers")
    return shape


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with archive.open(info) as member:
        return np.lib.format.read_array(member, allow_pickle=False)
