"""How this backend compiles its kernels, decided in one place.

Every kernel body is a plain Python function (loops over NumPy arrays, ``prange``
for the parallel loop). The decorators here turn it into compiled code:

* ``parallel=True`` runs each ``prange`` loop on Numba's thread pool, whose size
  follows :func:`numba.set_num_threads`. Every kernel gives each ``prange`` iteration
  its own output elements, so no two threads write one element and the result does
  not depend on the thread count.
* ``cache=True`` keeps the machine code on disk: a kernel compiles once per dtype
  (float32, float64), never per shape, and later processes load it.
* Convolution kernels may contract ``a * b + c`` into one fused multiply-add and
  reassociate sums (what lets LLVM vectorize a dot product). They stay free of
  ``nnan``/``ninf`` so NaN and infinity propagate as in the naive kernels. Pooling
  kernels use no fast-math at all: their NaN tests must not be optimized away.

With ``NUMBA_DISABLE_JIT=1`` the same bodies run under the Python interpreter, which
is the easiest way to step through one.
"""
import numba

CONV_FASTMATH = {"contract", "reassoc"}

#: A parallel convolution kernel.
conv_kernel = numba.njit(parallel=True, cache=True, fastmath=CONV_FASTMATH)
#: A parallel pooling kernel (exact IEEE arithmetic).
pool_kernel = numba.njit(parallel=True, cache=True)
#: A small function that kernels call, inlined into them.
helper = numba.njit(cache=True, inline="always")
prange = numba.prange

#: Sums over the batch (the weight gradient) run as this many groups of images at most,
#: in parallel; each group adds its images in order and the groups are added in order.
#: The groups depend on N alone, so the result does not depend on the thread count.
BATCH_GROUPS = 16


def batch_groups(N: int) -> int:
    """How many groups of images a sum over a batch of N is split into."""
    return max(1, min(N, BATCH_GROUPS))
