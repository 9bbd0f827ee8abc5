"""Top-k selection by magnitude.

``kth_largest_abs`` is the threshold FIHT's hard thresholding needs every
iteration. ``np.argpartition`` on 2^20 floats costs several FWHTs, so the CPU path
brackets the threshold from a sample spread over x (in short runs, cache-friendly), gathers the few candidates above the
bracket (index and magnitude) in one numba pass over x and selects exactly among
them (falling back to a full partition if the bracket misses). The candidates also
give the kept indices, so ``topk`` and ``hard_threshold`` read x once: O(d) plus
O(k) work. GPU: ``cupy.partition`` / ``cupy.argpartition``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from hpcsketch.kernels._dispatch import Array, array_module, is_cupy
from hpcsketch.kernels._simd import LANES, abs_ge_mask, axpy_abs_ge_mask, threshold_axpy_lanes, threshold_lanes

_JIT = dict(cache=True, fastmath=False, boundscheck=False, nogil=True)
SAMPLE = 1 << 13
_RUN = 64  # consecutive sampled entries (a few cache lines: the prefetcher streams them)
SMALL = 1 << 15


@njit(**_JIT)
def _kept(ibuf, vbuf, cnt, thr, k, out):
    """Of the candidates, the indices with |x| > thr, then ties (== thr) in index order, up to k."""
    c = 0
    for e in range(cnt):
        if vbuf[e] > thr:
            out[c] = ibuf[e]
            c += 1
    if c < k:
        for e in range(cnt):
            if vbuf[e] == thr:
                out[c] = ibuf[e]
                c += 1
                if c == k:
                    break
    return c


@njit(**_JIT)
def _threshold_pass(out, x, a, y, use_y, write_out, t, ibuf, vbuf):
    """u = x + a*y (or x). With write_out: out[i] = u_i where |u_i| >= t, else 0.
    The indices and values u_i of the entries with |u_i| >= t, in index order, into
    ibuf/vbuf; returns their count (counting on past the buffers' length - LANES).

    One vector compare per 16 entries; only blocks with a hit (a few percent of the
    entries pass, so a minority of blocks) run the branch-free compaction.
    """
    n = x.shape[0]
    cap = ibuf.shape[0] - LANES
    cnt = 0
    nb = n - n % LANES
    for i0 in range(0, nb, LANES):
        if write_out:
            if use_y:
                mask = threshold_axpy_lanes(out, x, y, i0, a, t)
            else:
                mask = threshold_lanes(out, x, i0, t)
        elif use_y:
            mask = axpy_abs_ge_mask(x, y, i0, a, t)
        else:
            mask = abs_ge_mask(x, i0, t)
        if mask:
            if cnt <= cap:
                for lane in range(LANES):
                    i = i0 + lane
                    ibuf[cnt] = i
                    vbuf[cnt] = x[i] + a * y[i] if use_y else x[i]
                    cnt += (mask >> lane) & 1
            else:
                for lane in range(LANES):
                    cnt += (mask >> lane) & 1
    for i in range(nb, n):
        v = x[i] + a * y[i] if use_y else x[i]
        keep = abs(v) >= t
        if write_out:
            out[i] = v if keep else 0
        if keep:
            if cnt < cap:
                ibuf[cnt] = i
                vbuf[cnt] = v
            cnt += 1
    return cnt


@njit(**_JIT)
def _keep_candidates(out, ibuf, vbuf, cnt, thr, k, kept, written):
    """Of the candidates (index order), keep those with |u| > thr and the first ties
    (== thr) up to k in all; write their values to out (and, if out already holds
    all candidates, zero the others). Their indices into kept, ascending; returns
    the count."""
    above = 0
    for e in range(cnt):
        above += abs(vbuf[e]) > thr
    ties = k - above
    c = 0
    for e in range(cnt):
        a = abs(vbuf[e])
        if a > thr or (a == thr and ties > 0):
            if a == thr:
                ties -= 1
            kept[c] = ibuf[e]
            out[ibuf[e]] = vbuf[e]
            c += 1
        elif written:
            out[ibuf[e]] = 0
    return c


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


def _check_k(n: int, k: int) -> None:
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")


def _sample(x: np.ndarray, a: Any = None, y: np.ndarray | None = None) -> np.ndarray:
    """|x| (or |x + a*y|) at SAMPLE entries spread evenly over x in runs of _RUN
    consecutive ones: SAMPLE strided entries would cost a cache line each, and the
    arrays are usually out of cache when this runs (2^20 floats: 0.19 -> 0.1 ms)."""
    runs = SAMPLE // _RUN
    stride = x.shape[0] // runs
    xs = x[: stride * runs].reshape(runs, stride)[:, :_RUN]
    if y is not None:
        xs = xs + a * y[: stride * runs].reshape(runs, stride)[:, :_RUN]
    return np.abs(xs).ravel()


def _sample_bracket(sample: np.ndarray, n: int, k: int) -> float | None:
    """A lower bracket for the k-th largest of n magnitudes from a strided sample of them."""
    s = sample.shape[0]
    q = k * s / n
    r = int(q + 4.0 * math.sqrt(q) + 8)  # sample rank with margin: the bracket lies below the k-th
    if r >= s:
        return None
    return np.partition(sample, s - r)[s - r]


def _fast(x: np.ndarray, k: int) -> bool:
    n = x.shape[0]
    return n > SMALL and k < n // 8 and x.dtype in (np.float32, np.float64)


def _buffers(n: int, k: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    cap = min(n, 4 * k + 4096)  # + LANES: slack for the branch-free stores
    return np.empty(cap + LANES, dtype=np.int64), np.empty(cap + LANES, dtype=dtype)


def _bracketed(x: np.ndarray, k: int) -> tuple[float, np.ndarray, np.ndarray] | None:
    """(k-th largest |x_i|, candidate indices, candidate magnitudes) from a sampled
    bracket, or None where the sample cannot bracket (small x, large k, or a miss)."""
    if not _fast(x, k):
        return None
    x = np.ascontiguousarray(x)
    n = x.shape[0]
    t_lo = _sample_bracket(_sample(x), n, k)
    if t_lo is None:
        return None
    ibuf, vbuf = _buffers(n, k, x.dtype)
    cnt = _threshold_pass(x, x, x.dtype.type(0), x, 0, False, t_lo, ibuf, vbuf)  # x is not written
    if not k <= cnt <= ibuf.shape[0] - LANES:
        return None
    mags = np.abs(vbuf[:cnt])
    thr = np.partition(mags, cnt - k)[cnt - k]
    return float(thr), ibuf[:cnt], mags


def _threshold_into(out: np.ndarray, x: np.ndarray, a: float, y: np.ndarray | None, k: int,
                    out_zero: bool) -> np.ndarray | None:
    """out = H_k(x + a*y) (or H_k(x)) in one pass over x (and y) for host vectors;
    returns the kept indices, ascending, or None where the fast path does not apply
    (then out may hold anything). ``out_zero``: out is all zeros already, so only
    the kept entries are written."""
    use_y = y is not None
    arrays = (out, x, y) if use_y else (out, x)
    if not _fast(x, k) or any(not (v.flags.c_contiguous and v.dtype == x.dtype) for v in arrays):
        return None
    if any(np.may_share_memory(out, v) for v in arrays[1:]):
        return None  # a bracket miss would leave nothing to start again from
    n = x.shape[0]
    a = x.dtype.type(a)
    t_lo = _sample_bracket(_sample(x, a, y), n, k)
    if t_lo is None:
        return None
    ibuf, vbuf = _buffers(n, k, x.dtype)
    cnt = _threshold_pass(out, x, a, y if use_y else x, use_y, not out_zero, t_lo, ibuf, vbuf)
    if not k <= cnt <= ibuf.shape[0] - LANES:
        return None
    thr = np.partition(np.abs(vbuf[:cnt]), cnt - k)[cnt - k]
    kept = np.empty(k, dtype=np.int64)
    _keep_candidates(out, ibuf, vbuf, cnt, thr, k, kept, not out_zero)
    return kept


def kth_largest_abs(x: Array, k: int) -> float:
    """The k-th largest ``|x_i|`` of a 1-D array (k in 1..len(x))."""
    n = x.shape[0]
    _check_k(n, k)
    if is_cupy(x):
        import cupy

        return float(cupy.partition(cupy.abs(x), n - k)[n - k])
    found = _bracketed(x, k)
    if found is not None:
        return found[0]
    return float(np.partition(np.abs(x), n - k)[n - k])


def topk(x: Array, k: int) -> Array:
    """Indices (int64) of the k entries of largest magnitude of a 1-D array. CPU order:
    those strictly above the k-th magnitude ascending, then its ties ascending."""
    n = x.shape[0]
    k = min(int(k), n)
    if k <= 0:
        return array_module(x).zeros(0, dtype=np.int64)
    if is_cupy(x):
        import cupy

        return cupy.argpartition(-cupy.abs(x), k - 1)[:k].astype(cupy.int64)
    out = np.empty(k, dtype=np.int64)
    found = _bracketed(x, k)
    if found is not None:
        thr, cand_idx, cand_abs = found
        _kept(cand_idx, cand_abs, cand_abs.shape[0], cand_abs.dtype.type(thr), k, out)
        return out
    thr = x.dtype.type(kth_largest_abs(x, k))
    _indices_ge(x, thr, k, out)
    return out


def hard_threshold(x: Array, k: int, out: Array | None = None) -> Array:
    """H_k(x): x with all but the k largest-magnitude entries set to zero.

    A new array, or written into ``out`` (same shape and dtype; may be ``x`` itself)
    and returned.
    """
    if not is_cupy(x) and x.ndim == 1:
        dst = np.empty_like(x) if out is None else out
        if 1 <= k <= x.shape[0] and _threshold_into(dst, x, 0.0, None, int(k), False) is not None:
            return dst
    idx = topk(x, k)
    vals = x[idx]
    if out is None:
        out = array_module(x).zeros_like(x)
    else:
        out[...] = 0
    out[idx] = vals
    return out


def hard_threshold_support(out: Array, x: Array, k: int, *, a: float = 0.0, y: Array | None = None,
                           out_zero: bool = False) -> Array:
    """``out = H_k(x + a * y)`` (``H_k(x)`` without y; ``x + a * y`` as NumPy computes
    it with a Python float a), without forming ``x + a * y`` on the CPU. Returns the
    kept indices, ascending. ``out_zero=True`` promises that out is all zeros: then
    only the kept entries are written. ``out`` must not overlap x or y."""
    xp = array_module(x)
    k = min(int(k), x.shape[0])
    if k <= 0:
        out[...] = 0
        return xp.zeros(0, dtype=np.int64)
    if not is_cupy(x) and x.ndim == 1:
        kept = _threshold_into(out, x, a, y, int(k), out_zero)
        if kept is not None:
            return kept
    out[...] = x if y is None else x + a * y
    idx = xp.sort(topk(out, k))
    vals = out[idx]
    out[...] = 0
    out[idx] = vals
    return idx
