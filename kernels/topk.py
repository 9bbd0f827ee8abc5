"""Top-k selection by magnitude.

``kth_largest_abs`` is the threshold FIHT's hard thresholding needs every
iteration. ``np.argpartition`` on 2^20 floats costs several FWHTs, so the CPU path
brackets the threshold from a strided sample, gathers the few candidates above the
bracket in one numba pass and selects exactly among them (falling back to a full
partition if the bracket misses). GPU: ``cupy.partition`` / ``cupy.argpartition``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from hpcsketch.kernels._dispatch import Array, array_module, is_cupy

_JIT = dict(cache=True, fastmath=False, boundscheck=False, nogil=True)
SAMPLE = 1 << 13
SMALL = 1 << 15


@njit(**_JIT)
def _gather_ge(x, t, buf):
    """|x_i| >= t into buf; returns the count (keeps counting past len(buf))."""
    cnt = 0
    cap = buf.shape[0]
    for i in range(x.shape[0]):
        a = abs(x[i])
        if a >= t:
            if cnt < cap:
                buf[cnt] = a
            cnt += 1
    return cnt


@njit(**_JIT)
def _indices_ge(x, thr, k, out):
    """Indices of the k largest |x|: all with |x| > thr, then ties (== thr) in index order."""
    cnt = 0
    for i in range(x.shape[0]):
        if abs(x[i]) > thr:
            out[cnt] = i
            cnt += 1
    if cnt < k:
        for i in range(x.shape[0]):
            if abs(x[i]) == thr:
                out[cnt] = i
                cnt += 1
                if cnt == k:
                    break
    return cnt


def kth_largest_abs(x: Array, k: int) -> float:
    """The k-th largest ``|x_i|`` of a 1-D array (k in 1..len(x))."""
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    if is_cupy(x):
        import cupy

        return float(cupy.partition(cupy.abs(x), n - k)[n - k])
    if n > SMALL and k < n // 8:
        sample = np.abs(x[:: n // SAMPLE])
        s = sample.shape[0]
        q = k * s / n
        r = int(q + 4.0 * math.sqrt(q) + 8)  # sample rank with margin: the bracket lies below the k-th
        if r < s:
            t_lo = np.partition(sample, s - r)[s - r]
            buf = np.empty(min(n, 4 * k + 4096), dtype=x.dtype)
            cnt = _gather_ge(x, t_lo, buf)
            if k <= cnt <= buf.shape[0]:
                return float(np.partition(buf[:cnt], cnt - k)[cnt - k])
    a = np.abs(x)
    return float(np.partition(a, n - k)[n - k])


def topk(x: Array, k: int) -> Array:
    """Indices (int64, ascending on CPU) of the k entries of largest magnitude of a 1-D array."""
    n = x.shape[0]
    k = min(int(k), n)
    if k <= 0:
        return array_module(x).zeros(0, dtype=np.int64)
    if is_cupy(x):
        import cupy

        return cupy.argpartition(-cupy.abs(x), k - 1)[:k].astype(cupy.int64)
    thr = x.dtype.type(kth_largest_abs(x, k))
    out = np.empty(k, dtype=np.int64)
    _indices_ge(x, thr, k, out)
    return out


def hard_threshold(x: Array, k: int) -> Array:
    """H_k(x): a copy of x with all but the k largest-magnitude entries set to zero."""
    out = array_module(x).zeros_like(x)
    idx = topk(x, k)
    out[idx] = x[idx]
    return out
