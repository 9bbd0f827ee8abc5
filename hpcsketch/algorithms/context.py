"""What an algorithm sees of the run: the problem, the comm layer, its clients,
a phase timer and a per-round metrics recorder.

The runner builds a RunContext; algorithms never touch MPI, HDF5 or the
progress display directly.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from hpcsketch import seeding
from hpcsketch.backend import Backend, PhaseClock
from hpcsketch.clients import ClientLayout

if TYPE_CHECKING:  # validation imports algorithms; it must not start MPI
    from hpcsketch.comm.communicator import Communicator

PHASES = ("compute", "compress", "communicate", "decompress", "update")

#: how a metric's per-rank values combine into the round's value
REDUCTIONS = ("sum", "mean", "max", "min", "first")


class PhaseTimer:
    """Per-round time in each phase; a phase may be entered several times a round.

    On the GPU the clocks are CUDA events read only when the trace is flushed, so
    timing adds no synchronisation to the round.
    """

    def __init__(self, backend: Backend):
        self.backend = backend
        self._clocks: list[tuple[str, PhaseClock]] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        clock = self.backend.timer()
        clock.start()
        try:
            yield
        finally:
            clock.stop()
            self._clocks.append((name, clock))

    def take(self) -> list[tuple[str, PhaseClock]]:
        out, self._clocks = self._clocks, []
        return out


def clocks_to_seconds(clocks: list[tuple[str, PhaseClock]]) -> dict[str, float]:
    out = {p: 0.0 for p in PHASES}
    for name, clock in clocks:
        out[name] = out.get(name, 0.0) + clock.elapsed()
    return out


class RoundMetrics:
    """This rank's contributions to the round's metrics, combined over ranks at flush time.

    ``mean`` metrics keep (sum, count) so that e.g. the loss is the mean over all
    participating clients of all ranks, whatever their spread over ranks.
    """

    def __init__(self) -> None:
        self._values: dict[str, list[Any]] = {}

    def add(self, name: str, value: Any, reduce: str = "sum", count: int = 1) -> None:
        entry = self._values.get(name)
        if entry is None:
            self._values[name] = [value, count, reduce]
        else:
            if entry[2] != reduce:
                raise ValueError(f"metric {name} recorded with reductions {entry[2]} and {reduce}")
            if reduce in ("sum", "mean"):
                entry[0] = entry[0] + value
                entry[1] += count
            elif reduce == "max":
                entry[0] = max(entry[0], value)
            elif reduce == "min":
                entry[0] = min(entry[0], value)
            else:
                entry[0] = value

    def set(self, name: str, value: Any, reduce: str = "first") -> None:
        self._values[name] = [value, 1, reduce]

    def take(self) -> dict[str, tuple[float, int, str]]:
        out = {k: (float(v[0]), int(v[1]), v[2]) for k, v in self._values.items()}
        self._values = {}
        return out


def combine_metrics(per_rank: list[dict[str, tuple[float, int, str]]]) -> dict[str, float]:
    """Rank 0's view of one round: every rank's contributions combined."""
    acc: dict[str, list[Any]] = {}
    for d in per_rank:
        for name, (value, count, reduce) in d.items():
            a = acc.get(name)
            if a is None:
                acc[name] = [value, count, reduce]
            elif reduce in ("sum", "mean"):
                a[0] += value
                a[1] += count
            elif reduce == "max":
                a[0] = max(a[0], value)
            elif reduce == "min":
                a[0] = min(a[0], value)
    out = {}
    for name, (value, count, reduce) in acc.items():
        out[name] = value / count if reduce == "mean" and count else value
    return out


@dataclass
class RunContext:
    job: Any
    backend: Backend
    comm: "Communicator"
    problem: Any
    clients: ClientLayout
    seed: int
    timer: PhaseTimer
    metrics: RoundMetrics = field(default_factory=RoundMetrics)
    #: every compressor made for the run (operators can be large: the warm-up shares, not copies, them)
    compressors: list[Any] = field(default_factory=list)

    @property
    def xp(self) -> Any:
        return self.backend.xp

    def key(self, *words: int | str) -> int:
        """An integer seed for the stream named by ``words`` (see hpcsketch.seeding)."""
        return seeding.derive(self.seed, *words)

    def make_compressor(self, dim: int | None = None, *words: int | str) -> Any:
        """The job's compressor for vectors of ``dim`` (default: the model size)."""
        from hpcsketch.compressors import REGISTRY

        opts = dict(self.job.compressor)
        cls = REGISTRY.get(opts["kind"])
        made = cls(
            dim if dim is not None else self.problem.dim,
            opts,
            self.backend,
            self.key("compressor", *words),
            dtype=self.problem.dtype,
        )
        self.compressors.append(made)
        return made
