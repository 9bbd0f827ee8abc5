"""Quantizers with real bit packing: QSGD(s) and scaled sign.

Payloads are single ``uint8`` arrays holding exactly the bytes that would cross
a network:

* QSGD(s) (Alistarh et al. 2017): ``[norm: float32][sign bits: ceil(d/8)]
  [levels: b bit-planes of ceil(d/8) bytes]`` with ``b = bit_length(s)``;
  level l_i = floor(s |x_i| / ||x||_2 + u_i), u_i ~ U[0, 1), decoded as
  ``||x|| sign_i l_i / s`` (unbiased; variance <= min(d/s^2, sqrt(d)/s) ||x||^2).
* scaled sign (Karimireddy et al. 2019): ``[scale: float32][sign bits]`` with
  scale = ||x||_1 / d, decoded as ``scale * sign(x)`` (x_i >= 0 counts as +).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numba import njit

from hpcsketch.kernels._dispatch import Array, array_module, is_cupy

HEADER = 4  # one float32
_CHUNK = 1024  # elements per step of the fused CPU encoder (a multiple of 64)
_SPREAD = np.uint64(0x0101010101010101)
_GATHER = np.uint64(0x8040201008040201)  # bit 0 of byte i -> bit 63 - i: 8 flags -> 1 packbits byte


@njit(cache=True, fastmath=False, boundscheck=False, nogil=True)
def _qsgd_body(x, sc, u, s, bits, out):
    """The sign plane and the ``bits`` level planes of the QSGD payload, packed as
    ``pack_bits`` / ``pack_uint`` pack them, into out (len (1 + bits) * ceil(n/8)).
    Levels: min(floor(|x| * sc + u), s), in x's float32 arithmetic like NumPy's."""
    n = x.shape[0]
    nb = (n + 7) // 8
    lv = np.zeros(_CHUNK, np.uint8)
    ng = np.zeros(_CHUNK, np.uint8)
    lw = lv.view(np.uint64)
    nw = ng.view(np.uint64)
    cap = np.float32(s)
    for c0 in range(0, n, _CHUNK):
        m = min(_CHUNK, n - c0)
        xs = x[c0:c0 + m]
        us = u[c0:c0 + m]
        for t in range(m):
            v = xs[t]
            level = min(np.floor(abs(v) * sc + us[t]), cap)
            lv[t] = np.uint8(level)
            ng[t] = np.uint8(v < 0)
        for t in range(m, _CHUNK):
            lv[t] = 0
            ng[t] = 0
        b0 = c0 // 8
        nbytes = (m + 7) // 8
        signs = out[b0:b0 + nbytes]
        for w in range(nbytes):
            signs[w] = np.uint8(((nw[w] & _SPREAD) * _GATHER) >> np.uint64(56))
        for p in range(bits):
            plane = out[(1 + p) * nb + b0:(1 + p) * nb + b0 + nbytes]
            shift = np.uint64(bits - 1 - p)
            for w in range(nbytes):
                plane[w] = np.uint8((((lw[w] >> shift) & _SPREAD) * _GATHER) >> np.uint64(56))


def packed_nbytes(n: int) -> int:
    """Bytes of n packed bits."""
    return (n + 7) // 8


def pack_bits(bits: Array) -> Array:
    """Bool/0-1 array -> uint8 array, 8 per byte, big-endian bit order (numpy.packbits)."""
    return array_module(bits).packbits(bits.astype(bool))


def unpack_bits(packed: Array, n: int) -> Array:
    """Inverse of :func:`pack_bits`: the first n bits as a bool array."""
    return array_module(packed).unpackbits(packed)[:n].astype(bool)


def pack_uint(values: Array, bits: int) -> Array:
    """Unsigned ints < 2^bits -> ``bits`` bit-planes of packed bits (most significant first)."""
    xp = array_module(values)
    v = values.astype(xp.uint32)
    planes = [pack_bits((v >> (bits - 1 - b)) & 1) for b in range(bits)]
    return xp.concatenate(planes) if planes else xp.zeros(0, dtype=xp.uint8)


def unpack_uint(packed: Array, n: int, bits: int) -> Array:
    """Inverse of :func:`pack_uint` (uint32 values)."""
    xp = array_module(packed)
    nb = packed_nbytes(n)
    out = xp.zeros(n, dtype=xp.uint32)
    for b in range(bits):
        out = (out << 1) | unpack_bits(packed[b * nb:(b + 1) * nb], n).astype(xp.uint32)
    return out


def _f32_bytes(xp: Any, value: Array) -> Array:
    return xp.asarray(value, dtype=xp.float32).reshape(1).view(xp.uint8)


def _f32_from(payload: Array) -> Array:
    return payload[:HEADER].view(array_module(payload).float32)[0]


def uniform(n: int, key: int, xp: Any = np, dtype: Any = np.float32) -> Array:
    """U[0, 1) draws from the private integer ``key`` on the array module ``xp``."""
    if xp is np:
        return np.random.Generator(np.random.PCG64(int(key))).random(n, dtype=dtype)
    return xp.random.default_rng(int(key)).random(n, dtype=dtype)


def level_bits(s: int) -> int:
    """Bits per QSGD level for s levels (levels 0..s)."""
    return int(s).bit_length()


def qsgd_nbytes(d: int, s: int) -> int:
    return HEADER + packed_nbytes(d) * (1 + level_bits(s))


def qsgd_encode(x: Array, s: int, u: Array) -> Array:
    """QSGD(s) payload of the 1-D ``x`` with stochastic rounding from uniforms ``u``."""
    xp = array_module(x)
    if s < 1:
        raise ValueError(f"QSGD needs s >= 1 levels, got {s}")
    norm = xp.linalg.norm(x.astype(xp.float32))
    if _fused_qsgd(x, s, u) and float(norm) > 0:
        d = x.shape[0]
        out = np.empty(qsgd_nbytes(d, s), dtype=np.uint8)
        out[:HEADER] = _f32_bytes(np, norm)
        _qsgd_body(x, np.float32(s / norm), u, s, level_bits(s), out[HEADER:])
        return out
    if float(norm) > 0:
        lv = xp.floor(xp.abs(x).astype(xp.float32) * (s / norm) + u)
        lv = xp.minimum(lv, s)  # guards the round-off case |x_i| = norm
    else:
        lv = xp.zeros(x.shape[0], dtype=xp.float32)
    return xp.concatenate([_f32_bytes(xp, norm), pack_bits(x < 0), pack_uint(lv.astype(xp.uint32), level_bits(s))])


def _fused_qsgd(x: Array, s: int, u: Array) -> bool:
    """The one-pass CPU encoder applies: float32 host vectors, levels fit a byte."""
    return (not is_cupy(x) and x.ndim == 1 and x.dtype == np.float32 and x.flags.c_contiguous
            and isinstance(u, np.ndarray) and u.dtype == np.float32 and u.shape == x.shape
            and u.flags.c_contiguous and s <= 255)


def qsgd_decode(payload: Array, d: int, s: int, dtype: Any = np.float32) -> Array:
    """Unbiased estimate from a QSGD(s) payload."""
    xp = array_module(payload)
    if payload.shape[0] != qsgd_nbytes(d, s):
        raise ValueError(f"QSGD payload has {payload.shape[0]} bytes, expected {qsgd_nbytes(d, s)}")
    norm = _f32_from(payload)
    nb = packed_nbytes(d)
    neg = unpack_bits(payload[HEADER:HEADER + nb], d)
    lv = unpack_uint(payload[HEADER + nb:], d, level_bits(s)).astype(dtype)
    out = (lv * (norm / s)).astype(dtype)
    out[neg] *= -1
    return out


def sign_nbytes(d: int) -> int:
    return HEADER + packed_nbytes(d)


def sign_encode(x: Array) -> Array:
    """Scaled-sign payload: ||x||_1 / d and the packed sign bits."""
    xp = array_module(x)
    scale = xp.abs(x).astype(xp.float64).sum() / max(1, x.shape[0])
    return xp.concatenate([_f32_bytes(xp, scale), pack_bits(x < 0)])


def sign_decode(payload: Array, d: int, dtype: Any = np.float32) -> Array:
    """``scale * sign`` from a scaled-sign payload."""
    xp = array_module(payload)
    if payload.shape[0] != sign_nbytes(d):
        raise ValueError(f"sign payload has {payload.shape[0]} bytes, expected {sign_nbytes(d)}")
    scale = _f32_from(payload)
    neg = unpack_bits(payload[HEADER:], d)
    out = xp.full(d, scale, dtype=dtype)
    out[neg] *= -1
    return out
