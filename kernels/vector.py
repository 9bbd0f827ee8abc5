"""Fused vector updates for iterative recovery (FIHT), written into preallocated arrays.

Each is one pass over memory on the CPU (numba) instead of a chain of NumPy
temporaries, and gives the same bits as the NumPy expression in its docstring
(scalars are cast to the arrays' dtype, as NumPy does with a Python float; no
fused multiply-add). On CuPy the expression itself runs. ``out`` may be one of
the inputs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hpcsketch.kernels._dispatch import Array, array_module, is_cupy

_JIT = dict(cache=True, fastmath=False, boundscheck=False, nogil=True)
# the reductions may reorder their (float64) sums, nothing else: elementwise results stay exact
_JIT_SUM = dict(_JIT, fastmath={"reassoc", "nsz"})


@njit(**_JIT)
def _axpy(out, x, a, y):
    for i in range(out.shape[0]):
        out[i] = x[i] + a * y[i]


@njit(**_JIT)
def _extrapolate(out, g, g_prev, tau):
    for i in range(out.shape[0]):
        out[i] = g[i] + tau * (g[i] - g_prev[i])


@njit(**_JIT_SUM)
def _masked(out, mask, x, zero):
    s = 0.0
    for i in range(out.shape[0]):
        v = x[i] if mask[i] != 0 else zero
        out[i] = v
        s += np.float64(v) * np.float64(v)
    return s


def _host(*arrays: Array) -> bool:
    return not any(is_cupy(a) for a in arrays) and all(a.ndim == 1 and a.flags.c_contiguous for a in arrays)


def axpy(out: Array, x: Array, a: float, y: Array) -> Array:
    """``out = x + a * y``; returns out."""
    if _host(out, x, y) and out.dtype == x.dtype == y.dtype:
        _axpy(out, x, y.dtype.type(a), y)
    else:
        out[...] = x + a * y
    return out


def extrapolate(out: Array, g: Array, g_prev: Array, tau: float) -> Array:
    """``out = g + tau * (g - g_prev)``; returns out."""
    if _host(out, g, g_prev) and out.dtype == g.dtype == g_prev.dtype:
        _extrapolate(out, g, g_prev, g.dtype.type(tau))
    else:
        out[...] = g + tau * (g - g_prev)
    return out


def masked(out: Array, mask: Array, x: Array) -> float:
    """``out = where(mask != 0, x, 0)`` (x restricted to the support of ``mask``);
    returns ``||out||^2`` (accumulated in float64 on the CPU)."""
    if _host(out, mask, x) and out.dtype == x.dtype:
        return float(_masked(out, mask, x, x.dtype.type(0)))
    xp = array_module(out)
    out[...] = xp.where(mask != 0, x, 0)
    return float(xp.vdot(out, out))


@njit(**_JIT)
def _axpy_at(out, idx, x, a, y):
    for e in range(idx.shape[0]):
        i = idx[e]
        out[i] = x[i] + a * y[i]


def axpy_at(out: Array, idx: Array, x: Array, a: float, y: Array) -> Array:
    """``out[idx] = x[idx] + a * y[idx]`` (the rest of out untouched); returns out."""
    if _host(out, x, y) and out.dtype == x.dtype == y.dtype:
        _axpy_at(out, idx, x, y.dtype.type(a), y)
    else:
        out[idx] = x[idx] + a * y[idx]
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


def _scale_for(dtype: np.dtype, scale: float):
    """``scale`` as NumPy would multiply it with an array of ``dtype`` (Python float: weak)."""
    return np.result_type(dtype, 1.0).type(scale)


def gather_scaled(out: np.ndarray, src: np.ndarray, idx: np.ndarray, scale: float) -> np.ndarray:
    """``out = src[idx] * scale`` for host vectors (``out`` of src's dtype); returns out."""
    _gather_scaled(out, src, idx, _scale_for(src.dtype, scale))
    return out


def expand_scaled(out: np.ndarray, idx: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """``out[...] = 0; out[idx] = y * scale`` for host vectors, ``idx`` ascending; returns out."""
    _expand_scaled(out, idx, y, _scale_for(y.dtype, scale))
    return out
