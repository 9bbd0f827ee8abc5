"""Fused vector updates for iterative recovery (FIHT), written into preallocated arrays.

Each is one pass over memory on the CPU (numba) instead of a chain of NumPy
temporaries, and gives the same bits as the NumPy expression in its docstring
(scalars are cast to the arrays' dtype, as NumPy does with a Python float; no
fused multiply-add). On CuPy the expression itself runs. ``out`` may be one of
the inputs. The ``*_at`` variants touch only the entries at ``idx`` (sparse
vectors kept dense, with their support as an index list: O(k), not O(d)).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hpcsketch.kernels._dispatch import Array, array_module, is_cupy, weak_scalar
from hpcsketch.kernels._simd import prefetch

_JIT = dict(cache=True, fastmath=False, boundscheck=False, nogil=True)
# the reductions may reorder their (float64) sums, nothing else: elementwise results stay exact
_JIT_SUM = dict(_JIT, fastmath={"reassoc", "nsz"})
AHEAD = 16  # the sparse loops prefetch the entry this many indices ahead (irregular strides defeat the hardware)


@njit(inline="always", **_JIT)
def _ahead(idx, e):
    """The index AHEAD entries after e (the last one near the end): what to prefetch."""
    return idx[min(e + AHEAD, idx.shape[0] - 1)]


@njit(**_JIT)
def _axpy(out, x, a, y):
    for i in range(out.shape[0]):
        out[i] = x[i] + a * y[i]


def _host(*arrays: Array) -> bool:
    return not any(is_cupy(a) for a in arrays) and all(a.ndim == 1 and a.flags.c_contiguous for a in arrays)


def axpy(out: Array, x: Array, a: float, y: Array) -> Array:
    """``out = x + a * y``; returns out."""
    if _host(out, x, y) and out.dtype == x.dtype == y.dtype:
        _axpy(out, x, y.dtype.type(a), y)
    else:
        out[...] = x + a * y
    return out


@njit(**_JIT)
def _gather_scaled(out, src, idx, scale):
    for e in range(idx.shape[0]):
        out[e] = src[idx[e]] * scale


@njit(**_JIT)
def _expand_scaled(out, idx, y, scale):
    out[:] = 0
    for e in range(idx.shape[0]):
        out[idx[e]] = y[e] * scale


def gather_scaled(out: np.ndarray, src: np.ndarray, idx: np.ndarray, scale: float) -> np.ndarray:
    """``out = src[idx] * scale`` for host vectors (``out`` of src's dtype); returns out."""
    _gather_scaled(out, src, idx, weak_scalar(src.dtype, scale))
    return out


def expand_scaled(out: np.ndarray, idx: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """``out[...] = 0; out[idx] = y * scale`` for host vectors, ``idx`` ascending; returns out."""
    _expand_scaled(out, idx, y, weak_scalar(y.dtype, scale))
    return out


@njit(**_JIT)
def _zero_at(out, idx):
    for e in range(idx.shape[0]):
        prefetch(out, _ahead(idx, e))
        out[idx[e]] = 0


def zero_at(out: Array, idx: Array) -> Array:
    """``out[idx] = 0``; returns out."""
    if _host(out, idx):
        _zero_at(out, idx)
    else:
        out[idx] = 0
    return out


@njit(**_JIT)
def _extrapolate_at(out, idx, g, g_prev, tau):
    for e in range(idx.shape[0]):
        j = _ahead(idx, e)
        prefetch(g, j)
        prefetch(g_prev, j)
        i = idx[e]
        out[i] = g[i] + tau * (g[i] - g_prev[i])


def extrapolate_at(out: Array, idx: Array, g: Array, g_prev: Array, tau: float) -> Array:
    """``out[idx] = g[idx] + tau * (g[idx] - g_prev[idx])``; returns out."""
    if _host(out, g, g_prev, idx) and out.dtype == g.dtype == g_prev.dtype:
        _extrapolate_at(out, idx, g, g_prev, g.dtype.type(tau))
    else:
        out[idx] = g[idx] + tau * (g[idx] - g_prev[idx])
    return out


@njit(**_JIT)
def _union(a, b, out):
    i = j = c = 0
    while i < a.shape[0] and j < b.shape[0]:
        if a[i] < b[j]:
            out[c] = a[i]
            i += 1
        elif b[j] < a[i]:
            out[c] = b[j]
            j += 1
        else:
            out[c] = a[i]
            i += 1
            j += 1
        c += 1
    while i < a.shape[0]:
        out[c] = a[i]
        i += 1
        c += 1
    while j < b.shape[0]:
        out[c] = b[j]
        j += 1
        c += 1
    return c


def union_sorted(a: Array, b: Array) -> Array:
    """Ascending indices in a or b (both ascending, without repeats)."""
    if _host(a, b) and a.dtype == b.dtype:
        out = np.empty(a.shape[0] + b.shape[0], dtype=a.dtype)
        return out[: _union(a, b, out)]
    xp = array_module(a)
    return xp.unique(xp.concatenate([a, b]))


@njit(**_JIT)
def _load_at(out, idx, x, signs, use_signs):
    out[:] = 0
    if use_signs:
        for e in range(idx.shape[0]):
            i = idx[e]
            out[i] = x[i] * signs[i]
    else:
        for e in range(idx.shape[0]):
            i = idx[e]
            out[i] = x[i]


def load_at(out: np.ndarray, idx: np.ndarray, x: np.ndarray, signs: np.ndarray | None) -> np.ndarray:
    """``out[...] = 0; out[idx] = x[idx] * signs[idx]`` (no multiply if signs is None), host
    vectors; signs +-1 of any numeric dtype (the product is exact)."""
    _load_at(out, idx, x, x if signs is None else signs, signs is not None)
    return out


@njit(**_JIT)
def _multiply(out, x, signs):
    for i in range(out.shape[0]):
        out[i] = x[i] * signs[i]


def multiply_into(out: np.ndarray, x: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """``out = x * signs`` for host vectors and +-1 ``signs`` of any numeric dtype (exact,
    so the same as with float signs); out may be x."""
    _multiply(out, x, signs)
    return out


@njit(**_JIT_SUM)
def _restrict_at(idx, mask, x, kept):
    c = 0
    s = 0.0
    for e in range(idx.shape[0]):
        j = _ahead(idx, e)
        prefetch(mask, j)
        prefetch(x, j)
        i = idx[e]
        if mask[i] != 0:
            kept[c] = i
            c += 1
            s += np.float64(x[i]) * np.float64(x[i])
    return c, s


def restrict_at(idx: Array, mask: Array, x: Array) -> tuple[Array, float]:
    """(the entries of idx where mask != 0, the squared norm of x there); idx without repeats."""
    if _host(idx, mask, x):
        kept = np.empty_like(idx)
        c, s = _restrict_at(idx, mask, x, kept)
        return kept[:c], float(s)
    xp = array_module(x)
    kept = idx[mask[idx] != 0]
    vals = x[kept]
    return kept, float(xp.vdot(vals, vals))


@njit(**_JIT)
def _axpy_masked_at(out, idx, a, y, zero):
    for e in range(idx.shape[0]):
        j = _ahead(idx, e)
        prefetch(out, j)
        prefetch(y, j)
        i = idx[e]
        out[i] = out[i] + a * (y[i] if out[i] != 0 else zero)


def axpy_masked_at(out: Array, idx: Array, a: float, y: Array) -> Array:
    """``out[idx] += a * where(out[idx] != 0, y[idx], 0)``, in place; returns out."""
    if _host(out, idx, y) and out.dtype == y.dtype:
        _axpy_masked_at(out, idx, y.dtype.type(a), y, y.dtype.type(0))
    else:
        o = out[idx]
        out[idx] = o + a * array_module(out).where(o != 0, y[idx], 0)
    return out


@njit(**_JIT_SUM)
def _diff_dots(out, a, b, c):
    cv = 0.0
    vv = 0.0
    for i in range(out.shape[0]):
        v = a[i] - b[i]
        out[i] = v
        cv += np.float64(c[i]) * np.float64(v)
        vv += np.float64(v) * np.float64(v)
    return cv, vv


def diff_dots(out: Array, a: Array, b: Array, c: Array) -> tuple[float, float]:
    """``out = a - b``; returns (<c, out>, <out, out>) (float64 sums on the CPU)."""
    if _host(out, a, b, c) and out.dtype == a.dtype == b.dtype:
        cv, vv = _diff_dots(out, a, b, c)
        return float(cv), float(vv)
    xp = array_module(out)
    xp.subtract(a, b, out=out)
    return float(xp.vdot(c, out)), float(xp.vdot(out, out))


@njit(**_JIT_SUM)
def _residual(out, z, p, a, v, use_v):
    s = 0.0
    for i in range(out.shape[0]):
        q = p[i] + a * v[i] if use_v else p[i]
        r = z[i] - q
        out[i] = r
        s += np.float64(r) * np.float64(r)
    return s


def residual(out: Array, z: Array, p: Array, a: float = 0.0, v: Array | None = None) -> float:
    """``out = z - p`` (``z - (p + a * v)`` with v); returns ``||out||^2`` (float64 on the CPU)."""
    arrays = (out, z, p) if v is None else (out, z, p, v)
    if _host(*arrays) and out.dtype == z.dtype == p.dtype and (v is None or v.dtype == p.dtype):
        return float(_residual(out, z, p, p.dtype.type(a), p if v is None else v, v is not None))
    xp = array_module(out)
    xp.subtract(z, p if v is None else p + a * v, out=out)
    return float(xp.vdot(out, out))
