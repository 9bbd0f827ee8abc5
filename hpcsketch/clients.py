"""Logical clients over MPI ranks.

``n`` clients are split into contiguous blocks over the ``P`` ranks (sizes differ
by at most one). Sampling is drawn from the job seed and the round only, so
every rank draws the same subset without communicating, and the subset does
not depend on ``P``.
"""

from __future__ import annotations

import numpy as np

from hpcsketch import seeding


class ClientLayout:
    def __init__(self, n: int, size: int, rank: int, participation: float = 1.0, seed: int = 0):
        if n < size:
            raise ValueError(f"{n} clients cannot be spread over {size} ranks")
        self.n = int(n)
        self.size = int(size)
        self.rank = int(rank)
        self.participation = float(participation)
        self.seed = int(seed)
        base, extra = divmod(self.n, self.size)
        counts = np.array([base + (1 if r < extra else 0) for r in range(self.size)], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        self.start = int(self.starts[rank])
        self.stop = int(self.starts[rank + 1])
        self.per_round = self.n if self.participation >= 1.0 else max(1, int(round(self.participation * self.n)))

    @property
    def local(self) -> np.ndarray:
        return np.arange(self.start, self.stop)

    def owner(self, client: int) -> int:
        return int(np.searchsorted(self.starts, client, side="right") - 1)

    def is_local(self, client: int) -> bool:
        return self.start <= client < self.stop

    def sample(self, round_: int) -> np.ndarray:
        """Sorted ids of the clients taking part in round ``round_`` (same on every rank)."""
        if self.per_round >= self.n:
            return np.arange(self.n)
        picked = seeding.rng(self.seed, "sample", round_).choice(self.n, self.per_round, replace=False)
        picked.sort()
        return picked

    def local_of(self, sampled: np.ndarray) -> np.ndarray:
        """The sampled clients hosted on this rank, in increasing order."""
        lo, hi = np.searchsorted(sampled, [self.start, self.stop])
        return sampled[lo:hi]
