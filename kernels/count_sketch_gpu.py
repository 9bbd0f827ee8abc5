"""GPU count-sketch accumulation (numba-cuda): hashing fused with atomic adds.

One thread per coordinate (grid-stride loop): it computes the tabulation hashes of
its index j (as ``hashing.buckets_signs``: bucket ``((T_r[lo] ^ U_r[hi]) * c) >> 32``,
sign bit r of ``S0[lo] ^ S1[hi] ^ S2[lo + hi]``) and adds ``s_r(j) x_j`` to
``table[r, h_r(j)]`` with ``cuda.atomic.add``, for every row: no (rows x d) bucket or
sign temporaries, unlike ``cupyx.scatter_add`` on hashed index arrays. Atomic adds
land in any order, so cell sums agree with the CPU kernel up to float rounding.
All hash arithmetic is in int64 (every value is below 2^63), so numba's
unsigned/signed promotion rules cannot turn it into floats.

CI runs it under numba-cuda's simulator (atomics emulated) against the CPU kernel,
and compiles it to PTX and cubin for sm_80 and sm_90.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numba import float32, float64, int64, uint32, void

from hpcsketch.kernels.cuda_launch import device_arg, launch, numba_cuda, simulating

THREADS = 256
MAX_BLOCKS = 4096  # grid-stride beyond this many blocks
# Under numba-cuda's simulator (CI; one Python thread per CUDA thread), more coordinates
# than this go to the CPU kernel on the stand-in's host memory, counted here (the kernel is
# checked at small sizes in tests/gpu). Never on a GPU.
SIM_MAX_ELEMENTS = 1 << 12
SIMULATOR_FALLBACKS = [0]

cuda: Any = None  # numba.cuda (or its simulator), bound by _kernels() or bind()


def _accumulate_py(table, x, idx, use_idx, start, blo, bhi, s0, s1, s2):
    """table[r, h_r(j)] += s_r(j) * x[i] with j = idx[i] (use_idx) or start + i."""
    rows = table.shape[0]
    cols = int64(table.shape[1])
    n = x.shape[0]
    i = int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x
    step = int64(cuda.gridDim.x) * cuda.blockDim.x
    while i < n:
        j = idx[i] if use_idx else start + i
        lo = j & 0xFFFF
        hi = j >> 16
        bits = int64(s0[lo]) ^ int64(s1[hi]) ^ int64(s2[lo + hi])
        v = x[i]
        for r in range(rows):
            hb = int64(blo[r, lo]) ^ int64(bhi[r, hi])
            b = (hb * cols) >> 32
            if (bits >> r) & 1:
                cuda.atomic.add(table, (r, b), -v)
            else:
                cuda.atomic.add(table, (r, b), v)
        i += step


def _sig(dt: Any) -> Any:
    return void(dt[:, ::1], dt[::1], int64[::1], int64, int64, uint32[:, ::1], uint32[:, ::1],
                uint32[::1], uint32[::1], uint32[::1])


KERNELS = (
    ("cs_accumulate_f32", _accumulate_py, _sig(float32)),
    ("cs_accumulate_f64", _accumulate_py, _sig(float64)),
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


def accumulate(table: Any, x: Any, h: Any, start: int = 0, idx: Any = None) -> Any:
    """Add the sketch of ``x`` (coordinates start.., or ``idx``) to the C-contiguous device
    ``table`` (float32/float64; ``x`` is cast to its dtype); the hash tables ``h`` on the device."""
    import cupy

    n = int(x.shape[0])
    if not table.flags.c_contiguous:
        raise ValueError("the count sketch table must be C-contiguous")
    if n == 0:
        return table
    suffix = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}[np.dtype(table.dtype)]
    xv = cupy.ascontiguousarray(x, dtype=table.dtype)
    use_idx = idx is not None
    iv = cupy.ascontiguousarray(idx, dtype=cupy.int64) if use_idx else cupy.zeros(1, dtype=cupy.int64)
    tabs = tuple(cupy.ascontiguousarray(a, dtype=cupy.uint32)
                 for a in (h.bucket_lo, h.bucket_hi, h.sign0, h.sign1, h.sign2))
    if n > SIM_MAX_ELEMENTS and simulating():
        _cpu_fallback(table, xv, h, start, iv if use_idx else None)
        return table
    blocks = min(MAX_BLOCKS, (n + THREADS - 1) // THREADS)
    launch(_kernels()[f"cs_accumulate_{suffix}"], blocks, THREADS,
           (table, xv, iv, np.int64(use_idx), np.int64(start)) + tabs)
    return table


def _cpu_fallback(table: Any, x: Any, h: Any, start: int, idx: Any) -> None:
    from hpcsketch.kernels import _cs_cpu
    from hpcsketch.kernels.hashing import SketchHash, buckets_signs

    SIMULATOR_FALLBACKS[0] += 1
    t = device_arg(table)
    hh = SketchHash(h.rows, *(device_arg(a) for a in (h.bucket_lo, h.bucket_hi, h.sign0, h.sign1, h.sign2)))
    if idx is None:
        _cs_cpu.accumulate(t, device_arg(x), int(start), hh.bucket_lo, hh.bucket_hi, hh.sign0, hh.sign1, hh.sign2)
    else:
        b, s = buckets_signs(hh, device_arg(idx), t.shape[1], t.dtype)
        _cs_cpu.scatter_rows(t, np.ascontiguousarray(b), np.ascontiguousarray(s * device_arg(x)[None, :]))
