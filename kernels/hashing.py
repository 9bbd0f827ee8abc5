"""Seeded hash functions for count sketches, identical on NumPy and CuPy.

Keys are coordinate indices j < 2^32, split into 16-bit characters
``lo = j & 0xFFFF`` and ``hi = j >> 16``. All hash values come from random tables
drawn from the seed (sizes independent of d: no r x d index tables):

* bucket of row r: simple tabulation ``T_r[lo] ^ U_r[hi]`` (a uniform 32-bit value,
  3-wise independent, so the 2-wise independence a count sketch needs), mapped to
  [0, c) with fastrange ``(h * c) >> 32`` instead of a modulo;
* sign of row r: bit r of ``S0[lo] ^ S1[hi] ^ S2[lo + hi]`` (Thorup and Zhang's
  2-character tabulation, which is 5-wise independent with random tables; csvec
  uses a degree-3 polynomial for 4-wise independence: this gives at least that).
  Bit set means -1.

Tabulation needs no multiplications: a 64-bit Mersenne-prime polynomial costs
several times more per (coordinate, row) on these CPUs, and the bucket/sign
tables for consecutive j are read sequentially, so they stream from cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hpcsketch.kernels._dispatch import Array, array_module

CHAR = 1 << 16
MAX_ROWS = 32  # sign bits of all rows share one uint32 table entry
MAX_KEY = 1 << 32


@dataclass(frozen=True)
class SketchHash:
    """The hash tables of an r-row count sketch (arrays of one backend)."""

    rows: int
    bucket_lo: Array  # (rows, 2^16) uint32
    bucket_hi: Array  # (rows, 2^16) uint32
    sign0: Array  # (2^16,) uint32, bit r for row r
    sign1: Array  # (2^16,) uint32
    sign2: Array  # (2^17,) uint32

    def to(self, xp: Any) -> "SketchHash":
        """The same tables on another array module (numpy or cupy)."""
        conv = (lambda a: xp.asarray(a)) if xp is not np else (lambda a: a.get() if hasattr(a, "get") else np.asarray(a))
        return SketchHash(
            self.rows, *(conv(a) for a in (self.bucket_lo, self.bucket_hi, self.sign0, self.sign1, self.sign2))
        )


def sketch_hash(seed: int, rows: int, xp: Any = np) -> SketchHash:
    """Draw the tables of an r-row sketch from ``seed`` (same seed, same tables, any backend)."""
    if not 1 <= rows <= MAX_ROWS:
        raise ValueError(f"count sketch rows must be in 1..{MAX_ROWS}, got {rows}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0x5EED_C0DE])))
    draw = lambda *shape: rng.integers(0, 1 << 32, size=shape, dtype=np.uint64).astype(np.uint32)  # noqa: E731
    mask = np.uint32((1 << rows) - 1) if rows < 32 else np.uint32(0xFFFFFFFF)
    h = SketchHash(rows, draw(rows, CHAR), draw(rows, CHAR), draw(CHAR) & mask, draw(CHAR) & mask, draw(2 * CHAR) & mask)
    return h if xp is np else h.to(xp)


def buckets_signs(h: SketchHash, idx: Array, cols: int, dtype: Any = np.float32) -> tuple[Array, Array]:
    """Buckets ``(rows, m)`` int64 in [0, cols) and signs ``(rows, m)`` of ``dtype`` for indices ``idx``.

    Plain array expressions, so the same code runs on NumPy and CuPy and gives the
    same integers on both (the CPU accumulate kernel reproduces them bit for bit).
    """
    xp = array_module(idx)
    j = xp.asarray(idx).astype(xp.uint64)
    lo = (j & 0xFFFF).astype(xp.int64)
    hi = (j >> 16).astype(xp.int64)
    hb = (h.bucket_lo[:, lo] ^ h.bucket_hi[:, hi]).astype(xp.uint64)
    buckets = ((hb * xp.uint64(cols)) >> xp.uint64(32)).astype(xp.int64)
    bits = h.sign0[lo] ^ h.sign1[hi] ^ h.sign2[lo + hi]
    r = xp.arange(h.rows, dtype=xp.uint32)[:, None]
    signs = (1 - 2 * ((bits[None, :] >> r) & 1).astype(xp.int8)).astype(dtype)
    return buckets, signs
