"""Counter-based seeding: every random draw is keyed by (job seed, purpose, ids...).

Nothing carries generator state from round to round, so a client's draws do not
depend on which rank hosts it or on how many ranks run the job, and a resumed
run draws exactly what an uninterrupted one would (no RNG state to checkpoint).
"""

from __future__ import annotations

import zlib

import numpy as np

_MASK64 = (1 << 64) - 1


def _word(w: int | str) -> int:
    if isinstance(w, str):
        return zlib.crc32(w.encode()) | (1 << 32)  # tag strings apart from small ints
    if w < 0:
        raise ValueError("seed words must be non-negative")
    return int(w)


def derive(seed: int, *words: int | str) -> int:
    """A 63-bit integer seed for the stream named by ``words`` under ``seed``."""
    ss = np.random.SeedSequence([int(seed) & _MASK64, *(_word(w) for w in words)])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def rng(seed: int, *words: int | str) -> np.random.Generator:
    """A NumPy generator for the stream named by ``words`` under ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & _MASK64, *(_word(w) for w in words)])))
