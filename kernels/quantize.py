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

from hpcsketch.kernels._dispatch import Array, array_module

HEADER = 4  # one float32


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
    if float(norm) > 0:
        lv = xp.floor(xp.abs(x).astype(xp.float32) * (s / norm) + u)
        lv = xp.minimum(lv, s)  # guards the round-off case |x_i| = norm
    else:
        lv = xp.zeros(x.shape[0], dtype=xp.float32)
    return xp.concatenate([_f32_bytes(xp, norm), pack_bits(x < 0), pack_uint(lv.astype(xp.uint32), level_bits(s))])


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
