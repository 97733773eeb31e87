"""What is specific to the numba backend (its agreement with the naive kernels is
tested with every other backend in test_kernels.py and friends).

* No kernel indexes out of bounds: every op and both conv algorithms run in a fresh
  interpreter with ``NUMBA_BOUNDSCHECK=1``, where an out-of-range index raises
  IndexError instead of reading or writing someone else's memory.
* Results do not depend on the number of threads.
* Kernels compile once per dtype, not once per shape.
* ``algorithm=None`` follows :func:`choose_algorithm`.
* Both layouts of the stride-1 kernels (SIMD lanes along the positions or along the
  filters), and dx spread from dy, agree with the naive kernels, whichever one a shape
  would choose; so do the strided convolutions along the filters (dx phase by phase, or
  spread), which the random cases of test_kernels.py (K <= 4) never reach.
* Max-pool backward zeroes large planes row by row as it scatters, and still sends
  each dy wherever its index says.
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
from helpers import assert_close

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
    # strided, K and C filling the tiles of the lanes along the filters (dx in phases)
    dict(x=(2, 16, 7, 9), w=(16, 16, 3, 2), stride=(2, 3), padding=(1, 1), dilation=(1, 2)),
]
POOL_CONFIGS = [
    dict(x=(2, 3, 7, 6), kernel_size=(3, 2), stride=(2, 1), padding=(1, 1)),
    dict(x=(1, 2, 5, 5), kernel_size=(2, 2), stride=None, padding=(0, 0)),
    dict(x=(1, 1, 4, 7), kernel_size=(3, 3), stride=(2, 3), padding=(1, 0)),
    # planes larger than pool.ROW_BY_ROW_BYTES: max-pool backward zeroes them row by row
    dict(x=(1, 2, 70, 66), kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)),
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
        if args["stride"] == (1, 1):
            outputs += stride_one_layouts(x, w, b, dy, args)
    for config in POOL_CONFIGS:
        x = rng.standard_normal(config["x"]).astype(dtype)
        args = {k: config[k] for k in ("kernel_size", "stride", "padding")}
        for kind in ("max", "avg"):
            y = getattr(F, f"{kind}_pool2d")(x, **args, backend="numba")
            dy = rng.standard_normal(y.shape).astype(dtype)
            outputs += [y, getattr(F, f"{kind}_pool2d_backward")(dy, x, **args, backend="numba")]
    return outputs


LAYOUTS = ("positions", "filters")


def stride_one_layouts(x, w, b, dy, args):
    """y, dx, dw and db of the stride-1 kernels with the lanes along each axis, in
    poisoned buffers."""
    from fastconv.kernels.numba import shifted

    g = conv2d_geometry(x, w, b, **args)
    dy = dy.astype(x.dtype)
    outputs = []
    for along in LAYOUTS:
        y, dx, dw, db = (np.full(shape, np.nan, x.dtype) for shape in (g.output_shape, g.input_shape,
                                                                        g.weight_shape, (g.K,)))
        shifted.forward(x, w, b, y, g, along)
        shifted.input_gradient(dy, w, dx, g, along)
        shifted.parameter_gradients(dy, x, dw, db, g, along)
        outputs += [y, dx, dw, db]
    spread = np.full(g.input_shape, np.nan, x.dtype)
    shifted.input_gradient(dy, w, spread, g, "spread")
    return outputs + [spread]


# Shapes for the stride-1 layouts: K and C beyond one tile of filters (32 float32) and
# not a multiple of it, rows of 14 (two vectors with 2 lanes left over), dilation
STRIDE_ONE_CONFIGS = [
    dict(x=(3, 16, 14, 14), w=(32, 16, 5, 5), padding=(2, 2), dilation=(1, 1)),
    dict(x=(2, 40, 9, 13), w=(36, 40, 3, 2), padding=(1, 0), dilation=(2, 1)),
    dict(x=(2, 5, 11, 11), w=(64, 5, 3, 3), padding=(0, 0), dilation=(1, 1)),
]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", STRIDE_ONE_CONFIGS + [c for c in CONV_CONFIGS if c["stride"] == (1, 1)])
@pytest.mark.parametrize("finite", [True, False])
def test_both_lane_layouts_agree_with_the_naive_kernel(config, dtype, finite):
    """Each layout, forced, on every stride-1 shape, all four outputs, and dx with the
    products of dy spread: random values, or weights with inf and NaN (whose products
    with the padding's zeros are NaN, as in the naive forward; dx multiplies the zeros
    around dy too, so conv.py sends such weights to im2col; spreading dy multiplies no
    zeros of that padding)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(config["x"]).astype(dtype)
    w = rng.standard_normal(config["w"]).astype(dtype)
    b = rng.standard_normal(config["w"][0]).astype(dtype)
    if not finite:
        w[0, 0, 0, -1], w[-1, -1, -1, 0] = np.inf, np.nan
    args = dict(stride=(1, 1), padding=config["padding"], dilation=config["dilation"])
    y = F.conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **args, backend="naive")
    dy = rng.standard_normal(y.shape)
    dx, dw, db = F.conv2d_backward(dy, x.astype(np.float64), w.astype(np.float64), **args, backend="naive")
    outputs = stride_one_layouts(x, w, b, dy, args)
    for along, (got_y, got_dx, got_dw, got_db) in zip(LAYOUTS, (outputs[:4], outputs[4:8])):
        assert_close(got_y, y, dtype, f"forward, lanes along the {along}")
        if finite:
            assert_close(got_dx, dx, dtype, f"dx, lanes along the {along}")
        assert_close(got_dw, dw, dtype, f"dw, lanes along the {along}")
        assert_close(got_db, db, dtype, f"db, lanes along the {along}")
    assert_close(outputs[8], dx, dtype, "dx, the products of dy spread")  # exact with inf too


# Strided shapes whose K and C fill the tiles along the filters (16: narrow tiles, 32 and
# 40: wide ones): strides and dilations that make phases with 1, 2 or no kernel rows,
# dy padded on one side only, a 1x1 kernel, and padding wider than the kernel, where no
# tap reaches x's only row (dx is zero); then layers where only K (forward and dw) or
# only C (dx) fills them, and the other passes run in the strided loops of direct.py.
STRIDED_CONFIGS = [
    dict(x=(2, 32, 9, 11), w=(40, 32, 3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1)),
    dict(x=(3, 16, 13, 8), w=(32, 16, 5, 2), stride=(3, 2), padding=(2, 0), dilation=(2, 1)),
    dict(x=(1, 40, 10, 10), w=(16, 40, 4, 4), stride=(2, 3), padding=(3, 1), dilation=(1, 2)),
    dict(x=(2, 16, 8, 7), w=(32, 16, 1, 1), stride=(2, 2), padding=(0, 0), dilation=(1, 1)),
    dict(x=(2, 16, 1, 5), w=(16, 16, 1, 1), stride=(2, 1), padding=(1, 0), dilation=(1, 1)),
    dict(x=(2, 3, 9, 10), w=(32, 3, 3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1)),
    dict(x=(2, 32, 9, 10), w=(3, 32, 3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", STRIDED_CONFIGS)
def test_strided_convolutions_along_the_filters_agree_with_the_naive_kernel(config, dtype):
    """numba:direct on strided shapes that it sends (in part) to the lanes along the
    filters: y, dx (phase by phase, or spread from dy for a 1x1 kernel), dw and db in
    poisoned buffers, against naive float64 sums; and dx spread from dy, forced."""
    from fastconv.buffers import poisoned
    from fastconv.kernels.numba import direct, shifted

    rng = np.random.default_rng(5)
    x64, w64 = rng.standard_normal(config["x"]), rng.standard_normal(config["w"])
    b64 = rng.standard_normal(config["w"][0])
    args = {k: config[k] for k in ("stride", "padding", "dilation")}
    g = conv2d_geometry(x64, w64, b64, **args)
    lanes = simd.VECTOR_BYTES // np.dtype(dtype).itemsize
    assert direct._on_planes(g, g.K, lanes) or direct._on_planes(g, g.C, lanes)
    y = F.conv2d(x64, w64, b64, **args, backend="naive")
    dy64 = rng.standard_normal(y.shape)
    expected = F.conv2d_backward(dy64, x64, w64, **args, backend="naive")
    x, w, b, dy = (a.astype(dtype) for a in (x64, w64, b64, dy64))
    with poisoned():
        got_y = F.conv2d(x, w, b, **args, backend="numba:direct")
        got = F.conv2d_backward(dy, x, w, **args, backend="numba:direct")
    assert_close(got_y, y, dtype, "forward")
    for name, actual, wanted in zip(("dx", "dw", "db"), got, expected):
        assert_close(actual, wanted, dtype, name)
    spread = np.full(g.input_shape, np.nan, dtype)
    shifted.input_gradient(dy, w, spread, g, "spread")
    assert_close(spread, expected[0], dtype, "dx, the products of dy spread")
    if config["x"][2] == 1:
        assert not expected[0].any()


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.inf, np.nan])
@pytest.mark.parametrize("stride", [(1, 1), (2, 1)])
def test_weight_gradient_skips_the_padding_only_where_dy_is_finite(bad, stride):
    """Along the filters, dw leaves out the output rows whose taps read padding rows:
    their products are 0 * dy, exactly zero for a finite dy alone. One image's dy holds
    inf or NaN: dw must be NaN where the naive sums are (0 * inf is NaN there too)."""
    from fastconv.kernels.numba import shifted

    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((3, 4, 7, 7)), rng.standard_normal((8, 4, 3, 3))
    args = dict(stride=stride, padding=(2, 1), dilation=(1, 1))
    g = conv2d_geometry(x, w, None, **args)
    dy = rng.standard_normal(g.output_shape)
    dy[1, 2, 0, 0] = bad
    _, expected, expected_db = F.conv2d_backward(dy, x, w, **args, backend="naive")
    dw, db = np.full(g.weight_shape, 0.5), np.full(g.K, 0.5)
    shifted.parameter_gradients(dy, x, dw, db, g, "filters")
    np.testing.assert_array_equal(np.isnan(dw), np.isnan(expected))
    assert np.isnan(expected).any() and not np.isnan(expected).all()
    assert_close(np.nan_to_num(dw), np.nan_to_num(expected), np.float64, "dw")
    assert_close(np.nan_to_num(db), np.nan_to_num(expected_db), np.float64, "db")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("row_by_row", [True, False], ids=["row_by_row", "whole_planes"])
def test_max_pool_backward_scatters_to_any_position_in_the_plane(monkeypatch, dtype, row_by_row):
    """dx zeroed row by row as the scatter goes (every plane, forced), or whole planes
    first, agrees with the naive kernel: from the forward's indices, and from positions
    anywhere in the plane (as PyTorch on the CPU), ahead of the zeroed rows too. A
    position outside the plane is refused, and nothing is written there."""
    from fastconv.buffers import poisoned
    from fastconv.kernels.numba import pool
    from helpers import random_pool_case

    monkeypatch.setattr(pool, "ROW_BY_ROW_BYTES", 0 if row_by_row else 1 << 40)
    rng = np.random.default_rng(5)
    for seed in range(40):
        case = random_pool_case(rng)
        args = dict(kernel_size=case["kernel"], stride=case["stride"], padding=case["padding"])
        x = rng.standard_normal(case["x_shape"]).astype(dtype)
        y, winners = F.max_pool2d(x, **args, return_indices=True, backend="naive")
        dy = rng.standard_normal(y.shape).astype(dtype)
        anywhere = rng.integers(0, x.shape[2] * x.shape[3], size=y.shape)
        for indices in (winners, anywhere):
            expected = F.max_pool2d_backward(dy, x, **args, indices=indices, backend="naive")
            with poisoned():
                dx = F.max_pool2d_backward(dy, x, **args, indices=indices, backend="numba")
            assert_close(dx, expected, dtype, f"case {seed}: x {x.shape} {args}")
        anywhere.flat[-1] = -1
        with pytest.raises(ValueError, match=r"indices must be positions h \* W \+ w in an input plane"):
            F.max_pool2d_backward(dy, x, **args, indices=anywhere, backend="numba")


def test_lanes_go_along_the_filters_where_rows_waste_them():
    """mnist_c2 (rows of 14: 16 lanes each), its dx (K = 16, in narrow tiles), lenet_c2
    (rows of 10) and keras_c2 (K = 64) take the filters; resnet_3x3 (rows of 56) and
    lenet_c2's dx (6 filters in tiles of 16) the positions. (For the forward and dx; dw
    compares the same counts of products in shifted.parameter_gradients.)"""
    from fastconv.kernels.numba import filter_lanes, shifted

    lanes = 8  # float32
    assert shifted._layout(14, 14, 18, lanes, 32, 5, 1, 16 * 5, 2, 16) == "filters"
    assert shifted._layout(14, 14, 18, lanes, 16, 5, 1, 32 * 5, 2, 16) == "filters"
    assert shifted._layout(10, 10, 14, lanes, 16, 5, 1, 6 * 5, 0, 14) == "filters"
    assert shifted._layout(11, 11, 13, lanes, 64, 3, 1, 32 * 3, 0, 13) == "filters"
    assert shifted._layout(56, 56, 58, lanes, 64, 3, 1, 64 * 3, 1, 57) == "positions"
    assert shifted._layout(14, 14, 18, lanes, 6, 5, 1, 16 * 5, 4, 14) == "positions"
    narrow = (filter_lanes.NARROW_POSITIONS, filter_lanes.NARROW_VECTORS)
    wide = (filter_lanes.TILE_POSITIONS, filter_lanes.FILTER_VECTORS)
    assert [filter_lanes.tile_shape(K, lanes) for K in (16, 32, 36, 64)] == [narrow, wide, narrow, wide]


def vector_sum(row, count):
    """1 + 2 * (the sum of the first ``count`` SIMD vectors of row), lane by lane."""
    lanes = simd.lanes_of(row)
    total = simd.splat(row, 1.0)
    for i in range(count):
        total = simd.fma(simd.load(row, i * lanes), simd.splat(row, 2.0), total)
    out = np.empty(lanes, row.dtype)
    simd.store(out, 0, total)
    return out


def spread(row, i):
    """row[i] in every lane of a vector, stored."""
    out = np.empty(simd.lanes_of(row), row.dtype)
    simd.store(out, 0, simd.broadcast(row, i))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_simd_vectors_compute_what_their_numpy_versions_do(dtype):
    """load, store, splat, broadcast and fma compiled (LLVM vectors) and interpreted (NumPy arrays,
    what NUMBA_DISABLE_JIT runs) agree, from unaligned offsets too."""
    rng = np.random.default_rng(5)
    lanes = simd.VECTOR_BYTES // np.dtype(dtype).itemsize
    row = rng.standard_normal(3 * lanes + 1).astype(dtype)
    expected = 2 * (row[:lanes] + row[lanes:2 * lanes] + row[2 * lanes:3 * lanes]) + 1
    compiled = numba.njit(vector_sum)
    np.testing.assert_allclose(compiled(row, 3), expected, rtol=1e-6)
    np.testing.assert_allclose(vector_sum(row, 3), expected, rtol=1e-6)
    np.testing.assert_allclose(compiled(row[1:], 1), 2 * row[1:lanes + 1] + 1, rtol=1e-6)
    for i in (0, 3 * lanes):
        np.testing.assert_array_equal(numba.njit(spread)(row, i), np.full(lanes, row[i]))
        np.testing.assert_array_equal(spread(row, i), np.full(lanes, row[i]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, columns", [(8, 8), (19, 13), (3, 21), (16, 5)])
def test_transpose_moves_every_number_once(dtype, rows, columns):
    """filter_lanes.transpose (register squares inside, the edges one by one), compiled
    and interpreted, into a poisoned destination larger than the transposed part."""
    from fastconv.kernels.numba import filter_lanes

    src = np.arange(20 * 24, dtype=dtype).reshape(20, 24)
    expected = np.full((24, 20), np.nan, dtype)
    expected[:columns, :rows] = src[:rows, :columns].T
    for transpose in (numba.njit(filter_lanes.transpose.py_func), filter_lanes.transpose.py_func):
        dst = np.full((24, 20), np.nan, dtype)
        transpose(src, dst, rows, columns)
        np.testing.assert_array_equal(dst, expected)


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
        from test_numba import run_everything, spread, vector_sum
        assert numba.config.BOUNDSCHECK
        run_everything(np.float64)
        try:  # the SIMD loads check their bounds too
            numba.njit(vector_sum)(np.zeros(9), 3)  # 3 vectors of 4 float64: 12 > 9
            raise SystemExit("a SIMD load past the end of its row went unchecked")
        except IndexError:
            pass
        try:
            numba.njit(spread)(np.zeros(9), 9)
            raise SystemExit("a SIMD broadcast past the end of its row went unchecked")
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
    from fastconv.kernels.numba import direct, filter_lanes, im2col, pool, shifted

    kernels = [getattr(module, name) for module in (direct, filter_lanes, im2col, pool, shifted)
               for name in dir(module)
               if isinstance(getattr(module, name), numba.core.registry.CPUDispatcher)]
    assert kernels
    for kernel in kernels:
        assert len(kernel.signatures) <= 2, (kernel.py_func.__name__, kernel.signatures)


def test_every_kernel_wakes_its_threads_once():
    """A parallel kernel runs one parallel region per call, its ``prange`` loop: Numba
    turns an array expression outside that loop (``offset.max()``) into a parallel
    region of its own, and each one forks and joins the threads again (35-50 us where
    idle threads sleep: lenet_c2 took 0.24 ms instead of 0.19 on two threads). Cached
    kernels keep no record of their regions, so each is compiled afresh here, for one
    signature."""
    from fastconv.kernels.numba import direct, filter_lanes, im2col, pool, shifted

    run_everything(np.float32)
    kernels = [getattr(module, name) for module in (direct, filter_lanes, im2col, pool, shifted)
               for name in dir(module)
               if isinstance(getattr(module, name), numba.core.registry.CPUDispatcher)
               and getattr(module, name).targetoptions.get("parallel")]
    assert len(kernels) >= 15
    for kernel in kernels:
        options = {k: v for k, v in kernel.targetoptions.items() if k not in ("cache", "nopython")}
        fresh = numba.njit(**options)(kernel.py_func)
        signature = kernel.signatures[0]
        fresh.compile(signature)
        regions = fresh.get_metadata(signature)["parfor_diagnostics"]
        nested = {i for inner in regions.nested_fusion_info.values() for i in inner}
        outer = [loop.loc.line for loop in regions.get_parfors() if loop.id not in nested]
        assert len(outer) == 1, (kernel.py_func.__name__, outer)


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
