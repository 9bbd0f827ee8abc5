"""``hpcsketch hessian TRACE.h5``: measure the loss Hessian of the model in a trace's checkpoint.

Runs write a checkpoint when stopped by a signal and every ``[run] checkpoint_every``
rounds; its state ``x`` is the model. The problem (data, model, partition) is rebuilt
from the job the trace recorded, the settings come from the job's ``[hessian]``
section (defaults when it has none) with the command line's flags on top, and the
probes from the job seed and the checkpoint's round: the result equals what the
run would have measured at that round with the same settings. Any number of ranks
can measure (under mpiexec/srun, or ``-n N`` to start them); rank 0 prints the table
and writes the result as an HDF5 file with a /hessian group laid out as in a trace.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from hpcsketch.errors import BadInput

#: command-line flag -> [hessian] key
FLAGS = {"lanczos_steps": "--lanczos-steps", "probes": "--probes", "top": "--top", "grid": "--grid",
         "sigma": "--sigma", "batch": "--batch", "data": "--data"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", metavar="TRACE.h5", help="a trace with a /checkpoint")
    p.add_argument("--rank", default="0", metavar="R",
                   help="whose checkpointed model: rank R (server methods: every rank holds the same model), "
                        "or 'mean' for the average over ranks (a decentralized run's average model); default 0")
    for key, flag in FLAGS.items():
        kind = float if key == "sigma" else (_number_or_fraction if key == "data" else int)
        p.add_argument(flag, dest=key, type=kind, default=None, help=f"[hessian] {key} (default: the job's)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="HDF5 file for the result (default: TRACE's name with -hessian-step<S>.h5)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("-n", "--ranks", type=int, default=None,
                   help="outside an MPI launcher: start this many ranks with mpiexec (inside one: must equal the world size)")
    p.add_argument("--launcher", default=os.environ.get("HPCSKETCH_LAUNCHER"),
                   help="launcher command used with -n instead of the venv's mpiexec (env HPCSKETCH_LAUNCHER)")


def _number_or_fraction(text: str) -> float | int:
    v = float(text)
    return int(v) if v > 1 and v.is_integer() else v


def run(args: argparse.Namespace) -> int:
    from hpcsketch import launch

    launch.check_ranks(args.ranks)
    trace = Path(args.trace)
    settings_overrides = _checked_flags(args)
    out = Path(args.out) if args.out else None
    inside = launch.inside_launcher()
    if args.ranks is not None and not inside and (args.ranks > 1 or args.launcher):
        _check_source(trace, args.rank)  # bad input before any rank starts
        rank_args = ["hessian", str(trace), "--rank", str(args.rank)]
        for key, flag in FLAGS.items():
            if getattr(args, key) is not None:
                rank_args += [flag, str(getattr(args, key))]
        if out is not None:
            rank_args += ["--out", str(out)]
        if args.force:
            rank_args.append("--force")
        return launch.spawn(args.ranks, rank_args, launcher=args.launcher)
    world_size = launch.launcher_world_size() if inside else None
    if inside and args.ranks is not None and world_size is not None and args.ranks != world_size:
        raise BadInput(f"-n {args.ranks} but the launcher started {world_size} ranks; drop -n inside mpirun/srun", field="-n")
    return measure_checkpoint(trace, args.rank, settings_overrides, out, force=args.force)


def _checked_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The given flags, validated as their [hessian] keys are."""
    from hpcsketch.config.schema import section_keys

    keys = section_keys("hessian")
    values = {}
    for key, flag in FLAGS.items():
        v = getattr(args, key)
        if v is None:
            continue
        norm, err = keys[key].validate(v)
        if err:
            raise BadInput(err, field=flag)
        values[key] = norm
    return values


def _check_source(trace: Path, rank: str) -> tuple[Any, Any]:
    """The trace's job and the trace, refusing what cannot be measured (one line)."""
    from hpcsketch.config.job import job_from_trace
    from hpcsketch.tracing.reader import read_trace

    t = read_trace(trace)
    if "checkpoint_step" not in t.attrs:
        raise BadInput(f"has no checkpoint (status {t.status}); runs write one when stopped by a signal and every "
                       "[run] checkpoint_every rounds", source=str(trace))
    job = job_from_trace(trace)
    if rank != "mean":
        try:
            r = int(rank)
        except ValueError:
            raise BadInput(f"expected a rank number or 'mean', got {rank!r}", field="--rank") from None
        size = int(t.attrs.get("world_size", 1))
        if not 0 <= r < size:
            raise BadInput(f"rank {r} is not in the checkpoint (ranks 0..{size - 1})", field="--rank")
    return job, t


def _model(trace: Path, rank: str) -> tuple[np.ndarray, int, int]:
    """(model x, checkpoint step, the checkpoint's world size) of rank ``rank`` or the mean over ranks."""
    from hpcsketch.tracing.reader import read_checkpoint

    first = read_checkpoint(trace, 0, resuming=False)
    ranks = range(first.world_size) if rank == "mean" else [int(rank)]
    xs = []
    for r in ranks:
        state = first.state if r == 0 else read_checkpoint(trace, r, resuming=False).state
        if "x" not in state:
            raise BadInput(f"the checkpoint of rank {r} holds no model x", source=str(trace))
        xs.append(np.asarray(state["x"]))
    x = xs[0] if len(xs) == 1 else np.mean(xs, axis=0).astype(xs[0].dtype)
    return x, first.step, first.world_size


def default_out(trace: Path, step: int) -> Path:
    return trace.with_name(f"{trace.stem}-hessian-step{step}.h5")


def measure_checkpoint(trace: Path, rank: str, overrides: dict[str, Any], out: Path | None, *, force: bool = False,
                       world: Any = None, quiet: bool = False) -> int:
    """Measure on ``world`` (default COMM_WORLD); rank 0 prints and writes. Returns the exit code."""
    from mpi4py import MPI

    from hpcsketch import __version__, environment
    from hpcsketch.backend import limit_cpu_threads, select_backend
    from hpcsketch.comm.communicator import Communicator
    from hpcsketch.hessian.measure import Settings, measure, table_rows
    from hpcsketch.problems import REGISTRY as PROBLEMS
    from hpcsketch.progress import print_summary
    from hpcsketch.tracing.writer import append_hessian_row, now_iso

    world = world or MPI.COMM_WORLD
    job, t = _check_source(trace, rank)
    settings = Settings.from_section(job.hessian, **overrides)
    conflict = settings.conflict()
    if conflict:
        key, what = conflict
        raise BadInput(what, field=FLAGS[key] if key in overrides else f"[hessian] {key}", source=str(trace))
    x, step, ckpt_size = _model(trace, rank)
    out = out or default_out(trace, step)
    if out.exists() and not force:
        raise BadInput("exists; pass --force to replace it", source=str(out), field="--out")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise BadInput("its directory does not exist or is not writable", source=str(out), field="--out")

    limit_cpu_threads(job.run.threads)
    lrank, lsize = environment.local_rank_and_size(world)
    backend = select_backend(job.run.backend, lrank, lsize)
    problem = PROBLEMS.get(job.problem.kind)(dict(job.problem), dict(job.clients), backend, job.run.seed)
    if x.shape != (problem.dim,):
        raise BadInput(f"the checkpoint's model has shape {x.shape}, the job's problem d = {problem.dim}", source=str(trace))
    comm = Communicator(world, backend)
    m = measure(problem, comm, backend.asarray(x, dtype=problem.dtype), settings, job.run.seed, step)
    if world.Get_rank() != 0:
        return 0
    if out.exists():
        out.unlink()  # --force
    attrs = {**settings.attrs(), "dim": m.dim, "trace": str(trace), "run_id": t.attrs.get("run_id", ""), "checkpoint_step": step,
             "checkpoint_rank": rank, "checkpoint_world_size": ckpt_size, "world_size": world.Get_size(),
             "problem": job.problem.kind, "model": job.problem.model or "", "seed": job.run.seed,
             "hpcsketch_version": __version__, "created": now_iso()}
    append_hessian_row(out, m.row(), attrs, 0)
    if not quiet:
        rows = [("trace", str(trace)), ("model", f"{job.problem.kind} {job.problem.model or ''}".strip()),
                ("checkpoint", f"round {step}, " + ("mean over ranks" if rank == "mean" else f"rank {rank}")),
                ("measured on", f"{world.Get_size()} rank{'s' if world.Get_size() != 1 else ''}"),
                *table_rows(m), ("written", str(out))]
        print_summary(rows, title="loss Hessian")
    return 0
