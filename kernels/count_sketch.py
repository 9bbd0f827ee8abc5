"""Count sketch kernels (csvec semantics) on NumPy and CuPy.

A sketch is an ``(r, c)`` float table; row r has a bucket hash h_r: [d] -> [c] and a
sign hash s_r: [d] -> {+1, -1} (see ``hashing``). ``table[r, h_r(j)] += s_r(j) x_j``.
Sketching is linear, so sketches merge by addition (:func:`cs_merge`).

Estimates of x_j: median over rows of ``s_r(j) table[r, h_r(j)]`` (heavy hitters)
or the mean (the unbiased transpose estimate). L2 estimate:
``sqrt(median_r sum_c table[r, c]^2)``.

CPU: numba loops (``_cs_cpu``). GPU: accumulation by a numba-cuda kernel that
hashes and adds atomically (``count_sketch_gpu``); queries as CuPy array
expressions over the hashes, in chunks to bound the temporary memory.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from hpcsketch.kernels._dispatch import Array, array_module, is_cupy
from hpcsketch.kernels.hashing import MAX_KEY, SketchHash, buckets_signs

GPU_CHUNK = 1 << 22  # indices hashed per GPU step (rows x chunk temporaries)


def _check(table: Array, h: SketchHash, stop: int) -> None:
    if table.ndim != 2 or table.shape[0] != h.rows:
        raise ValueError(f"table must have shape ({h.rows}, c), got {table.shape}")
    if stop > MAX_KEY:
        raise ValueError(f"count sketch indices must be < 2^32, got up to {stop}")


def cs_accumulate(table: Array, x: Array, h: SketchHash, start: int = 0) -> Array:
    """Add the sketch of the dense vector ``x`` (coordinates start .. start+len-1) to ``table``."""
    n = x.shape[0]
    _check(table, h, start + n)
    if is_cupy(table):
        from hpcsketch.kernels.count_sketch_gpu import accumulate

        return accumulate(table, x, h, start)
    from hpcsketch.kernels import _cs_cpu

    _cs_cpu.accumulate(table, np.ascontiguousarray(x, dtype=table.dtype), int(start), *_tables(h))
    return table


def cs_sketch(x: Array, h: SketchHash, cols: int, dtype: Any = np.float32) -> Array:
    """A new ``(rows, cols)`` sketch of the dense vector ``x``."""
    xp = array_module(x)
    return cs_accumulate(xp.zeros((h.rows, cols), dtype=dtype), x, h)


def cs_accumulate_sparse(table: Array, idx: Array, values: Array, h: SketchHash) -> Array:
    """Add the sketch of the sparse vector {idx: values} to ``table`` (FetchSGD's S(D))."""
    if idx.size == 0:
        return table
    _check(table, h, int(idx.max()) + 1)
    if is_cupy(table):
        from hpcsketch.kernels.count_sketch_gpu import accumulate

        return accumulate(table, values, h, idx=idx)
    b, s = buckets_signs(h, idx, table.shape[1], table.dtype)
    vals = s * values.astype(table.dtype)[None, :]
    from hpcsketch.kernels import _cs_cpu

    _cs_cpu.scatter_rows(table, np.ascontiguousarray(b), np.ascontiguousarray(vals))
    return table


def cs_merge(a: Array, b: Array) -> Array:
    """Merge two sketches with the same hashes: element-wise sum (a new table)."""
    if a.shape != b.shape:
        raise ValueError(f"cannot merge sketches of shapes {a.shape} and {b.shape}")
    return a + b


def cs_estimate(table: Array, h: SketchHash, d: int, *, how: str = "median", idx: Array | None = None) -> Array:
    """Estimates of x_j for j in ``idx`` (default: all of 0 .. d-1); ``how`` = median | mean."""
    if how not in ("median", "mean"):
        raise ValueError(f"how must be 'median' or 'mean', got {how!r}")
    xp = array_module(table)
    if idx is None and not is_cupy(table):
        _check(table, h, d)
        from hpcsketch.kernels import _cs_cpu

        out = np.empty(d, dtype=table.dtype)
        _cs_cpu.estimate(out, table, 0, how == "median", _median_network(h.rows), *_tables(h))
        return out
    if idx is None:
        idx = xp.arange(d, dtype=xp.int64)
    out = xp.empty(idx.shape[0], dtype=table.dtype)
    step = GPU_CHUNK if is_cupy(table) else 1 << 18
    rows = xp.arange(h.rows)[:, None]
    for lo in range(0, idx.shape[0], step):
        b, s = buckets_signs(h, idx[lo:lo + step], table.shape[1], table.dtype)
        vals = s * table[rows, b]
        out[lo:lo + step] = xp.median(vals, axis=0) if how == "median" else vals.mean(axis=0)
    return out


def cs_l2_estimate(table: Array) -> float:
    """Estimate of ||x||_2: sqrt of the median over rows of the row's sum of squares."""
    xp = array_module(table)
    return float(xp.sqrt(xp.median((table.astype(xp.float64) ** 2).sum(axis=1))))


def cs_heavy_hitters(table: Array, h: SketchHash, d: int, k: int) -> tuple[Array, Array]:
    """The k coordinates with the largest median estimates by magnitude: (indices, estimates)."""
    from hpcsketch.kernels.topk import topk

    est = cs_estimate(table, h, d, how="median")
    idx = topk(est, k)
    return idx, est[idx]


def cs_zero_cells(table: Array, h: SketchHash, idx: Array) -> Array:
    """Zero the cells that the coordinates ``idx`` hash to, in every row (FetchSGD's code)."""
    if idx.size == 0:
        return table
    xp = array_module(table)
    b, _ = buckets_signs(h, idx, table.shape[1], table.dtype)
    table[xp.arange(h.rows)[:, None], b] = 0
    return table


@functools.lru_cache(maxsize=None)
def _median_network(rows: int) -> np.ndarray:
    from hpcsketch.kernels._cs_cpu import median_network

    return median_network(rows)


def _tables(h: SketchHash) -> tuple[np.ndarray, ...]:
    return (h.bucket_lo, h.bucket_hi, h.sign0, h.sign1, h.sign2)
