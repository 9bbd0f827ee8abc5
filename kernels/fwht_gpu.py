"""GPU FWHT kernels (numba-cuda), launched on CuPy arrays by :func:`hpcsketch.kernels.fwht.fwht`.

The one source of the GPU FWHT (the CUDA C ``cuda/fwht.cu`` it replaces is gone).
Rows of length n (a power of two) are concatenated in a flat array; since every
stride h < n divides n, the butterfly index formulas never cross a row:

* ``fwht_shared``: one CUDA block transforms ``block = min(n, SHARED_BLOCK)``
  consecutive elements in shared memory, all strides 1 .. block/2, scaling on load;
* ``fwht_radix4`` / ``fwht_radix2``: the strides >= block, two stages per global
  pass while two remain, then one.

CI runs these kernels under numba-cuda's simulator against the CPU FWHT (small
sizes; ``SHARED_BLOCK`` is lowered there so that the global stages run too) and
compiles them to PTX and cubin for sm_80 and sm_90 (``hpcsketch.testing.cuda_compile``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numba import float32, float64, int32, int64, void

from hpcsketch.kernels.cuda_launch import device_arg, launch, numba_cuda, simulating

SHARED_BLOCK = 1 << 12  # elements per shared-memory block (16 KiB of float32, 32 KiB of float64)
THREADS = 512  # threads per block of the shared pass
GLOBAL_THREADS = 256
# Under numba-cuda's simulator (CI), one Python thread per CUDA thread: a transform of more
# elements than this runs the CPU FWHT on the stand-in's host memory instead, counted in
# SIMULATOR_FALLBACKS (the kernels themselves are checked on every stage pattern at small
# sizes in tests/gpu). Never on a GPU.
SIM_MAX_ELEMENTS = 1 << 11
SIMULATOR_FALLBACKS = [0]

cuda: Any = None  # numba.cuda (or its simulator), bound by _kernels() or bind()


def _shared_py(dtype: Any) -> Any:
    """The shared-memory pass for one dtype (a kernel's shared array needs a constant dtype: one
    kernel per dtype, one source): every stride inside a block of ``block`` elements."""

    def kernel(x, block, scale):
        s = cuda.shared.array(0, dtype=dtype)
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        base = int64(cuda.blockIdx.x) * block
        for i in range(tid, block, nt):
            s[i] = x[base + i] * scale
        cuda.syncthreads()
        h = 1
        while h < block:  # all strides inside the block
            for t in range(tid, block // 2, nt):
                i = (t // h) * 2 * h + (t % h)
                a = s[i]
                b = s[i + h]
                s[i] = a + b
                s[i + h] = a - b
            cuda.syncthreads()
            h *= 2
        for i in range(tid, block, nt):
            x[base + i] = s[i]

    return kernel


_shared_f32_py = _shared_py(float32)
_shared_f64_py = _shared_py(float64)


def _radix2_py(x, h, work):
    """One stage of stride h: ``work`` = total / 2 butterflies, one per thread."""
    t = int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x
    if t >= work:
        return
    i = (t // h) * 2 * h + (t % h)
    a = x[i]
    b = x[i + h]
    x[i] = a + b
    x[i + h] = a - b


def _radix4_py(x, h, work):
    """Stages of strides h and 2h: ``work`` = total / 4 groups of four, one per thread."""
    t = int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x
    if t >= work:
        return
    i = (t // h) * 4 * h + (t % h)
    a = x[i]
    b = x[i + h]
    c = x[i + 2 * h]
    d = x[i + 3 * h]
    s0 = a + b
    s1 = a - b
    s2 = c + d
    s3 = c - d
    x[i] = s0 + s2
    x[i + h] = s1 + s3
    x[i + 2 * h] = s0 - s2
    x[i + 3 * h] = s1 - s3


# (name, python function, signature): what runs, and what CI compiles for sm_80 / sm_90
KERNELS = (
    ("fwht_shared_f32", _shared_f32_py, void(float32[::1], int32, float32)),
    ("fwht_shared_f64", _shared_f64_py, void(float64[::1], int32, float64)),
    ("fwht_radix2_f32", _radix2_py, void(float32[::1], int64, int64)),
    ("fwht_radix2_f64", _radix2_py, void(float64[::1], int64, int64)),
    ("fwht_radix4_f32", _radix4_py, void(float32[::1], int64, int64)),
    ("fwht_radix4_f64", _radix4_py, void(float64[::1], int64, int64)),
)


@functools.lru_cache(maxsize=None)
def _kernels() -> dict[str, Any]:
    global cuda
    cuda = numba_cuda()
    return {name: cuda.jit(sig)(fn) for name, fn, sig in KERNELS}


def bind(cuda_module: Any) -> None:
    """Bind the kernels' globals to ``cuda_module`` (for compiling them without launching)."""
    global cuda
    cuda = cuda_module


def fwht_rows(rows: Any, scale: float) -> None:
    """In-place FWHT of every row of a C-contiguous ``(rows, n)`` float32/float64 device array
    (n a power of two), scaled by ``scale``."""
    nrows, n = rows.shape
    total = nrows * n
    if total == 0:
        return
    suffix = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}[np.dtype(rows.dtype)]
    k = _kernels()
    flat = rows.reshape(-1)
    if total > SIM_MAX_ELEMENTS and simulating():
        from hpcsketch.kernels._fwht_cpu import fwht_rows_inplace

        SIMULATOR_FALLBACKS[0] += 1
        fwht_rows_inplace(device_arg(flat).reshape(nrows, n), scale)
        return
    block = min(n, SHARED_BLOCK)
    threads = max(1, min(THREADS, block // 2))
    launch(k[f"fwht_shared_{suffix}"], total // block, threads,
           (flat, np.int32(block), rows.dtype.type(scale)), shared_mem=block * rows.dtype.itemsize)
    h = block
    while h < n:  # strides >= block: radix 4 while two stages remain
        if 4 * h <= n:
            work = total // 4
            launch(k[f"fwht_radix4_{suffix}"], (work + GLOBAL_THREADS - 1) // GLOBAL_THREADS, GLOBAL_THREADS,
                   (flat, np.int64(h), np.int64(work)))
            h *= 4
        else:
            work = total // 2
            launch(k[f"fwht_radix2_{suffix}"], (work + GLOBAL_THREADS - 1) // GLOBAL_THREADS, GLOBAL_THREADS,
                   (flat, np.int64(h), np.int64(work)))
            h *= 2
