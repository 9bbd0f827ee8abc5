"""Per-category counters of what crossed MPI.

Categories keep the algorithm's traffic apart from the harness's own
(evaluation, the control word, trace gathering) so ``bytes_mpi`` in the trace
is exactly what the method sent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass
class Counter:
    calls: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def add(self, nbytes: int, seconds: float) -> None:
        self.calls += 1
        self.bytes += int(nbytes)
        self.seconds += seconds


class CommStats:
    """``bytes`` counts what this rank handed to MPI as its send buffer (see README: bytes)."""

    def __init__(self) -> None:
        self.total: dict[str, Counter] = defaultdict(Counter)
        self.since_mark: dict[str, Counter] = defaultdict(Counter)
        self.by_op: dict[str, Counter] = defaultdict(Counter)

    def record(self, category: str, op: str, nbytes: int, seconds: float) -> None:
        self.total[category].add(nbytes, seconds)
        self.since_mark[category].add(nbytes, seconds)
        self.by_op[op].add(nbytes, seconds)

    def take(self, category: str) -> Counter:
        """What ``category`` moved since the last ``take`` of it (then reset)."""
        c = self.since_mark.pop(category, None)
        return c if c is not None else Counter()
