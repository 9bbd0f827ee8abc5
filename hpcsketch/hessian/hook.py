"""What the runner calls to measure the loss Hessian during a run ([hessian] in the job).

At every scheduled step (after that round's update, outside the round's timing)
all ranks measure together and rank 0 appends the result to the trace's
/hessian group at once. A run that stops on a signal skips a measurement due at
the round it stops at; ``--resume`` then takes it at its first step, because
the hook measures at the start of a run whenever the start step is due and
missing from the trace (a fresh run: step 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpcsketch.hessian.measure import Measurement, Settings, measure, schedule


class HessianHook:
    def __init__(self, job: Any, algo: Any, ctx: Any):
        self.settings = Settings.from_section(job.hessian)
        self.steps = set(schedule(job.hessian, job.run.rounds))
        self.algo = algo
        self.problem = ctx.problem
        self.comm = ctx.comm
        self.seed = int(job.run.seed)
        self.last: Measurement | None = None

    @classmethod
    def for_job(cls, job: Any, algo: Any, ctx: Any) -> "HessianHook | None":
        """The hook, or None when the job measures nothing."""
        return cls(job, algo, ctx) if schedule(job.hessian, job.run.rounds) else None

    def due(self, step: int) -> bool:
        return step in self.steps

    def model(self) -> Any:
        """The model the server would hold; a decentralized run's average model (one Allreduce)."""
        if getattr(self.algo, "decentralized", False):
            with self.comm.category("hessian"):
                return self.algo.average()
        return self.algo.model()

    def missing(self, step: int, trace_path: Path | None) -> bool:
        """Due at ``step`` and not in the trace yet (rank 0 reads the trace; every rank gets the answer)."""
        if not self.due(step):
            return False
        have = None
        if self.comm.rank == 0:
            from hpcsketch.tracing.reader import read_hessian

            steps = read_hessian(trace_path)[0].get("step", ()) if trace_path is not None and trace_path.exists() else ()
            have = bool(step in set(int(s) for s in steps))
        with self.comm.category("hessian"):
            return not self.comm.bcast_object(have, root=0)

    def measure(self, step: int, writer: Any = None, progress: Any = None) -> Measurement:
        """Measure at ``step`` (collective); ``writer`` (rank 0's TraceWriter) records it."""
        m = measure(self.problem, self.comm, self.model(), self.settings, self.seed, step)
        if writer is not None:
            writer.append_hessian(m.row(), {**self.settings.attrs(), "dim": m.dim})
        if progress is not None:
            progress.update_info({"kappa": m.kappa})
        self.last = m
        return m
