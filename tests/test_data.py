"""MNIST data: the embedded digits, the IDX reader and its checks, the checked download, preprocessing."""
from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from fastconv import data

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_shared_mnist = pytest.mark.skipif(
    not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"the real MNIST test files are not at {SHARED_MNIST} on this machine",
)


def idx_bytes(array: np.ndarray, type_code=0x08) -> bytes:
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(data.IDX_TYPES[type_code]).tobytes()


def test_embedded_digits_are_5000_real_mnist_digits_500_per_class():
    images, labels = data.load_embedded_digits()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and (images[:, :, 0, :] == 0).all()  # a dark border, as in MNIST


@needs_shared_mnist
def test_load_mnist_reads_the_real_test_set():
    images, labels = data.load_mnist(SHARED_MNIST, "test")
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.uint8
    assert labels[:5].tolist() == [7, 2, 1, 0, 4] and len(np.unique(labels)) == 10


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("type_code", [0x08, 0x0B, 0x0D])
def test_load_idx_round_trips_every_type_raw_or_gzip(tmp_path, compress, type_code):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    path.write_bytes(gzip.compress(idx_bytes(array, type_code)) if compress else idx_bytes(array, type_code))
    loaded = data.load_idx(path)
    np.testing.assert_array_equal(loaded, array)
    assert loaded.dtype.isnative and loaded.dtype.kind == data.IDX_TYPES[type_code].kind


GOOD = idx_bytes(np.arange(60).reshape(3, 4, 5))
MALFORMED = {
    "empty": (b"", "magic number"),
    "bad magic": (b"\x01\x00" + GOOD[2:], "not an IDX file"),
    "unknown type": (GOOD[:2] + b"\x07" + GOOD[3:], "not an IDX file"),
    "too many dimensions": (GOOD[:3] + b"\x09" + GOOD[4:], "not an IDX file"),
    "missing dimensions": (GOOD[:9], "dimensions"),
    "zero dimension": (GOOD[:4] + struct.pack(">I", 0) + GOOD[8:], "zero"),
    "truncated payload": (GOOD[:-1], "holds at most"),
    "extra bytes": (GOOD + b"\x00", "after its"),
    "huge header": (GOOD[:4] + struct.pack(">III", 60000, 60000, 60000) + GOOD[16:], "promises"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", MALFORMED)
def test_load_idx_rejects_malformed_files_with_a_clear_error(tmp_path, case, compress):
    content, message = MALFORMED[case]
    if compress and case == "truncated payload":
        message = "truncated"  # a .gz file's size only bounds the payload loosely
    path = tmp_path / ("bad.gz" if compress else "bad")
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(ValueError, match=message) as error:
        data.load_idx(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_load_idx_rejects_damaged_gzip_streams(tmp_path, damage):
    compressed = bytearray(gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 255, (50, 28, 28)))))
    if damage == "truncated":
        compressed = compressed[: len(compressed) // 2]
    else:
        compressed[len(compressed) // 2] ^= 0xFF
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(ValueError, match="damaged.gz"):
        data.load_idx(path)


def test_load_mnist_finds_raw_files_and_checks_images_against_labels(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 28, 28))))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2, 3])))
    images, labels = data.load_mnist(tmp_path)
    assert images.shape == (3, 1, 28, 28) and labels.tolist() == [1, 2, 3]
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2])))
    with pytest.raises(ValueError, match="do not match"):
        data.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.load_mnist(tmp_path, "train")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """Serve a folder on 127.0.0.1; yields a function folder -> base URL."""
    servers = []

    def start(folder):
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@needs_shared_mnist
def test_download_fetches_and_verifies_the_official_files(tmp_path, serve):
    url = serve(SHARED_MNIST)
    folder = data.download_mnist(tmp_path / "mnist", base_url=url, split="test")
    assert sorted(p.name for p in folder.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    images, labels = data.load_mnist(folder, "test")
    assert images.shape == (10000, 1, 28, 28)


def test_download_rejects_a_file_with_the_wrong_checksum(tmp_path, serve):
    served = tmp_path / "served"
    served.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (served / name).write_bytes(gzip.compress(b"not MNIST"))
    target = tmp_path / "mnist"
    with pytest.raises(ValueError, match="checksum mismatch"):
        data.download_mnist(target, base_url=serve(served), split="test")
    assert list(target.iterdir()) == []  # nothing half-written is left behind


@needs_shared_mnist
def test_download_keeps_files_that_are_already_right(tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(SHARED_MNIST / name, tmp_path / name)
    # an unreachable URL proves nothing is fetched
    data.download_mnist(tmp_path, base_url="http://127.0.0.1:9/", split="test")


def test_normalize_pad_and_one_hot():
    images = np.zeros((2, 1, 28, 28), dtype=np.uint8)
    images[:, :, 0, 0] = 255
    padded = data.pad_to(images, 32)
    assert padded.shape == (2, 1, 32, 32) and padded[0, 0, 2, 2] == 255 and padded.sum() == images.sum()
    x = data.normalize(padded)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0, 0], -data.MNIST_MEAN / data.MNIST_STD, rtol=1e-6)
    np.testing.assert_array_equal(data.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError):
        data.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError):
        data.pad_to(images, 20)


def test_random_shift_moves_each_image_by_at_most_the_given_pixels():
    images = np.zeros((50, 1, 9, 9), dtype=np.float32)
    images[:, :, 4, 4] = 1
    shifted = data.random_shift(images, 2, np.random.default_rng(0))
    rows, cols = np.nonzero(shifted[:, 0].reshape(50, 81))[1] // 9, np.nonzero(shifted[:, 0].reshape(50, 81))[1] % 9
    assert shifted.shape == images.shape and shifted.sum() == 50
    assert set(rows) == set(cols) == {2, 3, 4, 5, 6}
    assert data.random_shift(images, 0, np.random.default_rng(0)) is images


def test_split_holds_out_a_random_fraction():
    x, y = np.arange(100), np.arange(100) % 10
    x_keep, y_keep, x_held, y_held = data.split(x, y, 0.2, np.random.default_rng(0))
    assert len(x_held) == 20 and sorted(np.concatenate([x_keep, x_held])) == list(range(100))
    np.testing.assert_array_equal(y_held, x_held % 10)
