"""Per-category counters of what crossed MPI.

Categories keep the algorithm's traffic apart from the harness's own
(evaluation, the control word, trace gathering) so ``bytes_mpi`` in the trace
is exactly what the method sent. Recording is on every collective's path, so
it is kept to two counter updates.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counter:
    calls: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def minus(self, other: "Counter") -> "Counter":
        return Counter(self.calls - other.calls, self.bytes - other.bytes, self.seconds - other.seconds)


class CommStats:
    """``bytes`` counts what this rank handed to MPI as its send buffer (see README: bytes)."""

    def __init__(self) -> None:
        self.total: dict[str, Counter] = {}
        self.by_op: dict[str, Counter] = {}
        self._marks: dict[str, Counter] = {}

    def record(self, category: str, op: str, nbytes: int, seconds: float) -> None:
        c = self.total.get(category)
        if c is None:
            c = self.total[category] = Counter()
        c.calls += 1
        c.bytes += nbytes
        c.seconds += seconds
        c = self.by_op.get(op)
        if c is None:
            c = self.by_op[op] = Counter()
        c.calls += 1
        c.bytes += nbytes
        c.seconds += seconds

    def take(self, category: str) -> Counter:
        """What ``category`` moved since the last ``take`` of it."""
        now = self.total.get(category, Counter())
        prev = self._marks.get(category, Counter())
        self._marks[category] = Counter(now.calls, now.bytes, now.seconds)
        return now.minus(prev)
