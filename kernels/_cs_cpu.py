"""Numba count-sketch loops (CPU). Hashes as in ``hashing.buckets_signs``, bit for bit.

Indices are walked in runs that share their high 16 bits (so ``U_r[hi]`` and
``S1[hi]`` are loaded once per run) and in chunks of ``CHUNK``: the bucket and
signed-value arrays of a chunk are computed by vectorisable loops, then scattered
by a tight scalar loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, fastmath=True, boundscheck=False, nogil=True)
_S32 = np.uint64(32)
CHUNK = 1024


@njit(**_JIT)
def _run_length(j, remaining):
    return min(remaining, 65536 - (j & 0xFFFF), CHUNK)


@njit(**_JIT)
def _sign_bits(sb, lo0, hi, m, s0, s1, s2):
    s1v = s1[hi]
    for t in range(m):
        sb[t] = s0[lo0 + t] ^ s1v ^ s2[lo0 + t + hi]


@njit(**_JIT)
def _buckets(bk, r, lo0, hi, m, blo, bhi, cc):
    bhr = bhi[r, hi]
    blr = blo[r, lo0:lo0 + m]
    for t in range(m):
        bk[t] = np.int64((np.uint64(blr[t] ^ bhr) * cc) >> _S32)


@njit(**_JIT)
def accumulate(table, x, start, blo, bhi, s0, s1, s2):
    """table[r, h_r(j)] += s_r(j) x[j - start] for j in [start, start + len(x))."""
    rows, c = table.shape
    cc = np.uint64(c)
    n = x.shape[0]
    bk = np.empty(CHUNK, np.int64)
    val = np.empty(CHUNK, table.dtype)
    sb = np.empty(CHUNK, np.uint32)
    i = 0
    while i < n:
        j = start + i
        hi = j >> 16
        lo0 = j & 0xFFFF
        m = _run_length(j, n - i)
        _sign_bits(sb, lo0, hi, m, s0, s1, s2)
        for r in range(rows):
            _buckets(bk, r, lo0, hi, m, blo, bhi, cc)
            ur = np.uint32(r)
            for t in range(m):
                v = x[i + t]
                val[t] = -v if (sb[t] >> ur) & np.uint32(1) else v
            tr = table[r]
            for t in range(m):
                tr[bk[t]] += val[t]
        i += m


@njit(**_JIT)
def _median_small(v, k):
    # insertion sort of v[:k] (k = rows, a handful), then the median
    for a in range(1, k):
        key = v[a]
        b = a - 1
        while b >= 0 and v[b] > key:
            v[b + 1] = v[b]
            b -= 1
        v[b + 1] = key
    if k % 2 == 1:
        return v[k // 2]
    return 0.5 * (v[k // 2 - 1] + v[k // 2])


@njit(**_JIT)
def estimate(out, table, start, median, blo, bhi, s0, s1, s2):
    """out[j - start] = median (or mean) over rows of s_r(j) table[r, h_r(j)]."""
    rows, c = table.shape
    cc = np.uint64(c)
    n = out.shape[0]
    bk = np.empty((rows, CHUNK), np.int64)
    sb = np.empty(CHUNK, np.uint32)
    vals = np.empty(rows, np.float64)
    i = 0
    while i < n:
        j = start + i
        hi = j >> 16
        lo0 = j & 0xFFFF
        m = _run_length(j, n - i)
        _sign_bits(sb, lo0, hi, m, s0, s1, s2)
        for r in range(rows):
            _buckets(bk[r], r, lo0, hi, m, blo, bhi, cc)
        for t in range(m):
            bits = sb[t]
            for r in range(rows):
                e = table[r, bk[r, t]]
                vals[r] = -e if (bits >> np.uint32(r)) & np.uint32(1) else e
            if median:
                out[i + t] = _median_small(vals, rows)
            else:
                out[i + t] = vals.sum() / rows
        i += m


@njit(**_JIT)
def scatter_rows(table, buckets, values):
    """table[r, buckets[r, t]] += values[r, t] (the sparse-vector sketch)."""
    for r in range(buckets.shape[0]):
        tr = table[r]
        br = buckets[r]
        vr = values[r]
        for t in range(br.shape[0]):
            tr[br[t]] += vr[t]
