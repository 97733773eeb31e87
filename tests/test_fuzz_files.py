"""Files: the readers fuzzed with damaged, foreign and lying input; the writers crash-safe.

``load_idx`` and ``Sequential.load`` either return exactly what a well-formed file holds
or raise ``ValueError`` naming the file: never another exception, never allocating what a
lying header claims, never unpickling. ``Sequential.save``, the MNIST download and the
autotune cache replace a file only once its new content is complete.
"""
from __future__ import annotations

import gzip
import io
import json
import math
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import tracemalloc
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from fastconv import autotune, data, nn
from test_data import idx_bytes

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Memory a refused file may cost: one read block and change, whatever its header claims.
MEMORY_BOUND = 4 * data.READ_BLOCK


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for every example of a test (hypothesis runs many examples per call)."""
    return tmp_path_factory.mktemp("fuzz")


def peak_memory(call) -> int:
    """The peak of Python's allocations (NumPy's included) while ``call()`` runs."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@st.composite
def damaged(draw, blob: bytes) -> bytes:
    """``blob`` cut short, with one byte replaced, with bytes inserted, or intact."""
    at = draw(st.integers(0, len(blob)), label="at")
    how = draw(st.sampled_from(["truncate", "replace", "insert", "intact"]), label="damage")
    if how == "truncate":
        return blob[:at]
    if how == "replace":
        return blob[:at] + bytes([draw(st.integers(0, 255))]) + blob[at + 1:]
    if how == "insert":
        return blob[:at] + draw(st.binary(min_size=1, max_size=8)) + blob[at:]
    return blob


# -- load_idx -------------------------------------------------------------------------

type_codes = st.sampled_from(sorted(data.IDX_TYPES))
encodings = st.sampled_from(["raw", "gzip", "raw named .gz"])


def idx_header(type_code: int, shape) -> bytes:
    return struct.pack(">HBB", 0, type_code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def starting_with(*prefixes: bytes, max_size: int):
    """Random bytes, some behind a prefix that gets them past a format's first check."""
    anything = st.binary(max_size=max_size)
    return anything | st.builds(bytes.__add__, st.sampled_from(prefixes), anything)


@st.composite
def idx_files(draw) -> bytes:
    """A well-formed IDX file: 1 to 4 small dimensions, arbitrary payload bytes."""
    type_code = draw(type_codes)
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    size = math.prod(shape) * data.IDX_TYPES[type_code].itemsize
    return idx_header(type_code, shape) + draw(st.binary(min_size=size, max_size=size))


def write_idx(folder: Path, content: bytes, encoding: str) -> Path:
    """``content`` as a raw file, gzip-compressed, or raw under a ``.gz`` name."""
    path = folder / ("file.idx" if encoding == "raw" else "file.idx.gz")
    path.write_bytes(gzip.compress(content) if encoding == "gzip" else content)
    return path


def loads_exactly_or_refuses(path: Path) -> None:
    """``load_idx`` returns the array whose IDX encoding is the file, or a ValueError naming it."""
    try:
        array = data.load_idx(path)
    except ValueError as error:
        assert str(path) in str(error)
        return
    content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    assert idx_bytes(array, content[2]) == content


@FUZZ
@given(content=starting_with(idx_header(0x08, [1])[:4], idx_header(0x0D, [1, 1, 1])[:4], max_size=80),
       encoding=encodings)
def test_load_idx_on_random_bytes(folder, content, encoding):
    loads_exactly_or_refuses(write_idx(folder, content, encoding))


@FUZZ
@given(data_=st.data(), original=idx_files(), encoding=encodings)
def test_load_idx_on_a_damaged_file(folder, data_, original, encoding):
    """Damage before compression (a bad IDX file) or after it (a bad gzip stream)."""
    if data_.draw(st.booleans(), label="damage the gzip stream"):
        path = folder / "file.idx.gz"
        path.write_bytes(data_.draw(damaged(gzip.compress(original))))
    else:
        path = write_idx(folder, data_.draw(damaged(original)), encoding)
    loads_exactly_or_refuses(path)


@FUZZ
@given(type_code=type_codes, shape=st.lists(st.integers(1, 2**32 - 1), min_size=1, max_size=4),
       payload_size=st.integers(0, 1 << 16), compress=st.booleans())
@example(type_code=0x08, shape=[60_000_000], payload_size=1 << 16, compress=True)  # within deflate's ratio
@example(type_code=0x08, shape=[1 << 16] * 4, payload_size=0, compress=False)  # 2**64 elements
def test_load_idx_refuses_a_lying_header_without_allocating_its_claim(folder, type_code, shape, payload_size,
                                                                       compress):
    assume(math.prod(shape) * data.IDX_TYPES[type_code].itemsize != payload_size)
    content = idx_header(type_code, shape) + os.urandom(payload_size)
    path = write_idx(folder, content, "gzip" if compress else "raw")

    def refused():
        with pytest.raises(ValueError, match="IDX") as error:
            data.load_idx(path)
        assert str(path) in str(error.value)

    assert peak_memory(refused) < MEMORY_BOUND


@pytest.mark.parametrize("encoding", ["raw", "gzip", "raw named .gz"])
def test_load_idx_refuses_an_empty_file(tmp_path, encoding):
    path = write_idx(tmp_path, b"", encoding)
    with pytest.raises(ValueError, match="magic number") as error:
        data.load_idx(path)
    assert str(path) in str(error.value)


# -- Sequential.load ------------------------------------------------------------------

SHAPES = {"0.weight": (2, 3), "0.bias": (2,)}


def small_model(seed: int = 0) -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 2, rng=np.random.default_rng(seed)))


class Trap:
    """Unpickling one creates the file ``marker``: proof that something was unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def loads(path: Path, expected: dict | None = None) -> bool:
    """Whether ``load`` takes the file. If it does, the model holds ``expected`` (None: it must
    not); if not, it raised a ValueError naming the file and left the model unchanged."""
    model = small_model()
    before = {name: value.copy() for name, value in model.state_dict().items()}
    try:
        model.load(path)
    except ValueError as error:
        assert str(path) in str(error)
        after = model.state_dict()
        assert all(np.array_equal(after[name], value) for name, value in before.items())
        return False
    assert expected is not None, "a bad checkpoint was loaded"
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, np.asarray(expected[name], dtype=value.dtype))
    return True


@FUZZ
@given(content=starting_with(b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY\x01\x00", max_size=200))
def test_load_on_random_bytes(folder, content):
    path = folder / "random.npz"
    path.write_bytes(content)
    assert not loads(path)


@FUZZ
@given(data_=st.data(), compress=st.booleans(), seed=st.integers(0, 3))
def test_load_on_a_damaged_checkpoint(folder, data_, compress, seed):
    """One damage anywhere is caught by the zip format, its CRCs or the header checks, or
    is harmless (bytes before the archive, a date field): the saved values or an error."""
    state = small_model(seed).state_dict()
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **state)
    path = folder / "damaged.npz"
    content = data_.draw(damaged(buffer.getvalue()))
    path.write_bytes(content)
    assert loads(path, state) or content != buffer.getvalue()


DTYPES = [np.float16, np.float32, np.float64, np.int64, np.uint8, np.bool_, np.complex64, "U3", "S2",
          [("a", np.float32)], object]


@FUZZ
@given(arrays=st.dictionaries(st.sampled_from([*SHAPES, "1.weight", "extra"]),
                              st.tuples(st.sampled_from([*SHAPES.values(), (3, 2), (0,), (1, 1, 1)]),
                                        st.sampled_from(DTYPES)),
                              max_size=4),
       compress=st.booleans())
def test_load_accepts_only_the_model_names_shapes_and_floats(folder, arrays, compress):
    marker = folder / "unpickled"
    state = {}
    for name, (shape, dtype) in arrays.items():
        if dtype is object:
            state[name] = np.full(shape, Trap(marker), dtype=object)
        else:
            state[name] = np.ones(shape).astype(dtype)
    path = folder / "arrays.npz"
    (np.savez_compressed if compress else np.savez)(path, **state)
    fits = {name: value.shape for name, value in state.items()} == SHAPES and all(
        value.dtype.kind == "f" for value in state.values())
    assert loads(path, state if fits else None) == fits
    assert not marker.exists()


def npy_member(shape: tuple, descr: str, data_size: int) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue() + bytes(data_size)


huge_shapes = st.lists(st.integers(1, 1 << 40), min_size=1, max_size=3).map(tuple).filter(
    lambda shape: math.prod(shape) > 1 << 24)


@FUZZ
@given(shapes=st.tuples(huge_shapes, huge_shapes), descr=st.sampled_from(["<f4", ">f8", "<i8"]),
       data_size=st.integers(0, 64))
@example(shapes=tuple(SHAPES.values()), descr="<f8", data_size=8)  # the right shapes, the data cut short
def test_load_refuses_a_lying_array_header_without_allocating_its_claim(folder, shapes, descr, data_size):
    path = folder / "lying.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, shape in zip(SHAPES, shapes):
            archive.writestr(name + ".npy", npy_member(shape, descr, data_size))
    assert peak_memory(lambda: loads(path)) < MEMORY_BOUND


def test_load_never_unpickles_a_pickle_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(Trap(tmp_path / "unpickled")))
    assert not loads(path)
    assert not (tmp_path / "unpickled").exists()


def test_load_refuses_a_single_array_npy_file(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape(f"{path}: not a readable .npz checkpoint")):
        small_model().load(path)


# -- crash-safe writers ---------------------------------------------------------------

def half_then(exception: BaseException):
    """A stand-in for ``np.savez`` that writes half of the real file, then raises ``exception``."""
    real_savez = np.savez

    def savez(file, **arrays):
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise exception

    return savez


def assert_holds(path: Path, model: nn.Sequential) -> None:
    restored = small_model(seed=99).load(path)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[name], value)


@pytest.mark.parametrize("exception", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk full", "interrupted"])
def test_a_save_that_fails_halfway_keeps_the_old_file(tmp_path, monkeypatch, exception):
    path = tmp_path / "model.npz"
    old = small_model(seed=1)
    old.save(path)
    monkeypatch.setattr(np, "savez", half_then(exception))
    with pytest.raises(type(exception)):
        small_model(seed=2).save(path)
    monkeypatch.undo()
    assert_holds(path, old)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left


KILLED_SAVE = """
import sys, time
import numpy as np
from fastconv import nn

def stall(file, **arrays):
    file.write(b"PK" + bytes(1000))
    file.flush()
    print("writing", flush=True)
    time.sleep(60)

np.savez = stall
nn.Sequential(nn.Linear(3, 2)).save(sys.argv[1])
"""


def test_a_process_killed_while_saving_leaves_the_old_file(tmp_path):
    """Nothing can clean up after SIGKILL: the old file is intact, the partial one is a .tmp beside it."""
    path = tmp_path / "model.npz"
    old = small_model(seed=1)
    old.save(path)
    command = [sys.executable, "-c", KILLED_SAVE, str(path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as saver:
        assert saver.stdout.readline() == "writing\n"
        saver.send_signal(signal.SIGKILL)
    assert_holds(path, old)
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1 and leftovers[0].startswith("model.npz.") and leftovers[0].endswith(".tmp")


def test_a_cache_write_that_fails_halfway_keeps_the_old_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTCONV_CACHE_DIR", str(tmp_path))
    autotune.write_cache_entry("old key", "numpy:im2col")

    def write_half_then_fail(entries, file, **options):
        file.write(json.dumps(entries)[:5])
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(json, "dump", write_half_then_fail)
        autotune.write_cache_entry("new key", "numba:direct")  # a failed write only costs a re-measurement
    assert autotune.read_cache() == {"old key": "numpy:im2col"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autotune.json", "autotune.lock"]


class BrokenDownload(io.BytesIO):
    """A response that delivers a few bytes, then loses the connection."""

    def read(self, size=-1):
        if self.tell():
            raise ConnectionResetError("connection reset by peer")
        return super().read(100)


def test_an_interrupted_download_keeps_the_old_file(tmp_path, monkeypatch):
    old = tmp_path / "t10k-images-idx3-ubyte.gz"
    old.write_bytes(b"an old, incomplete download")
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: BrokenDownload(bytes(1000)))
    with pytest.raises(ConnectionResetError):
        data.download_mnist(tmp_path, base_url="http://mirror.invalid/", split="test")
    assert [p.name for p in tmp_path.iterdir()] == [old.name]
    assert old.read_bytes() == b"an old, incomplete download"
