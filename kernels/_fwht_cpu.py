"""Numba FWHT for the CPU: cache-blocked, hand-vectorised (see ``_simd``).

Layout of one transform of length n = 2^m (m >= 4):

1. *block phase*: for each contiguous block of ``BL`` elements (L1/L2 sized),
   the 4 in-lane stages and every stage with stride < BL, while the block
   stays in cache (radix-16 butterflies across 16-lane vectors: 4 stages per
   load/store of the block).
2. *column phase*: the remaining stages (strides BL .. n/2) are a WHT of length
   R = n/BL down the columns of x viewed as an (R, BL) matrix. Strips of ``L``
   columns are gathered into a small scratch (R x L, L2 sized), transformed
   there and scattered back: one pass over memory for all the remaining stages.

So a large transform costs about two passes over memory plus the arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hpcsketch.kernels._simd import LANES, butterfly_1, butterfly_2, butterfly_3, butterfly_4, wht_256, wht_lanes

_JIT = dict(cache=True, fastmath=True, boundscheck=False, nogil=True)

BLOCK = 1 << 13  # elements transformed in cache in the block phase
SCRATCH_BYTES = 1 << 19  # column-phase scratch target (fits L2)
MAX_ROWS = 1 << 11  # column-phase height; beyond it the block grows (2^26 -> 2^15 blocks)
PAD = LANES  # scratch row padding (elements)


@njit(inline="always", **_JIT)
def _radix(r_left):
    """Stages done by one pass when r_left = span / stride: 4 (radix 16) down to 1."""
    if r_left >= 16:
        return 4
    if r_left >= 8:
        return 3
    if r_left >= 4:
        return 2
    return 1


@njit(inline="always", **_JIT)
def _butterfly(k, x, i, h, zero):
    # k is loop-invariant in every caller, so LLVM unswitches this branch out of the loops
    if k == 4:
        butterfly_4(x, i, h, zero)
    elif k == 3:
        butterfly_3(x, i, h, zero)
    elif k == 2:
        butterfly_2(x, i, h, zero)
    else:
        butterfly_1(x, i, h, zero)


@njit(**_JIT)
def _stages(x, lo, hi, h):
    """Butterflies with strides h, 2h, .. < hi - lo on x[lo:hi] (h >= LANES)."""
    span = hi - lo
    zero = x.dtype.type(0)
    while h < span:
        k = _radix(span // h)
        f = 1 << k
        for b in range(lo, hi, f * h):
            for i in range(b, b + h, LANES):
                _butterfly(k, x, i, h, zero)
        h *= f


@njit(**_JIT)
def _column_stages(s, rows, width, pitch):
    """WHT of length ``rows`` down the columns of ``s`` viewed as rows of ``pitch`` elements
    (the first ``width`` used). pitch != a power of two keeps the 16 rows one radix-16
    butterfly touches out of a single L1 set."""
    hr = 1
    zero = s.dtype.type(0)
    while hr < rows:
        k = _radix(rows // hr)
        f = 1 << k
        for rb in range(0, rows, f * hr):
            for r in range(rb, rb + hr):
                for i in range(r * pitch, r * pitch + width, LANES):
                    _butterfly(k, s, i, hr * pitch, zero)
        hr *= f


@njit(**_JIT)
def _small(x, scale):
    """Plain radix-2 transform for lengths below one vector (n < 16)."""
    n = x.shape[0]
    h = 1
    while h < n:
        for b in range(0, n, 2 * h):
            for i in range(b, b + h):
                a = x[i]
                c = x[i + h]
                x[i] = a + c
                x[i + h] = a - c
        h *= 2
    for i in range(n):
        x[i] *= scale


@njit(**_JIT)
def _fwht_row(x, scale, scratch, block, width):
    """In-place WHT of the contiguous 1-D array x (length a power of two)."""
    n = x.shape[0]
    if n < LANES:
        _small(x, scale)
        return
    bl = min(block, n)
    for lo in range(0, n, bl):
        if bl >= 256:
            for g in range(lo, lo + bl, 256):
                wht_256(x, g, LANES, scale)
            _stages(x, lo, lo + bl, 256)
        else:
            for g in range(lo, lo + bl, LANES):
                wht_lanes(x, g, scale)
            _stages(x, lo, lo + bl, LANES)
    if bl == n:
        return
    rows = n // bl
    pitch = width + PAD
    for c in range(0, bl, width):
        for r in range(rows):
            src = x[r * bl + c: r * bl + c + width]
            dst = scratch[r * pitch: r * pitch + width]
            for i in range(width):
                dst[i] = src[i]
        _column_stages(scratch, rows, width, pitch)
        for r in range(rows):
            src = scratch[r * pitch: r * pitch + width]
            dst = x[r * bl + c: r * bl + c + width]
            for i in range(width):
                dst[i] = src[i]


@njit(**_JIT)
def _fwht_rows(x2, scale, scratch, block, width):
    for r in range(x2.shape[0]):
        _fwht_row(x2[r], scale, scratch, block, width)


def plan(n: int, itemsize: int) -> tuple[int, int, int]:
    """(block, strip width, scratch elements) for a row of length n."""
    block = min(n, BLOCK)
    while n // block > MAX_ROWS:
        block *= 2
    rows = max(1, n // block)
    # strips narrower than 64 elements make the gather miss-bound; wider ones overflow L2
    width = 64
    while width * 2 <= block and rows * width * 2 * itemsize <= SCRATCH_BYTES and width < 256:
        width *= 2
    return block, width, rows * (width + PAD) if block < n else LANES


def fwht_rows_inplace(x2: np.ndarray, scale: float) -> None:
    """Transform every row of the C-contiguous 2-D array ``x2`` in place."""
    n = x2.shape[1]
    block, width, scratch_len = plan(n, x2.dtype.itemsize)
    scratch = np.empty(scratch_len, dtype=x2.dtype)
    _fwht_rows(x2, x2.dtype.type(scale), scratch, block, width)
