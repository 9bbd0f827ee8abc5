"""What each MPI launcher tells a process it started: one table, read by the CLI, the launcher
parent and the trace's environment record (no MPI import: the launcher parent is not a rank).

A rank learns its rank, the world size and its place on the node from variables its
launcher sets. They differ per launcher; the first launcher whose rank variable is
present wins. Under Slurm, ``srun`` sets SLURM_PROCID in job steps; a batch script
(step "batch") is not a rank.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Launcher:
    name: str
    rank: str
    size: str
    local_rank: str
    local_size: str


#: in order of precedence: a process manager's own variables before Slurm's (mpirun inside an
#: allocation also inherits SLURM_* of the batch step)
LAUNCHERS = (
    Launcher("mpiexec (MPICH Hydra)", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
    Launcher("mpirun (Open MPI)", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
             "OMPI_COMM_WORLD_LOCAL_SIZE"),
    Launcher("mpiexec (Cray PALS)", "PALS_RANKID", "PALS_SIZE", "PALS_LOCAL_RANKID", "PALS_LOCAL_SIZE"),
    Launcher("mpirun (MVAPICH2)", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_LOCAL_RANK",
             "MV2_COMM_WORLD_LOCAL_SIZE"),
    Launcher("PMIx launcher", "PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE"),
    Launcher("srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"),
)

_NOT_A_STEP = (None, "", "batch", "extern", "4294967294", "4294967295")


def _int(var: str) -> int | None:
    try:
        return int(os.environ[var].split("(")[0].split(",")[0])  # SLURM_NTASKS_PER_NODE: "2(x2)"
    except (KeyError, ValueError):
        return None


def detect() -> Launcher | None:
    """The launcher that started this process as a rank, or None (a plain process, a batch script)."""
    for launcher in LAUNCHERS:
        if launcher.rank in os.environ:
            if launcher.name == "srun" and os.environ.get("SLURM_STEP_ID") in _NOT_A_STEP:
                continue
            return launcher
    return None


def inside_launcher() -> bool:
    """True when this process was started by mpiexec/mpirun/srun as one of its ranks."""
    return detect() is not None


def rank() -> int:
    """This process's rank as its launcher says (0 outside one)."""
    launcher = detect()
    value = _int(launcher.rank) if launcher else None
    return value or 0


def world_size() -> int | None:
    """The number of ranks the launcher started (None outside one, or when it does not say)."""
    launcher = detect()
    return _int(launcher.size) if launcher else None


def name() -> str:
    """How the ranks were started, for the trace's /env record."""
    if os.environ.get("HPCSKETCH_LAUNCHED"):
        return os.environ.get("HPCSKETCH_LAUNCHER_NAME", "hpcsketch -n")
    launcher = detect()
    return launcher.name if launcher else "singleton"
