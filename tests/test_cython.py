"""What is specific to the Cython backend: its bounds and its absence.

The generic suite (tests/test_kernels.py and others) checks its values against the
naive kernels. Here the same .pyx sources are compiled again with bounds checking on,
and every op runs through that build on small random shapes: an index out of range
raises IndexError instead of reading or writing past an array. The production build
switches the checks off, which is safe exactly when this test passes.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastconv.functional as F
from fastconv.buffers import poisoned
from fastconv.shapes import conv2d_geometry
from helpers import assert_close, random_conv_case, random_pool_case

SOURCES = Path(__file__).resolve().parents[1] / "kernels" / "cython"
MODULES = ("_im2col", "_pool")
CHECKED_DIRECTIVES = dict(language_level=3, boundscheck=True, wraparound=False, initializedcheck=True)
CASES = 40

cython_kernels = pytest.importorskip("fastconv.kernels.cython")
if cython_kernels.unavailable_reason():
    pytest.skip(cython_kernels.unavailable_reason(), allow_module_level=True)


def build_checked(directory: Path) -> dict:
    """Compile the kernels with bounds checks (unoptimized, to build fast) and import them."""
    cythonize = pytest.importorskip("Cython.Build").cythonize
    from setuptools import Distribution, Extension

    extensions = [
        Extension(
            name,
            [str(SOURCES / f"{name}.pyx")],
            include_dirs=[np.get_include()],
            extra_compile_args=["-O0"],
        )
        for name in MODULES
    ]
    distribution = Distribution({"ext_modules": cythonize(
        extensions, compiler_directives=CHECKED_DIRECTIVES, build_dir=str(directory / "c"), quiet=True
    )})
    command = distribution.get_command_obj("build_ext")
    command.build_lib, command.build_temp = str(directory), str(directory / "temp")
    command.ensure_finalized()
    command.run()
    modules = {}
    for name in MODULES:
        spec = importlib.util.spec_from_file_location(name, command.get_ext_fullpath(name))
        modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[name])
    return modules


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    return build_checked(tmp_path_factory.mktemp("boundscheck"))


@pytest.fixture
def checked_backend(checked, monkeypatch):
    """The cython backend with its compiled modules swapped for the bounds-checked build."""
    import fastconv.kernels.cython.conv as conv
    import fastconv.kernels.cython.pool as pool

    monkeypatch.setattr(conv, "_im2col", checked["_im2col"])
    monkeypatch.setattr(pool, "_pool", checked["_pool"])
    return "cython"


def test_the_checked_build_does_check_bounds(checked):
    x = np.zeros((1, 1, 4, 4))
    g = conv2d_geometry(x, np.zeros((1, 1, 3, 3)))
    too_small = np.zeros((9, 1, g.OH * g.OW - 1))
    with pytest.raises(IndexError):
        checked["_im2col"].im2col(x, too_small, g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_conv2d_indices_stay_in_range(checked_backend, dtype):
    rng = np.random.default_rng(5)
    for _ in range(CASES):
        case = random_conv_case(rng, max_size=7)
        x = rng.standard_normal(case["x_shape"]).astype(dtype)
        w = rng.standard_normal(case["w_shape"]).astype(dtype)
        args = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])
        y = F.conv2d(x, w, **args, backend=checked_backend)
        dy = rng.standard_normal(y.shape).astype(dtype)
        with poisoned():
            grads = F.conv2d_backward(dy, x, w, **args, backend=checked_backend)
        expected = F.conv2d_backward(dy, x, w, **args, backend="naive")
        assert_close(y, F.conv2d(x, w, **args, backend="naive"), dtype, f"y {case}")
        for got, want in zip(grads, expected):
            assert_close(got, want, dtype, f"gradients {case}")


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_pool2d_indices_stay_in_range(checked_backend, kind, dtype):
    forward, backward = getattr(F, f"{kind}_pool2d"), getattr(F, f"{kind}_pool2d_backward")
    rng = np.random.default_rng(6)
    for _ in range(CASES):
        case = random_pool_case(rng, max_size=7)
        x = rng.standard_normal(case["x_shape"]).astype(dtype)
        args = dict(kernel_size=case["kernel"], stride=case["stride"], padding=case["padding"])
        with poisoned():
            y = forward(x, **args, backend=checked_backend)
            dx = backward(np.ones_like(y), x, **args, backend=checked_backend)
        assert_close(y, forward(x, **args, backend="naive"), dtype, f"y {case}")
        assert_close(dx, backward(np.ones_like(y), x, **args, backend="naive"), dtype, f"dx {case}")


def test_without_the_compiled_kernels_fastconv_imports_and_says_why():
    blocked = "fastconv.kernels.cython._im2col"
    script = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "import fastconv, fastconv.functional as F, numpy as np\n"
        "assert 'cython' not in fastconv.available_backends()\n"
        "print(fastconv.unavailable_backends()['cython'])\n"
        "try:\n"
        "    F.max_pool2d(np.zeros((1, 1, 2, 2)), 2, backend='cython')\n"
        "except fastconv.BackendUnavailable as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    reason, refusal = result.stdout.strip().splitlines()
    assert "compiled Cython kernels" in reason and "_im2col" in reason
    assert reason in refusal
