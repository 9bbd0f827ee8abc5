"""Fake runs written with the real TraceWriter, shaped like the runner's traces.

``sweep_dir`` holds a small sweep (two sketched methods over compression
ratios, plus the uncompressed baseline) and one run of each bad kind: failed,
interrupted, diverged, 'running' with a dead writer, a corrupt file and one
with a newer schema version. ``scaling_dir`` holds one configuration at 1, 2
and 4 ranks. Every value is a closed-form function of the step so that the
tests can say what each figure must show.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpcsketch.tracing.writer import TraceWriter

DIM = 1000
ROUNDS = 20
CLIENTS = 8
PER_ROUND = 4  # participating clients per round
PHASE_SECONDS = {"compute": 0.004, "compress": 0.001, "communicate": 0.002, "decompress": 0.0005, "update": 0.0003}


@dataclass
class Spec:
    """What one fake run is; the trace's every number follows from it."""

    run_id: str
    algorithm: str = "cs_sgd"
    compressor: str = "count_sketch"
    ratio: float = 10.0
    world_size: int = 2
    final_acc: float = 0.8
    rounds_done: int = ROUNDS
    status: str = "completed"
    message: str = ""
    nan_from: int | None = None  # first step whose loss is NaN (diverged)
    dead_writer: bool = False
    sweep: dict[str, Any] = field(default_factory=dict)
    consensus: bool = False
    lr: float = 0.1

    def accuracy(self, step: int) -> float:
        return 0.1 + (self.final_acc - 0.1) * (1 - math.exp(-step / 4)) / (1 - math.exp(-ROUNDS / 4))

    def uplink_per_client(self) -> float:
        return DIM * 4 / self.ratio

    def downlink_per_client(self) -> float:
        return DIM * 4.0

    def phase_seconds(self, phase: str, step: int, rank: int) -> float:
        # rank 1 is the slow one; the slowest rank sets the round time
        return PHASE_SECONDS[phase] * (1 + 0.5 * rank) * (1 + 0.01 * step) / self.world_size


def resolved(spec: Spec) -> dict[str, Any]:
    return {
        "run": {"name": "fake", "rounds": ROUNDS, "seed": 0, "eval_every": 5, "out": "results", "backend": "numpy",
                "threads": 1, "flush_every": 20, "flush_seconds": 30.0, "target_accuracy": None, "target_loss": None,
                "progress": False},
        "problem": {"kind": "mnist1d", "model": "mlp", "batch_size": 32},
        "clients": {"count": CLIENTS, "participation": PER_ROUND / CLIENTS, "partition": "iid", "alpha": 0.5, "shards": 2},
        "algorithm": {"kind": spec.algorithm, "lr": spec.lr, "local_steps": 1, "server_lr": 1.0, "momentum": 0.0,
                      "weight_decay": 0.0},
        "compressor": {"kind": spec.compressor, "ratio": spec.ratio if spec.compressor != "none" else 10, "rows": 5},
    }


def write_trace(path: Path, spec: Spec) -> Path:
    attrs = {
        "run_id": spec.run_id, "name": f"fake__{spec.run_id}", "rounds_planned": ROUNDS, "job": "",
        "job_resolved": json.dumps(resolved(spec)), "sweep_point": json.dumps(spec.sweep), "seed": 0,
        "algorithm": spec.algorithm, "compressor": spec.compressor, "problem": "mnist1d", "model": "mlp",
        "dim": DIM, "world_size": spec.world_size, "clients": CLIENTS,
        "writer_host": socket.gethostname() if spec.dead_writer else "elsewhere",
        "writer_pid": dead_pid() if spec.dead_writer else 1,
    }
    w = TraceWriter(path)
    w.create(attrs, {"world_size": spec.world_size})
    rows = [row(spec, s) for s in range(spec.rounds_done + 1)]
    steps = np.arange(1, spec.rounds_done + 1)
    timing = {p: np.array([[spec.phase_seconds(p, s, r) for r in range(spec.world_size)] for s in steps])
              for p in PHASE_SECONDS}
    timing["total"] = sum(timing.values()) + 0.0001  # a little untimed overhead per round
    w.append(rows[:1])
    w.append(rows[1:], timing, steps)
    if spec.status != "running":
        w.finish(spec.status, spec.message, summary={"rounds_done": spec.rounds_done, "wall_seconds": 1.0})
    return path


def row(spec: Spec, step: int) -> dict[str, float]:
    r: dict[str, float] = {"step": step, "time": 0.01 * step}
    evaluated = step % 5 == 0 or step == spec.rounds_done
    r["eval_accuracy"] = spec.accuracy(step) if evaluated else math.nan
    r["eval_loss"] = 2.0 * (1.0 - spec.accuracy(step)) if evaluated else math.nan
    if step == 0:
        r.update(bytes_uplink=0.0, bytes_downlink=0.0, bytes_mpi=0.0)
    else:
        r["loss"] = math.nan if spec.nan_from is not None and step >= spec.nan_from else 2.0 / (1 + step)
        r["clients"] = PER_ROUND
        r["bytes_uplink"] = PER_ROUND * spec.uplink_per_client()
        r["bytes_downlink"] = PER_ROUND * spec.downlink_per_client()
        r["bytes_mpi"] = spec.world_size * spec.uplink_per_client()
        if spec.consensus:
            r["consensus_distance"] = 1.0 / step**2
    return r


def dead_pid() -> int:
    """The pid of a process that has exited (the runner's writer of a crashed run)."""
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(out.stdout)


SWEEP = [
    Spec("cs-r2", ratio=2, final_acc=0.85, sweep={"compressor.ratio": 2, "algorithm.kind": "cs_sgd"}),
    Spec("cs-r5", ratio=5, final_acc=0.80, sweep={"compressor.ratio": 5, "algorithm.kind": "cs_sgd"}),
    Spec("cs-r10", ratio=10, final_acc=0.70, sweep={"compressor.ratio": 10, "algorithm.kind": "cs_sgd"}),
    Spec("fetch-r5", algorithm="fetchsgd", ratio=5, final_acc=0.82, sweep={"compressor.ratio": 5, "algorithm.kind": "fetchsgd"}),
    Spec("fetch-r10", algorithm="fetchsgd", ratio=10, final_acc=0.75, sweep={"compressor.ratio": 10, "algorithm.kind": "fetchsgd"}),
    Spec("psgd", algorithm="psgd", compressor="none", ratio=1, final_acc=0.88),
    Spec("failed", ratio=20, final_acc=0.5, rounds_done=5, status="failed", message="rank 1: MemoryError in compress",
         sweep={"compressor.ratio": 20, "algorithm.kind": "cs_sgd"}),
    Spec("interrupted", algorithm="fetchsgd", ratio=20, final_acc=0.6, rounds_done=8, status="interrupted",
         message="stopped by signal at round 8", sweep={"compressor.ratio": 20, "algorithm.kind": "fetchsgd"}),
    Spec("diverged", algorithm="fetchsgd", ratio=2, final_acc=0.3, nan_from=18, status="diverged",
         message="NaN or inf in the model by round 20", sweep={"compressor.ratio": 2, "algorithm.kind": "fetchsgd"}),
    Spec("dead", ratio=40, final_acc=0.4, rounds_done=6, status="running", dead_writer=True,
         sweep={"compressor.ratio": 40, "algorithm.kind": "cs_sgd"}),
]
BY_ID = {s.run_id: s for s in SWEEP}
CORRUPT = "corrupt.h5"
NEWER = "newer.h5"


SCALING = [Spec(f"psgd-P{p}", algorithm="psgd", compressor="none", ratio=1, world_size=p) for p in (1, 2, 4)]
