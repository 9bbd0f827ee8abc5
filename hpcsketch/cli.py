"""The ``hpcsketch`` command line.

Exit codes: 0 success (completed or diverged runs), 1 run failure, 2 bad input
(usage, job file, paths), 3 interrupted (signal / time limit; the trace is
flushed and marked interrupted).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from hpcsketch import __version__
from hpcsketch.errors import EXIT_BAD_INPUT, EXIT_FAILURE, BadInput, HpcsketchError, one_line


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _err(msg: str) -> None:
    """Only one rank prints a bad-input line (every rank finds the same one)."""
    from hpcsketch.launchers import rank

    if rank() == 0:
        print(f"hpcsketch: error: {one_line(msg)}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- run


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("job", nargs="?", help="TOML job file (not with --resume)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a job key (repeatable), e.g. --set algorithm.lr=0.1")
    p.add_argument("--resume", default=None, metavar="TRACE.h5",
                   help="continue an interrupted run from its checkpoint, appending to its trace")
    p.add_argument("-n", "--ranks", type=int, default=None,
                   help="outside an MPI launcher: start this many ranks with mpiexec (inside one: must equal the world size)")
    p.add_argument("--out", default=None, help="output directory (overrides [run] out)")
    p.add_argument("--launcher", default=os.environ.get("HPCSKETCH_LAUNCHER"),
                   help="launcher command used with -n instead of the venv's mpiexec, e.g. 'srun --mpi=pmi2' (env HPCSKETCH_LAUNCHER)")
    p.add_argument("--point", type=int, default=None, help="run only this sweep grid point (0-based; default: all, in turn)")
    p.add_argument("--run-id", default=None,
                   help="run id in the trace's file name and attributes (default: time and random; hpcsketch slurm passes slurm-JOBID)")
    p.add_argument("--trace", default=None, help="trace file path (default: OUT/NAME-RUNID.h5)")
    p.add_argument("--force", action="store_true", help="replace the --trace file if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary")
    p.add_argument("--inject-fault", default=None, metavar="rank=R,round=T,kind=raise|kill|nan|term",
                   help="fault injection for reliability tests")
    p.add_argument("--skip-finished", action="store_true",
                   help="skip sweep points that already have a completed trace in the output directory")


def _load(args: argparse.Namespace, world_size: int | None = None) -> Any:
    from hpcsketch.config.job import load_job

    return load_job(args.job, args.overrides, world_size=world_size)


def _select_points(job: Any, point: int | None) -> list[Any]:
    points = job.points()
    if point is None:
        return points
    if not 0 <= point < len(points):
        raise BadInput(f"sweep point {point} does not exist; the job has points 0..{len(points) - 1}", field="--point")
    return [points[point]]


def cmd_run(args: argparse.Namespace) -> int:
    from hpcsketch import launch

    launch.check_ranks(args.ranks)
    inside = launch.inside_launcher()
    world_size = launch.launcher_world_size() if inside else args.ranks
    if args.resume:
        if args.job or args.overrides or args.trace or args.point is not None:
            raise BadInput("--resume takes the job, the sweep point and the trace from the trace itself; "
                           "drop the job file, --set, --point and --trace", field="--resume")
        from hpcsketch.config.job import job_from_trace
        from hpcsketch.tracing.liveness import refuse_live_writer

        job = job_from_trace(args.resume)
        # two writers would corrupt it: an orphaned run, or one in another terminal, still owns it
        refuse_live_writer(args.resume, "resume it")
        args.trace = args.resume
    elif not args.job:
        raise BadInput("give a job file (or --resume TRACE.h5)", field="run")
    else:
        job = _load(args, world_size=world_size)
    if args.trace and len(job.points()) > 1 and args.point is None:
        raise BadInput("--trace names one file but the job has a sweep; add --point I or drop --trace", field="--trace")
    points = _select_points(job, args.point)
    if args.inject_fault:
        from hpcsketch.faults import FaultSpec

        FaultSpec.parse(args.inject_fault)

    if args.ranks is not None and not inside and (args.ranks > 1 or args.launcher):
        return _spawn_run(args, job, points)
    if inside and args.ranks is not None and world_size is not None and args.ranks != world_size:
        raise BadInput(f"-n {args.ranks} but the launcher started {world_size} ranks; drop -n inside mpirun/srun", field="-n")
    return _run_here(args, points)


def _spawn_run(args: argparse.Namespace, job: Any, points: list[Any]) -> int:
    """The launcher parent: not a rank, so nothing here may load MPI (hpcsketch.launch says why)."""
    from hpcsketch import launch
    from hpcsketch.tracing.paths import new_run_id, trace_path_for
    from hpcsketch.tracing.writer import prepare_out_dir

    if args.resume:  # everything lives beside the trace: nothing is created anywhere else
        rank_args = ["run", "--resume", args.resume]
        traces = [Path(args.resume)]
    else:
        base_id = args.run_id or new_run_id()
        prepare_out_dir(args.out or job.run.out)
        traces = []
        for p in points:
            rid = base_id if len(points) == 1 else f"{base_id}-p{p.point_index}"
            traces.append(Path(args.trace) if args.trace else trace_path_for(p, rid, args.out))
        rank_args = ["run", args.job, *sum((["--set", o] for o in args.overrides), []), "--run-id", base_id]
    for flag, value in (("--out", None if args.resume else args.out), ("--point", None if args.resume else args.point),
                        ("--trace", None if args.resume else args.trace), ("--inject-fault", args.inject_fault)):
        if value is not None:
            rank_args += [flag, str(value)]
    if args.force:
        rank_args.append("--force")
    if getattr(args, "skip_finished", False):
        rank_args.append("--skip-finished")
    if args.quiet:
        rank_args.append("--quiet")
    return launch.spawn(args.ranks, rank_args, launcher=args.launcher, traces=traces)


def _run_here(args: argparse.Namespace, points: list[Any]) -> int:
    from hpcsketch.runner import FaultSpec, RunOptions, run_job

    worst = 0
    if getattr(args, "skip_finished", False):
        points = _unfinished(points, args.out)
    for p in points:
        rid = args.run_id
        if rid and len(points) > 1 or (rid and p.point_index is not None and args.point is None):
            rid = f"{args.run_id}-p{p.point_index}"
        opts = RunOptions(
            run_id=rid,
            out=args.out,
            trace_path=args.trace,
            force=args.force,
            quiet=args.quiet,
            fault=FaultSpec.parse(args.inject_fault) if args.inject_fault else None,
            resume=bool(getattr(args, "resume", None)),
        )
        code = run_job(p, opts)
        worst = max(worst, code)
        if code in (EXIT_BAD_INPUT, EXIT_FAILURE):
            break
    return worst


def _unfinished(points: list[Any], out: str | None) -> list[Any]:
    """Sweep points without a completed trace (decided on rank 0, the same on every rank)."""
    from mpi4py import MPI

    from hpcsketch.sweep import finished_points

    world = MPI.COMM_WORLD
    done = finished_points(points, out) if world.Get_rank() == 0 else None
    done = world.bcast(done, root=0)
    todo = [p for p in points if p.point_index not in done]
    if world.Get_rank() == 0 and done:
        print(f"hpcsketch: {len(done)} of {len(points)} points already completed; running {len(todo)}", file=sys.stderr)
    return todo


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.list:
        job = _load(args)
        from hpcsketch.sweep import finished_points

        points = job.points()
        done = finished_points(points, args.out)
        for p in points:
            mark = "done" if p.point_index in done else "todo"
            print(f"{p.point_index if p.point_index is not None else 0:4d}  {mark}  {p.name}")
        return 0
    args.skip_finished = True
    return cmd_run(args)


# ---------------------------------------------------------------- validate / info


def cmd_validate(args: argparse.Namespace) -> int:
    if args.keys:
        from hpcsketch.config.schema import keys_table_markdown

        print(keys_table_markdown())
        return 0
    if args.schema:
        from hpcsketch.tracing.schema import schema_markdown

        print(schema_markdown())
        return 0
    if not args.job:
        raise BadInput("give a job file (or --keys / --schema)", field="validate")
    job = _load(args, world_size=args.ranks)
    points = job.points()
    print(f"{args.job}: valid ({len(points)} run{'s' if len(points) != 1 else ''})")
    if args.verbose:
        for p in points:
            label = f" point {p.point_index}: {p.point}" if p.point else ""
            print(f"--{label}")
            for sec, values in p.resolved().items():
                print(f"[{sec}] " + ", ".join(f"{k}={v!r}" for k, v in values.items() if v is not None))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    if args.topology is not None:  # a description of a graph: no MPI needed
        from hpcsketch.topology.report import info

        return info(args.topology, args.nodes, args.weights, args.option)
    from hpcsketch import launch

    launch.check_ranks(args.ranks)
    if args.ranks is not None and args.ranks > 1 and not launch.inside_launcher():
        # as run does: the world described is the one these ranks make
        return launch.spawn(args.ranks, ["info"], launcher=args.launcher)
    from mpi4py import MPI

    from hpcsketch import environment
    from hpcsketch.backend import cupy_module, gpu_count

    world = MPI.COMM_WORLD
    hosts = world.gather(environment.hostname(), root=0)
    if world.Get_rank() != 0:
        return 0
    aware, how = environment.cuda_aware_mpi()
    ngpu = gpu_count()
    rows = [
        ("hpcsketch", __version__),
        ("MPI library", environment.mpi_library()),
        ("MPI vendor", environment.mpi_vendor()),
        ("world size", str(world.Get_size())),
        ("hosts", ", ".join(sorted(set(hosts or [])))),
        ("launcher", environment.launcher_name()),
        ("thread level", {MPI.THREAD_SINGLE: "single", MPI.THREAD_FUNNELED: "funneled",
                          MPI.THREAD_SERIALIZED: "serialized", MPI.THREAD_MULTIPLE: "multiple"}.get(MPI.Query_thread(), "?")),
        ("GPUs", str(ngpu) + ("" if cupy_module() else " (CuPy not available: backend auto = numpy)")),
        ("backend auto", "cupy" if ngpu else "numpy"),
        ("CUDA-aware MPI", f"{'yes' if aware else 'no'} ({how})" + ("" if aware or not ngpu else "; device buffers are staged through pinned host memory")),
    ]
    for k, v in environment.versions().items():
        rows.append((k, v or "-"))
    from hpcsketch.progress import print_summary

    print_summary(rows, title="hpcsketch info")
    return 0


# ---------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    return args.bench_run(args)


def _add_bench(sub: Any, full: bool = True) -> None:
    bench = sub.add_parser("bench", help="benchmarks: kernels, comm, overhead")
    if not full:
        return
    bsub = bench.add_subparsers(dest="bench", required=True, parser_class=_Parser)
    import importlib

    for name, module, help_ in (
        ("kernels", "hpcsketch.bench.kernels", "kernel times against a memory copy"),
        ("comm", "hpcsketch.bench.comm", "collectives: latency, algbw, busbw, harness overhead"),
        ("overhead", "hpcsketch.bench.overhead", "harness round overhead against a bare mpi4py + torch loop"),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        p = bsub.add_parser(name, help=help_)
        mod.add_arguments(p)
        p.set_defaults(func=cmd_bench, bench_run=mod.run)


# ---------------------------------------------------------------- main


#: commands whose options come from their own module, imported only when the command is chosen
#: (``analyze``'s import pandas and h5py): name -> (help, module, add_arguments, run)
_MODULE_COMMANDS = {
    "slurm": ("an sbatch script for a job (array job for a sweep); --submit hands it to sbatch",
              "hpcsketch.slurm", "add_arguments", "run"),
    "hessian": ("loss-Hessian spectrum (top eigenvalues, density, kappa) of a trace's checkpointed model",
                "hpcsketch.hessian.cli", "add_arguments", "run"),
    "analyze": ("read traces, write plots, tables, CSV and a markdown report",
                "hpcsketch.analysis.cli", "add_arguments", "run"),
}


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the top-level
    options, --help and --version, take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. With ``argv`` only the command it names gets its options (the others are
    listed with their help), so ``hpcsketch run`` on every rank and ``hpcsketch --help``
    import no command module they do not use; without, every command is complete."""
    import importlib

    chosen = None if argv is None else _chosen_command(argv)

    def full(name: str) -> bool:
        return argv is None or chosen == name

    parser = _Parser(prog="hpcsketch", description="Benchmark communication-efficient distributed learning under MPI.")
    parser.add_argument("--version", action="version", version=f"hpcsketch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run a job (joins the MPI world; with -n outside one, launches mpiexec)")
    _add_run_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="run every grid point of a job's [sweep] in turn, skipping completed ones")
    _add_run_args(p)
    p.add_argument("--list", action="store_true", help="list the grid points and which are done")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("validate", help="check a job file without running it")
    p.add_argument("job", nargs="?", help="TOML job file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("-n", "--ranks", type=int, default=None, help="check against this many ranks")
    p.add_argument("-v", "--verbose", action="store_true", help="print every resolved key")
    p.add_argument("--keys", action="store_true", help="print the table of job-file keys (markdown)")
    p.add_argument("--schema", action="store_true", help="print the HDF5 trace schema (markdown)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("info", help="MPI library, world size, CUDA-awareness, devices, versions; or a topology (--topology)")
    p.add_argument("--topology", default=None, metavar="KIND",
                   help="describe this [topology] kind instead: neighbour lists, degrees, W, checks, spectral gap")
    p.add_argument("--nodes", type=int, default=None, metavar="P", help="with --topology: number of nodes (ranks)")
    p.add_argument("--weights", default="metropolis", help="with --topology: mixing weights (metropolis | uniform)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="with --topology: another [topology] key, e.g. --option degree=4 (repeatable)")
    p.add_argument("-n", "--ranks", type=int, default=None,
                   help="outside an MPI launcher: describe the world of this many ranks started with mpiexec")
    p.add_argument("--launcher", default=os.environ.get("HPCSKETCH_LAUNCHER"),
                   help="launcher command used with -n instead of the venv's mpiexec (env HPCSKETCH_LAUNCHER)")
    p.set_defaults(func=cmd_info)

    _add_bench(sub, full("bench"))

    for name, (help_, module, add_arguments, run) in _MODULE_COMMANDS.items():
        p = sub.add_parser(name, help=help_)
        if full(name):
            mod = importlib.import_module(module)
            getattr(mod, add_arguments)(p)
            p.set_defaults(func=getattr(mod, run))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(func(args) or 0)
    except BadInput as e:
        _err(str(e))
        return EXIT_BAD_INPUT
    except HpcsketchError as e:
        _err(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
