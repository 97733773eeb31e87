"""The backend registry: listing, choosing the default, per-call override, environment."""
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv.backends import AUTO_PREFERENCE, BACKEND_NAMES, resolve


def test_naive_and_numpy_are_always_available():
    assert {"naive", "numpy"} <= set(fastconv.available_backends())
    assert all(name in BACKEND_NAMES for name in fastconv.available_backends())


def test_every_backend_is_either_available_or_has_a_reason():
    available = set(fastconv.available_backends())
    missing = fastconv.unavailable_backends()
    assert available | set(missing) == set(BACKEND_NAMES)
    assert all(isinstance(reason, str) and reason for reason in missing.values())


def test_available_kernels_name_backend_and_algorithm():
    specs = [k.spec for k in fastconv.available_kernels()]
    assert "naive:loops" in specs and "numpy:im2col" in specs


def test_auto_picks_the_first_available_preference():
    expected = next(n for n in AUTO_PREFERENCE if n in fastconv.available_backends())
    assert resolve("auto")[0].__name__ == f"fastconv.kernels.{expected}"


def test_set_backend_and_use_backend(monkeypatch):
    monkeypatch.delenv("FASTCONV_BACKEND", raising=False)
    assert fastconv.get_backend() == "auto"
    fastconv.set_backend("naive")
    try:
        assert fastconv.get_backend() == "naive"
        with fastconv.use_backend("numpy:im2col"):
            assert fastconv.get_backend() == "numpy:im2col"
            assert resolve(None)[0].__name__ == "fastconv.kernels.numpy"
        assert fastconv.get_backend() == "naive"
    finally:
        fastconv.set_backend(None)
    assert fastconv.get_backend() == "auto"


def test_set_backend_rejects_unknown_names_at_once():
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        fastconv.set_backend("gpu")
    with pytest.raises(ValueError, match="unknown backend"):
        with fastconv.use_backend("gpu"):
            pass


def test_use_backend_is_per_thread():
    seen = {}

    def other_thread():
        seen["other"] = fastconv.get_backend()

    with fastconv.use_backend("naive"):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen["other"] != "naive"


def test_environment_variable_sets_the_default():
    code = "import fastconv; print(fastconv.get_backend())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"FASTCONV_BACKEND": "naive", "PATH": ""}, check=True)
    assert out.stdout.strip() == "naive"


@pytest.mark.parametrize("given", [{}, {"OMP_WAIT_POLICY": "ACTIVE", "OPENBLAS_THREAD_TIMEOUT": "20"},
                                   {"GOMP_SPINCOUNT": "7"}])
def test_idle_threads_wait_briefly_unless_told_otherwise(given):
    """Importing fastconv bounds how long idle OpenMP threads spin and makes OpenBLAS
    threads sleep (so that they leave the cores to each other), but keeps what the
    environment already says: a wait policy of its own gets no spin count added."""
    code = "import os, fastconv; print(os.environ.get('GOMP_SPINCOUNT', '-'), os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**given, "PATH": ""}, check=True)
    spin = given.get("GOMP_SPINCOUNT", "-" if "OMP_WAIT_POLICY" in given else "10000")
    assert out.stdout.split() == [spin, given.get("OPENBLAS_THREAD_TIMEOUT", "4")]


@pytest.mark.parametrize("given", [{}, {"MALLOC_ARENA_MAX": "2"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}])
def test_the_command_line_keeps_freed_memory_unless_told_how_to_allocate(given):
    """`fastconv ...` has glibc's malloc keep freed memory for the next arrays (no page
    faults on every step), unless the environment sets the allocator; where the C library
    is not glibc there is nothing to set."""
    import platform

    code = "import fastconv.cli as c; print(c.keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**given, "PATH": ""}, check=True)
    expected = not given and platform.libc_ver()[0] == "glibc"
    assert out.stdout.strip() == str(expected)


def test_the_command_line_sets_the_allocator_before_running_a_command(monkeypatch, capsys):
    import fastconv.cli as cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("kept"))
    assert cli.main(["shapes", "--model", "lenet5"]) == 0
    assert calls == ["kept"]


def test_backend_keyword_beats_the_default(monkeypatch):
    import fastconv.kernels.naive as naive

    calls = []
    monkeypatch.setattr(naive, "max_pool2d_forward", lambda *a: calls.append(a) or "naive result")
    x = np.zeros((1, 1, 2, 2))
    with fastconv.use_backend("naive"):
        assert F.max_pool2d(x, 2) == "naive result"
        assert isinstance(F.max_pool2d(x, 2, backend="numpy"), np.ndarray)
    assert len(calls) == 1
