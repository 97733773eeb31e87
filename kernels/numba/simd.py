"""SIMD vectors in Numba kernels: one AVX register of float32 (8) or float64 (4) numbers.

Numba has no vector type, and LLVM only vectorizes loops that it can prove safe, one
loop at a time: it never keeps a tile of running sums in vector registers across an
outer loop, which is what makes a matrix product fast (BLAS micro-kernels do exactly
that). This module gives kernels a few operations on :class:`Vector` values, each a
few lines of LLVM IR (Numba's ``@intrinsic``), so a kernel can say it itself:

* ``load(row, i)``: the vector ``row[i : i + lanes]`` (unaligned);
* ``store(row, i, v)``: ``row[i : i + lanes] = v``;
* ``splat(row, value)``: ``value`` in every lane (the dtype of ``row``);
* ``broadcast(row, i)``: ``row[i]`` in every lane (one load, no test for a negative i);
* ``fma(a, b, c)``: ``a * b + c`` lane by lane, one fused multiply-add;
* ``lane_sum(v)``: the sum of v's lanes, first to last;
* ``transpose_block(src, dst, i, j)``: ``dst[j:j+lanes, i:i+lanes] = src[i:i+lanes,
  j:j+lanes].T``, a square of lanes x lanes numbers, through registers.

Vectors live in registers as long as a kernel keeps fewer than 16 of them alive. Rows
must be 1-D, C-contiguous NumPy arrays (the matrices of ``transpose_block``: 2-D).
Without the JIT (``NUMBA_DISABLE_JIT=1``) the same names are plain NumPy functions on
small arrays, and with ``NUMBA_BOUNDSCHECK=1`` every load and store checks that it
stays inside its row (or matrix).
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import config
from numba.core.errors import TypingError
from numba.extending import intrinsic, models, overload, register_model

from .jit import helper

#: Bytes in one vector register (AVX, AVX2). LLVM splits wider vectors on older machines.
VECTOR_BYTES = 32


def lanes_of(row):
    """Numbers in one vector of the row's dtype (compiled: a constant, known from the type)."""
    return VECTOR_BYTES // row.itemsize


class Vector(types.Type):
    """The Numba type of one SIMD vector of ``dtype`` numbers."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.lanes = VECTOR_BYTES // (dtype.bitwidth // 8)
        super().__init__(name=f"Vector({dtype} x {self.lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    """A Vector is an LLVM vector value (``<8 x float>``), held in a register."""

    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _check_row(row):
    if not (isinstance(row, types.Array) and row.ndim == 1 and row.layout == "C"
            and isinstance(row.dtype, types.Float)):
        raise TypingError(f"SIMD rows must be 1-D contiguous float arrays, got {row}")


def _address(context, builder, row_type, row, index, index_type, vector):
    """A pointer to the vector that starts at row[index]."""
    data = context.make_array(row_type)(context, builder, row).data
    index = context.cast(builder, index, index_type, types.intp)
    return builder.bitcast(builder.gep(data, [index]), context.get_value_type(vector).as_pointer())


@intrinsic
def _load(typingctx, row, index):
    _check_row(row)
    vector = Vector(row.dtype)

    def codegen(context, builder, sig, args):
        address = _address(context, builder, sig.args[0], args[0], args[1], sig.args[1], vector)
        return builder.load(address, align=row.dtype.bitwidth // 8)

    return vector(row, index), codegen


@intrinsic
def _store(typingctx, row, index, value):
    _check_row(row)

    def codegen(context, builder, sig, args):
        address = _address(context, builder, sig.args[0], args[0], args[1], sig.args[1], sig.args[2])
        builder.store(args[2], address, align=row.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(row, index, value), codegen


def _fill(context, builder, vector, scalar):
    """The vector with ``scalar`` in every lane: insert it in lane 0, then shuffle lane 0
    everywhere (one broadcast instruction)."""
    first = ir.Constant(ir.IntType(32), 0)
    one = builder.insert_element(ir.Constant(context.get_value_type(vector), ir.Undefined), scalar, first)
    everywhere = ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), [0] * vector.lanes)
    return builder.shuffle_vector(one, one, everywhere)


@intrinsic
def _splat(typingctx, row, value):
    _check_row(row)
    vector = Vector(row.dtype)

    def codegen(context, builder, sig, args):
        return _fill(context, builder, vector, context.cast(builder, args[1], sig.args[1], row.dtype))

    return vector(row, value), codegen


@intrinsic
def _broadcast(typingctx, row, index):
    _check_row(row)
    vector = Vector(row.dtype)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        index = context.cast(builder, args[1], sig.args[1], types.intp)
        return _fill(context, builder, vector, builder.load(builder.gep(data, [index])))

    return vector(row, index), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    def codegen(context, builder, sig, args):
        product = builder.fmul(args[0], args[1], flags=("contract",))
        return builder.fadd(product, args[2], flags=("contract",))

    return a(a, b, c), codegen


@intrinsic
def _lane_sum(typingctx, vector):
    if not isinstance(vector, Vector):
        raise TypingError(f"lane_sum adds up the lanes of a Vector, got {vector}")

    def codegen(context, builder, sig, args):
        lane = [ir.Constant(ir.IntType(32), i) for i in range(vector.lanes)]
        total = builder.extract_element(args[0], lane[0])
        for i in lane[1:]:
            total = builder.fadd(total, builder.extract_element(args[0], i))
        return total

    return vector.dtype(vector), codegen


def _block_swaps(lanes):
    """The shuffles that transpose a square of ``lanes`` vectors, stage by stage: at
    distance d (lanes/2, ..., 1), rows i and i + d (i without bit d) swap their
    off-diagonal d x d blocks, which exchanges bit d of the row and the column of every
    element; after all stages, (r, c) is at (c, r). Each stage is one two-vector shuffle
    per row: log2(lanes) * lanes in all (24 for 8 lanes)."""
    stages, d = [], lanes // 2
    while d:
        low = [p if not p & d else lanes + p - d for p in range(lanes)]
        high = [p + d if not p & d else lanes + p for p in range(lanes)]
        stages.append((d, low, high))
        d //= 2
    return stages


@intrinsic
def _transpose_block(typingctx, src, dst, i, j):
    for matrix in (src, dst):
        if not (isinstance(matrix, types.Array) and matrix.ndim == 2 and matrix.layout == "C"
                and isinstance(matrix.dtype, types.Float)):
            raise TypingError(f"transpose_block takes 2-D contiguous float matrices, got {matrix}")
    vector = Vector(src.dtype)

    def row_address(context, builder, matrix_type, matrix, row, column):
        """A vector pointer to matrix[row, column]."""
        array = context.make_array(matrix_type)(context, builder, matrix)
        stride = builder.extract_value(array.strides, 0)
        base = builder.ptrtoint(array.data, ir.IntType(64))
        offset = builder.add(builder.mul(row, stride),
                             builder.mul(column, ir.Constant(ir.IntType(64), vector.dtype.bitwidth // 8)))
        return builder.inttoptr(builder.add(base, offset), context.get_value_type(vector).as_pointer())

    def codegen(context, builder, sig, args):
        src_, dst_, i_, j_ = args
        i_ = context.cast(builder, i_, sig.args[2], types.intp)
        j_ = context.cast(builder, j_, sig.args[3], types.intp)
        align = vector.dtype.bitwidth // 8
        rows = [builder.load(row_address(context, builder, sig.args[0], src_,
                                         builder.add(i_, ir.Constant(ir.IntType(64), r)), j_), align=align)
                for r in range(vector.lanes)]
        for d, low, high in _block_swaps(vector.lanes):
            for r in range(vector.lanes):
                if not r & d:
                    a, b = rows[r], rows[r + d]
                    rows[r] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), low))
                    rows[r + d] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), high))
        for r in range(vector.lanes):
            address = row_address(context, builder, sig.args[1], dst_,
                                  builder.add(j_, ir.Constant(ir.IntType(64), r)), i_)
            builder.store(rows[r], address, align=align)
        return context.get_dummy_value()

    return types.none(src, dst, i, j), codegen


def load(row, index):
    return row[index : index + lanes_of(row)].copy()


def store(row, index, value):
    row[index : index + value.size] = value


def splat(row, value):
    return np.full(lanes_of(row), value, row.dtype)


def broadcast(row, index):
    return splat(row, row[index])


def fma(a, b, c):
    return a * b + c


def lane_sum(vector):
    total = vector[0]
    for value in vector[1:]:
        total += value
    return total


def transpose_block(src, dst, i, j):
    lanes = lanes_of(src)
    dst[j : j + lanes, i : i + lanes] = src[i : i + lanes, j : j + lanes].T


@helper
def _inside(row, index, count):
    if index < 0 or index + count > row.size:
        raise IndexError("SIMD vector out of bounds")


@overload(load)
def _load_impl(row, index):
    count = Vector(row.dtype).lanes
    if config.BOUNDSCHECK:
        def checked(row, index):
            _inside(row, index, count)
            return _load(row, index)
        return checked
    return lambda row, index: _load(row, index)


@overload(store)
def _store_impl(row, index, value):
    count = Vector(row.dtype).lanes
    if config.BOUNDSCHECK:
        def checked(row, index, value):
            _inside(row, index, count)
            _store(row, index, value)
        return checked
    return lambda row, index, value: _store(row, index, value)


@overload(splat)
def _splat_impl(row, value):
    return lambda row, value: _splat(row, value)


@overload(broadcast)
def _broadcast_impl(row, index):
    if config.BOUNDSCHECK:
        def checked(row, index):
            _inside(row, index, 1)
            return _broadcast(row, index)
        return checked
    return lambda row, index: _broadcast(row, index)


@overload(transpose_block)
def _transpose_block_impl(src, dst, i, j):
    count = Vector(src.dtype).lanes
    if config.BOUNDSCHECK:
        def checked(src, dst, i, j):
            if (i < 0 or j < 0 or i + count > src.shape[0] or j + count > src.shape[1]
                    or j + count > dst.shape[0] or i + count > dst.shape[1]):
                raise IndexError("transposed block out of bounds")
            _transpose_block(src, dst, i, j)
        return checked
    return lambda src, dst, i, j: _transpose_block(src, dst, i, j)


@overload(lanes_of)
def _lanes_of_impl(row):
    lanes = Vector(row.dtype).lanes
    return lambda row: lanes


@overload(fma)
def _fma_impl(a, b, c):
    return lambda a, b, c: _fma(a, b, c)


@overload(lane_sum)
def _lane_sum_impl(vector):
    return lambda vector: _lane_sum(vector)
