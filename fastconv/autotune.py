"""The ``auto`` backend: the fastest correct kernel for each op and shape, by measurement.

The first time ``auto`` meets an (op, shapes, dtype) it times every available
(backend, algorithm) on the very call's inputs, one after the other, after untimed
calls (so Numba's compilation is not counted), and keeps the fastest one whose result
agrees with the naive kernel on the first image of the batch. The choice is remembered
in memory and in a small JSON file per machine, keyed by op, shapes, dtype, thread count,
library versions and a fingerprint of fastconv's kernels, so later processes start with it:

    $FASTCONV_CACHE_DIR/autotune.json   (default: $XDG_CACHE_HOME/fastconv or ~/.cache/fastconv)

Writers take an exclusive lock and replace the file atomically, so two processes never
corrupt it; a file that cannot be parsed is ignored and rebuilt. ``FASTCONV_AUTOTUNE=0``
turns measuring off: ``auto`` then takes the first available backend of
:data:`fastconv.backends.AUTO_PREFERENCE`.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from . import __version__, kernels
from .backends import available_kernels, resolve

ROUNDS = 7  # samples of each kernel at least,
BUDGET_S = 0.2  # and more, up to MAX_ROUNDS, until its share of this many seconds was spent
MAX_ROUNDS = 50
SLOWER = 2.0
SETTLE_S = 0.1  # untimed calls of a kernel before its samples
FINALISTS = 3  # kernels timed a second time
_memory: dict[tuple, str] = {}
_lock = threading.Lock()


def cache_path() -> Path:
    root = os.environ.get("FASTCONV_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    ) / "fastconv"
    return Path(root) / "autotune.json"


def enabled() -> bool:
    return os.environ.get("FASTCONV_AUTOTUNE", "1") != "0"


def _threads() -> int:
    import numba

    return numba.get_num_threads()


@functools.cache
def kernels_fingerprint() -> str:
    """A short hash of fastconv's own source and compiled files: editing or rebuilding a
    kernel changes it, so choices measured on an older kernel are measured again."""
    digest = hashlib.sha256()
    for folder in (Path(__file__).parent, *map(Path, kernels.__path__)):
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".py", ".pyx", ".so"):
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.cache
def _versions() -> str:
    import numba

    return (f"fastconv {__version__} ({kernels_fingerprint()}), "
            f"numpy {np.__version__}, numba {numba.__version__}")


def cache_key(op: str, arrays, params) -> str:
    shapes = " ".join("x".join(map(str, a.shape)) for a in arrays if a is not None)
    dtype = np.dtype(arrays[0].dtype).name
    return f"{op} {shapes} {params} {dtype} threads={_threads()} ({_versions()})"


def read_cache() -> dict[str, str]:
    """The cache file's entries; an unreadable or malformed file counts as empty."""
    try:
        entries = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, str)}


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_cache_entry(key: str, spec: str) -> None:
    """Add one entry: lock, re-read, write a temporary file, rename it over the old one."""
    path = cache_path()
    try:
        with _file_lock(path):
            entries = read_cache()
            entries[key] = spec
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
                try:
                    json.dump(entries, tmp, indent=1, sort_keys=True)
                    tmp.close()
                    os.replace(tmp.name, path)
                finally:
                    if os.path.exists(tmp.name):
                        os.unlink(tmp.name)
    except OSError:
        pass  # a read-only or full disk only costs a re-measurement next time


def seconds(call, spec: str) -> float:
    """Wall time of one call of ``call(spec)``."""
    start = time.perf_counter()
    call(spec)
    return time.perf_counter() - start


def settle(call, duration: float) -> None:
    """Call ``call()`` again and again, untimed, for ``duration`` seconds (at least once):
    after a product, BLAS keeps its threads spinning on the cores for 0.1 s or more, and
    a kernel timed in that window ran up to 2x slower on a 2-core machine."""
    settled = time.perf_counter() + duration
    call()
    while time.perf_counter() < settled:
        call()


def _close(result, reference) -> bool:
    """One output against naive's; None (a skipped dx) agrees only with None.

    Sums taken in another order differ by rounding errors of the size of their largest
    terms, not of the result: an element that cancels to nearly zero may be off by
    1e-4 in float32 where its neighbours are in the hundreds. So the absolute tolerance
    scales with the output's largest finite magnitude (a wrong kernel misses by far more)."""
    if result is None or reference is None:
        return result is reference
    reference = np.asarray(reference, dtype=np.float64)
    finite = np.abs(reference[np.isfinite(reference)])
    scale = max(1.0, finite.max()) if finite.size else 1.0
    return np.allclose(np.asarray(result, dtype=np.float64), reference, equal_nan=True,
                       rtol=1e-3, atol=1e-4 * scale)


def _agrees(result, reference) -> bool:
    results = result if isinstance(result, tuple) else (result,)
    references = reference if isinstance(reference, tuple) else (reference,)
    return all(_close(r, ref) for r, ref in zip(results, references))


def measure(call) -> str:
    """Time every CPU kernel on ``call(spec)``; return the fastest that agrees with naive.

    ``call(spec, images=slice(0, 1))`` computes the op on the first image of the batch
    alone, which is all the (slow) naive kernel is asked for. The kernels are timed one
    after the other, each after :data:`SETTLE_S` of untimed calls (:func:`settle`; the
    first one compiles): timed right after a BLAS kernel, the others looked slower and
    ``auto`` preferred BLAS kernels. Each takes :data:`ROUNDS` samples, and more, up to
    :data:`MAX_ROUNDS`, while it has used less than its share of :data:`BUDGET_S`
    (kernels of a millisecond need dozens of samples for a steady median). They are
    compared by their median time: on a busy machine some kernels (multi-threaded BLAS
    on thin matrices) are fast only now and then, so their best time would flatter them.
    After three samples, a kernel :data:`SLOWER` times slower than the best so far stops.
    The :data:`FINALISTS` fastest then take a second turn, as many samples again, and
    each counts with the better of its two medians: a burst of load from elsewhere
    during one turn (the fastest kernel of resnet_3x3 once measured 1.5x slower in its
    first turn, and lost to a BLAS kernel when only the two first were timed again)
    cannot decide alone.
    """
    first_image = slice(0, 1)
    reference = call("naive", first_image)
    candidates = [kernel.spec for kernel in available_kernels()
                  if kernel.backend not in ("naive", "cuda")
                  and _agrees(call(kernel.spec, first_image), reference)]
    if not candidates:
        return "naive"
    times = {spec: [] for spec in candidates}
    median = lambda spec: statistics.median(times[spec])  # noqa: E731

    def sample(spec, enough):
        settle(lambda: call(spec), SETTLE_S)  # compilation, page faults, caches, spinning BLAS
        best = min((median(other) for other in times if times[other] and other != spec),
                   default=float("inf"))
        while len(times[spec]) < MAX_ROUNDS and not enough(times[spec]):
            times[spec].append(seconds(call, spec))
            if len(times[spec]) >= 3 and median(spec) > SLOWER * best:
                break

    share = BUDGET_S / len(candidates)
    for spec in candidates:
        sample(spec, lambda t: len(t) >= ROUNDS and sum(t) >= share)
    first_turn = {spec: median(spec) for spec in candidates}
    finalists = sorted(candidates, key=median)[:FINALISTS]
    for spec in finalists:  # a second turn: the machine's speed drifts between turns
        target, times[spec] = len(times[spec]), []
        sample(spec, lambda t: len(t) >= target)
    return min(finalists, key=lambda spec: min(first_turn[spec], median(spec)))


def _runs_here(spec: str) -> bool:
    try:
        resolve(spec)
    except (ValueError, RuntimeError):
        return False
    return True


def choose(op: str, arrays, params, call) -> str:
    """The backend spec that ``auto`` uses for this call (measured once, then remembered)."""
    if not enabled() or arrays[0].shape[0] == 0:
        return "auto"
    # In memory, a tuple: cheaper to build on every call than the file's string key.
    shapes = tuple(a.shape for a in arrays if a is not None)
    quick_key = (op, shapes, params, arrays[0].dtype.char, _threads())
    spec = _memory.get(quick_key)
    if spec is None:
        key = cache_key(op, arrays, params)
        with _lock:
            spec = read_cache().get(key)
            if spec is None or not _runs_here(spec):
                spec = measure(call)
                write_cache_entry(key, spec)
        _memory[quick_key] = spec
    return spec
