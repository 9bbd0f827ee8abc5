"""Numba count-sketch loops (CPU). Hashes as in ``hashing.buckets_signs``, bit for bit.

Indices are walked in chunks of at most ``CHUNK`` that share their high 16 bits
(so ``U_r[hi]`` and ``S1[hi]`` are loaded once per chunk). Per chunk the buckets
and signed values are computed by SIMD loops into small L1 buffers, and a tight
scalar loop scatters them. Loops run over slices from 0 and index with unsigned
integers: numba adds a negative-index wraparound check to every other index,
which costs more than the scatter itself.

The accumulate runs row by row over the whole vector: the scatter then touches
one row of the table (c floats) instead of all r, which at c ~ d/50 is the
difference between an L2- and an L3-resident working set (half the time at
d = 2^24, 5 rows), for the price of reading x once per row. Each cell still
receives its terms in increasing j, so the sums are bitwise those of a plain loop.

The estimate gathers ``s_r(j) table[r, h_r(j)]`` row by row into an (rows, chunk)
buffer and takes the median over rows with a sorting network pruned to the middle
outputs (min/max on whole buffer rows, so SIMD across coordinates): no per
coordinate sort.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, fastmath=True, boundscheck=False, nogil=True)
_S32 = np.uint64(32)
CHUNK = 1024


@njit(**_JIT)
def _chunk_length(j, remaining):
    return min(remaining, 65536 - (j & 0xFFFF), CHUNK)


@njit(**_JIT)
def _sign_bits(sb, j, m, s0, s1, s2):
    """sb[t] = the sign bits (bit r: row r) of index j + t, for t < m (one 16-bit run)."""
    hi = j >> 16
    lo0 = j & 0xFFFF
    s1v = s1[hi]
    a = s0[lo0:lo0 + m]
    b = s2[lo0 + hi:lo0 + hi + m]
    for t in range(m):
        sb[t] = a[t] ^ s1v ^ b[t]


@njit(**_JIT)
def _buckets(bk, r, j, m, blo, bhi, cc):
    """bk[t] = h_r(j + t) as uint32, for t < m (one 16-bit run)."""
    hi = j >> 16
    lo0 = j & 0xFFFF
    bhr = bhi[r, hi]
    blr = blo[r, lo0:lo0 + m]
    for t in range(m):
        bk[t] = np.uint32((np.uint64(blr[t] ^ bhr) * cc) >> _S32)


@njit(**_JIT)
def _signed(val, x, sb, r, m):
    """val[t] = s_r * x[t]: -x[t] where bit r of sb[t] is set (an exact sign flip)."""
    ur = np.uint32(r)
    for t in range(m):
        v = x[t]
        val[t] = -v if (sb[t] >> ur) & np.uint32(1) else v


@njit(**_JIT)
def _row_signed(val, x, j, m, r, s0, s1, s2):
    """val[t] = s_r(j + t) * x[t] for t < m (one 16-bit run), the sign bit of row r only."""
    hi = j >> 16
    lo0 = j & 0xFFFF
    s1v = s1[hi]
    a = s0[lo0:lo0 + m]
    b = s2[lo0 + hi:lo0 + hi + m]
    ur = np.uint32(r)
    for t in range(m):
        v = x[t]
        val[t] = -v if ((a[t] ^ s1v ^ b[t]) >> ur) & np.uint32(1) else v


@njit(**_JIT)
def accumulate(table, x, start, blo, bhi, s0, s1, s2):
    """table[r, h_r(j)] += s_r(j) x[j - start] for j in [start, start + len(x)).

    Every cell receives its terms in increasing j, as in a plain loop over j.
    """
    rows, c = table.shape
    cc = np.uint64(c)
    n = x.shape[0]
    bk = np.empty(CHUNK, np.uint32)
    val = np.empty(CHUNK, table.dtype)
    for r in range(rows):
        tr = table[r]
        i = 0
        while i < n:
            j = start + i
            m = _chunk_length(j, n - i)
            _buckets(bk, r, j, m, blo, bhi, cc)
            _row_signed(val, x[i:i + m], j, m, r, s0, s1, s2)
            for t in range(m):
                tr[bk[t]] += val[t]
            i += m


def median_network(k: int) -> np.ndarray:
    """Comparators (i, j), i < j, of a sorting network on k wires (Batcher's odd-even
    merge sort), pruned to those the middle output(s) depend on: after applying
    them in order (wire i gets the min, wire j the max), wire k//2 holds the median
    for odd k, wires k//2 - 1 and k//2 the two middle values for even k."""
    size = 1
    while size < k:
        size *= 2
    net: list[tuple[int, int]] = []
    p = 1
    while p < size:
        q = p
        while q >= 1:
            for jj in range(q % p, size - q, 2 * q):
                for i in range(min(q, size - jj - q)):
                    a, b = i + jj, i + jj + q
                    if a // (2 * p) == b // (2 * p) and b < k:  # wires >= k hold +inf: no-ops
                        net.append((a, b))
            q //= 2
        p *= 2
    needed = {k // 2} if k % 2 else {k // 2 - 1, k // 2}
    kept: list[tuple[int, int]] = []
    for a, b in reversed(net):
        if a in needed or b in needed:
            kept.append((a, b))
            needed |= {a, b}
    kept.reverse()
    return np.array(kept, dtype=np.int64).reshape(-1, 2)


@njit(**_JIT)
def _select_middle(v, net, m):
    """Apply the comparators of ``net`` to the columns 0..m-1 of v (rows = wires)."""
    for e in range(net.shape[0]):
        lo = v[net[e, 0]]
        hi = v[net[e, 1]]
        for t in range(m):
            a = lo[t]
            b = hi[t]
            lo[t] = min(a, b)
            hi[t] = max(a, b)


@njit(**_JIT)
def estimate(out, table, start, median, net, blo, bhi, s0, s1, s2):
    """out[j - start] = median (or mean) over rows of s_r(j) table[r, h_r(j)].

    The median of an even number of rows is the mean of the two middle values and,
    like the mean, is computed in float64 before rounding to out's dtype.
    """
    rows, c = table.shape
    cc = np.uint64(c)
    n = out.shape[0]
    bk = np.empty(CHUNK, np.uint32)
    sb = np.empty(CHUNK, np.uint32)
    v = np.empty((rows, CHUNK), table.dtype)
    acc = np.empty(CHUNK, np.float64)
    mid = rows // 2
    i = 0
    while i < n:
        j = start + i
        m = _chunk_length(j, n - i)
        _sign_bits(sb, j, m, s0, s1, s2)
        for r in range(rows):
            _buckets(bk, r, j, m, blo, bhi, cc)
            tr = table[r]
            vr = v[r]
            for t in range(m):
                vr[t] = tr[bk[t]]
            _signed(vr, vr, sb, r, m)
        oc = out[i:i + m]
        if median:
            _select_middle(v, net, m)
            if rows % 2:
                vm = v[mid]
                for t in range(m):
                    oc[t] = vm[t]
            else:
                va = v[mid - 1]
                vb = v[mid]
                for t in range(m):
                    oc[t] = 0.5 * (np.float64(va[t]) + np.float64(vb[t]))
        else:
            for t in range(m):  # summed row by row, in row order
                acc[t] = v[0, t]
            for r in range(1, rows):
                vr = v[r]
                for t in range(m):
                    acc[t] += vr[t]
            for t in range(m):
                oc[t] = acc[t] / rows
        i += m


@njit(**_JIT)
def scatter_rows(table, buckets, values):
    """table[r, buckets[r, t]] += values[r, t] (the sparse-vector sketch)."""
    for r in range(buckets.shape[0]):
        tr = table[r]
        br = buckets[r]
        vr = values[r]
        for t in range(br.shape[0]):
            tr[np.uint64(br[t])] += vr[t]
