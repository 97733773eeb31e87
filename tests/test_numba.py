"""What is specific to the numba backend (its agreement with the naive kernels is
tested with every other backend in test_kernels.py and friends).

* No kernel indexes out of bounds: every op and both conv algorithms run in a fresh
  interpreter with ``NUMBA_BOUNDSCHECK=1``, where an out-of-range index raises
  IndexError instead of reading or writing someone else's memory.
* Results do not depend on the number of threads.
* Kernels compile once per dtype, not once per shape.
* ``algorithm=None`` follows :func:`choose_algorithm`.
"""
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import fastconv.functional as F
from fastconv.backends import available_backends
from fastconv.shapes import conv2d_geometry

pytestmark = pytest.mark.skipif("numba" not in available_backends(), reason="numba backend unavailable")

numba = pytest.importorskip("numba")
NUMBA_BACKEND = pytest.importorskip("fastconv.kernels.numba")
simd = pytest.importorskip("fastconv.kernels.numba.simd")

# Small configurations that touch every border case: padding on all sides, stride
# and dilation > 1, non-square kernels and images, a 1x1 kernel (the copy-free
# im2col path), windows that hang over the bottom/right edge.
CONV_CONFIGS = [
    dict(x=(2, 3, 7, 6), w=(4, 3, 3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
    dict(x=(1, 2, 5, 9), w=(3, 2, 1, 4), stride=(3, 2), padding=(0, 1), dilation=(2, 1)),
    dict(x=(2, 4, 4, 4), w=(2, 4, 1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1)),
    dict(x=(1, 1, 3, 3), w=(1, 1, 3, 3), stride=(1, 1), padding=(2, 2), dilation=(1, 1)),
    # rows wider than a register tile, kernel rows dilated over the padding (which the
    # stride-1 kernels leave out), and padding wider than the kernel (dx crops dy)
    dict(x=(1, 2, 6, 30), w=(3, 2, 3, 2), stride=(1, 1), padding=(2, 1), dilation=(2, 1)),
    dict(x=(1, 1, 5, 5), w=(2, 1, 2, 2), stride=(1, 1), padding=(2, 2), dilation=(1, 1)),
    # no padding: the stride-1 kernels read the images in place, but for the last ones
    dict(x=(3, 2, 5, 20), w=(3, 2, 2, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1)),
    # more output positions than one band of the stride-1 kernels (shifted.BAND)
    dict(x=(1, 2, 40, 40), w=(5, 2, 3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1)),
]
POOL_CONFIGS = [
    dict(x=(2, 3, 7, 6), kernel_size=(3, 2), stride=(2, 1), padding=(1, 1)),
    dict(x=(1, 2, 5, 5), kernel_size=(2, 2), stride=None, padding=(0, 0)),
    dict(x=(1, 1, 4, 7), kernel_size=(3, 3), stride=(2, 3), padding=(1, 0)),
]


def run_everything(dtype):
    """Every op of the backend on every small configuration; returns all outputs."""
    rng = np.random.default_rng(0)
    outputs = []
    for config in CONV_CONFIGS:
        x = rng.standard_normal(config["x"]).astype(dtype)
        w = rng.standard_normal(config["w"]).astype(dtype)
        b = rng.standard_normal(config["w"][0]).astype(dtype)
        args = {k: config[k] for k in ("stride", "padding", "dilation")}
        for algorithm in NUMBA_BACKEND.ALGORITHMS:
            spec = f"numba:{algorithm}"
            y = F.conv2d(x, w, b, **args, backend=spec)
            dy = rng.standard_normal(y.shape).astype(dtype)
            outputs += [y, *F.conv2d_backward(dy, x, w, **args, backend=spec)]
    for config in POOL_CONFIGS:
        x = rng.standard_normal(config["x"]).astype(dtype)
        args = {k: config[k] for k in ("kernel_size", "stride", "padding")}
        for kind in ("max", "avg"):
            y = getattr(F, f"{kind}_pool2d")(x, **args, backend="numba")
            dy = rng.standard_normal(y.shape).astype(dtype)
            outputs += [y, getattr(F, f"{kind}_pool2d_backward")(dy, x, **args, backend="numba")]
    return outputs


def vector_sum(row, count):
    """1 + 2 * (the sum of the first ``count`` SIMD vectors of row), lane by lane."""
    lanes = simd.lanes_of(row)
    total = simd.splat(row, 1.0)
    for i in range(count):
        total = simd.fma(simd.load(row, i * lanes), simd.splat(row, 2.0), total)
    out = np.empty(lanes, row.dtype)
    simd.store(out, 0, total)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_simd_vectors_compute_what_their_numpy_versions_do(dtype):
    """load, store, splat and fma compiled (LLVM vectors) and interpreted (NumPy arrays,
    what NUMBA_DISABLE_JIT runs) agree, from unaligned offsets too."""
    rng = np.random.default_rng(5)
    lanes = simd.VECTOR_BYTES // np.dtype(dtype).itemsize
    row = rng.standard_normal(3 * lanes + 1).astype(dtype)
    expected = 2 * (row[:lanes] + row[lanes:2 * lanes] + row[2 * lanes:3 * lanes]) + 1
    compiled = numba.njit(vector_sum)
    np.testing.assert_allclose(compiled(row, 3), expected, rtol=1e-6)
    np.testing.assert_allclose(vector_sum(row, 3), expected, rtol=1e-6)
    np.testing.assert_allclose(compiled(row[1:], 1), 2 * row[1:lanes + 1] + 1, rtol=1e-6)


def test_simd_rows_must_be_contiguous_float_vectors():
    with pytest.raises(numba.core.errors.TypingError, match="1-D contiguous float"):
        numba.njit(lambda row: simd.load(row, 0))(np.zeros((4, 8)))


def test_no_kernel_indexes_out_of_bounds():
    """Bounds checking is a compile-time switch, so the kernels are compiled in a child
    process, into a cache directory of their own (a cached kernel compiled without the
    checks must not be reused). An index out of range there raises (inside ``prange``
    as a SystemError) and the child exits non-zero."""
    script = textwrap.dedent(
        """
        import numba
        import numpy as np
        from test_numba import run_everything, vector_sum
        assert numba.config.BOUNDSCHECK
        run_everything(np.float64)
        try:  # the SIMD loads check their bounds too
            numba.njit(vector_sum)(np.zeros(9), 3)  # 3 vectors of 4 float64: 12 > 9
            raise SystemExit("a SIMD load past the end of its row went unchecked")
        except IndexError:
            pass
        print("in bounds")
        """
    )
    cache = os.path.join(tempfile.gettempdir(), "fastconv-numba-boundscheck-cache")
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=cache)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=os.path.dirname(__file__),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "in bounds" in result.stdout


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_results_do_not_depend_on_the_thread_count():
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = run_everything(np.float32)
        numba.set_num_threads(2)
        parallel = run_everything(np.float32)
    finally:
        numba.set_num_threads(before)
    for one, two in zip(serial, parallel):
        # Every element is computed by one thread in a fixed order: equal bit for bit.
        np.testing.assert_array_equal(one, two)


def test_kernels_compile_once_per_dtype_not_per_shape():
    run_everything(np.float32)
    run_everything(np.float64)
    from fastconv.kernels.numba import direct, im2col, pool, shifted

    kernels = [getattr(module, name) for module in (direct, im2col, pool, shifted) for name in dir(module)
               if isinstance(getattr(module, name), numba.core.registry.CPUDispatcher)]
    assert kernels
    for kernel in kernels:
        assert len(kernel.signatures) <= 2, (kernel.py_func.__name__, kernel.signatures)


@pytest.mark.parametrize("config", CONV_CONFIGS[:2])
def test_default_algorithm_is_the_chosen_one(config):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(config["x"])
    w = rng.standard_normal(config["w"])
    args = {k: config[k] for k in ("stride", "padding", "dilation")}
    chosen = NUMBA_BACKEND.choose_algorithm(conv2d_geometry(x, w, None, **args))
    assert chosen in NUMBA_BACKEND.ALGORITHMS
    np.testing.assert_array_equal(
        F.conv2d(x, w, **args, backend="numba"), F.conv2d(x, w, **args, backend=f"numba:{chosen}")
    )
