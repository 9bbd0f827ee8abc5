"""``hpcsketch slurm``: an sbatch script for a job, from the templates in ``slurm/``.

A job without a sweep renders ``single.sbatch`` (CPU) or ``gpu.sbatch`` (with
``--gpus-per-node``: one rank per GPU); a job with a ``[sweep]`` renders
``array.sbatch``, one array task per grid point. ``--resume TRACE`` renders a job
that continues an interrupted run. The script prints to stdout, goes to
``--script FILE``, or is handed to ``sbatch`` (``--submit``, ``--wait``).

The templates ship as package data (``hpcsketch.slurm_templates``, mapped to the
top-level ``slurm/`` directory in setup.cfg), so an installed ``hpcsketch`` finds
them too. Like launch.py, this module must not import ``mpi4py.MPI``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from hpcsketch.errors import BadInput

TEMPLATES = "hpcsketch.slurm_templates"

#: Slurm's largest --signal time (a 16-bit field)
MAX_SIGNAL_SECONDS = 65535

_TIME = re.compile(r"(?:(?P<days>\d+)-)?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2})")
#: what may stand in an #SBATCH line: no whitespace, quotes or shell syntax
_SBATCH_VALUE = re.compile(r"[A-Za-z0-9_.,:@+/=%-]+")
#: characters that stay literal inside a double-quoted shell string
_DQ_SPECIAL = re.compile(r'([\\"$`])')


def template_text(name: str) -> str:
    """The text of one template, e.g. ``single.sbatch``."""
    return importlib.resources.files(TEMPLATES).joinpath(name).read_text()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("job", nargs="?", help="TOML job file (not with --resume)")
    p.add_argument("--resume", default=None, metavar="TRACE.h5", help="a job that continues this interrupted run")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a job key (repeatable), passed on to the job")
    p.add_argument("--out", default=None, help="trace (and Slurm log) directory (default: the job's [run] out)")
    p.add_argument("--nodes", type=int, default=1, help="nodes (default 1)")
    p.add_argument("--ntasks-per-node", type=int, default=None,
                   help="ranks per node (default: --gpus-per-node, else 1; with --resume: the checkpoint's ranks / --nodes)")
    p.add_argument("--gpus-per-node", type=int, default=None, help="GPUs per node: one rank per GPU (the gpu template)")
    p.add_argument("--cpus-per-task", type=int, default=None, help="CPU cores per rank (OMP_NUM_THREADS follows it)")
    p.add_argument("--time", default=None, metavar="[D-]HH:MM:SS", help="time limit (default: the partition's)")
    p.add_argument("--partition", default=None, help="Slurm partition")
    p.add_argument("--account", default=None, help="Slurm account")
    p.add_argument("--signal-seconds", type=int, default=120,
                   help="SIGUSR1 this many seconds before the time limit: the run flushes, checkpoints and ends "
                        "interrupted (default 120; Slurm may send it up to 60 s earlier)")
    p.add_argument("--launcher", default=None,
                   help="what starts the ranks inside the job (default: 'srun --mpi=pmi2' with the pip MPICH "
                        "package in this environment, else 'srun')")
    p.add_argument("--throttle", type=int, default=None, metavar="K",
                   help="sweeps: at most K array tasks run at a time (--array=0-N%%K)")
    p.add_argument("--script", default=None, metavar="FILE", help="write the script here (default: print it)")
    p.add_argument("--submit", action="store_true", help="submit it with sbatch and print the job id")
    p.add_argument("--wait", action="store_true",
                   help="submit, wait for the job to end and return its exit code (sbatch --wait)")


def parse_time(text: str) -> int:
    """``HH:MM:SS`` or ``D-HH:MM:SS`` in seconds; anything else is bad input."""
    m = _TIME.fullmatch(text.strip())
    if not m or int(m["m"]) > 59 or int(m["s"]) > 59:
        raise BadInput(f"expected HH:MM:SS or D-HH:MM:SS (minutes and seconds below 60), got {text!r}", field="--time")
    seconds = int(m["days"] or 0) * 86400 + int(m["h"]) * 3600 + int(m["m"]) * 60 + int(m["s"])
    if seconds == 0:
        raise BadInput("a time limit of zero is no limit to run in", field="--time")
    return seconds


def default_launcher() -> tuple[str, str]:
    """The launcher for this Python environment, and a comment saying why."""
    try:
        version = importlib.metadata.version("mpich")
    except importlib.metadata.PackageNotFoundError:
        return "srun", ("no MPI package in this Python environment: the site's MPI is used; plain srun needs "
                        "Slurm's MpiDefault to match it (else --mpi=pmix or pmi2, see srun --mpi=list)")
    return "srun --mpi=pmi2", f"the pip MPICH package ({version}) is in this Python environment: srun starts it over PMI2"


def _sbatch_value(value: str | None, flag: str) -> str:
    """A value for an #SBATCH line ('' drops the line); rejects what the line cannot carry."""
    if value is None:
        return ""
    if not _SBATCH_VALUE.fullmatch(value):
        raise BadInput(f"{value!r} cannot go into an #SBATCH line (whitespace, quotes or shell characters)", field=flag)
    return value


def _dq(text: str) -> str:
    """Text to put inside a double-quoted shell string as is."""
    return _DQ_SPECIAL.sub(r"\\\1", text)


def _job_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)[:100] or "hpcsketch"


@dataclass
class Script:
    text: str
    name: str  # the Slurm job name (%x)
    template: str  # single.sbatch | gpu.sbatch | array.sbatch
    tasks: int  # array tasks (1 without a sweep)
    out: Path  # where the traces and the Slurm log go


def _check_resources(args: argparse.Namespace) -> int | None:
    """Validate the numbers and the time limit; returns the ranks per node if they are decided here."""
    for value, flag in ((args.nodes, "--nodes"), (args.ntasks_per_node, "--ntasks-per-node"),
                        (args.gpus_per_node, "--gpus-per-node"), (args.cpus_per_task, "--cpus-per-task"),
                        (args.throttle, "--throttle"), (args.signal_seconds, "--signal-seconds")):
        if value is not None and value < 1:
            raise BadInput(f"expected a number >= 1, got {value}", field=flag)
    if args.signal_seconds > MAX_SIGNAL_SECONDS:
        raise BadInput(f"Slurm takes at most {MAX_SIGNAL_SECONDS} s, got {args.signal_seconds}", field="--signal-seconds")
    if args.time is not None:
        limit = parse_time(args.time)
        if args.signal_seconds >= limit:
            raise BadInput(f"the warning {args.signal_seconds} s before the limit would come before the run starts "
                           f"(--time {args.time} is {limit} s); give a smaller --signal-seconds", field="--signal-seconds")
    if args.gpus_per_node is None:
        return args.ntasks_per_node
    if args.ntasks_per_node is not None and args.ntasks_per_node != args.gpus_per_node:
        raise BadInput(f"one rank per GPU: --ntasks-per-node {args.ntasks_per_node} must equal --gpus-per-node "
                       f"{args.gpus_per_node} (or be left out)", field="--ntasks-per-node")
    return args.gpus_per_node


def _launcher(args: argparse.Namespace) -> tuple[str, str, str]:
    """The launcher, a comment on it, and the --signal value that reaches the ranks through it."""
    launcher, note = (args.launcher, "the launcher given to hpcsketch slurm --launcher") if args.launcher else default_launcher()
    try:
        words = shlex.split(launcher)
    except ValueError as e:
        raise BadInput(f"cannot split {launcher!r} into words ({e})", field="--launcher") from None
    if not words:
        raise BadInput("empty launcher command", field="--launcher")
    # srun's tasks are the job step that --signal (without B:) reaches; any other launcher
    # runs inside the batch step, so the batch shell gets the signal (B:) and hands it on
    prefix = "" if Path(words[0]).name == "srun" else "B:"
    return launcher, note, f"{prefix}USR1@{args.signal_seconds}"


def render(args: argparse.Namespace) -> Script:
    """The script for ``args`` (the parsed ``hpcsketch slurm`` options); bad input raises BadInput."""
    ntasks = _check_resources(args)
    if args.resume:
        job, ntasks, run_args, traces, out = _resume(args, ntasks)
    else:
        if not args.job:
            raise BadInput("give a job file (or --resume TRACE.h5)", field="slurm")
        from hpcsketch.config.job import load_job
        from hpcsketch.config.memory import ranks_run_elsewhere

        ntasks = ntasks or 1
        job_path = Path(args.job).absolute()
        with ranks_run_elsewhere():  # this is a login node; the ranks check their own node's memory
            job = load_job(job_path, args.overrides, world_size=args.nodes * ntasks)
        out = Path(args.out or job.run.out).absolute()
        run_args = " ".join([shlex.quote(str(job_path)), *(f"--set {shlex.quote(o)}" for o in args.overrides),
                             "--out", shlex.quote(str(out)), '--run-id "$RUN_ID"'])
        traces = f'{shlex.quote(str(out))}/*-"$RUN_ID".h5'
    # a sweep is an array job even with one point; a resumed sweep point is one run
    array = bool(job.sweep) and not args.resume
    tasks = len(job.points()) if array else 1
    if args.throttle is not None and not array:
        raise BadInput("--throttle limits the array tasks of a sweep, and this job has no [sweep]", field="--throttle")
    template = "array.sbatch" if array else "gpu.sbatch" if args.gpus_per_node else "single.sbatch"

    launcher, note, signal = _launcher(args)
    resume_options = [f"--nodes {args.nodes}", f"--ntasks-per-node {ntasks}"]
    for flag, value in (("--gpus-per-node", args.gpus_per_node), ("--cpus-per-task", args.cpus_per_task),
                        ("--time", args.time), ("--partition", args.partition), ("--account", args.account),
                        ("--signal-seconds", args.signal_seconds), ("--launcher", args.launcher)):
        if value is not None:
            resume_options.append(f"{flag} {shlex.quote(str(value))}")
    workdir = Path.cwd()
    values: dict[str, Any] = {
        "name": _job_name(job.sections["run"]["name"]),
        "nodes": args.nodes,
        "ntasks_per_node": ntasks,
        "gpus_per_node": args.gpus_per_node or "",
        "cpus_per_task": args.cpus_per_task or "",
        "time": _sbatch_value(args.time, "--time"),
        "partition": _sbatch_value(args.partition, "--partition"),
        "account": _sbatch_value(args.account, "--account"),
        "workdir": _sbatch_value(str(workdir), "working directory"),
        "out": _sbatch_value(str(out), "--out"),
        "signal": signal,
        "signal_seconds": args.signal_seconds,
        "python": shlex.quote(sys.executable),
        "launcher": shlex.quote(launcher),
        "launcher_note": note,
        "run_args": run_args,
        "traces": traces,
        "resume_options": _dq(" ".join(resume_options)),
        "points": tasks,
        "array": f"0-{tasks - 1}" + (f"%{args.throttle}" if args.throttle else ""),
    }
    text = Template(template_text(template)).substitute(values)
    # a template line "#SBATCH --opt=" whose value is unset is dropped: Slurm's default applies
    text = "".join(line for line in text.splitlines(keepends=True) if not re.fullmatch(r"#SBATCH --[\w-]+=\s*", line))
    return Script(text=text, name=values["name"], template=template, tasks=tasks, out=out)


def _resume(args: argparse.Namespace, ntasks: int | None) -> tuple[Any, int, str, str, Path]:
    """Job, ranks per node, run arguments, trace glob and output directory for ``--resume``."""
    if args.job or args.overrides or args.out is not None:
        raise BadInput("takes the job and its sweep point from the trace and appends to it; drop the job "
                       "file, --set and --out", field="--resume")
    from hpcsketch.config.job import job_from_trace
    from hpcsketch.tracing.reader import read_checkpoint

    trace = Path(args.resume).absolute()
    job = job_from_trace(trace)
    world = read_checkpoint(trace, 0).world_size  # also refuses a completed run or one without a checkpoint
    if ntasks is None:
        ntasks = world // args.nodes
    if args.nodes * ntasks != world:
        raise BadInput(f"was checkpointed on {world} ranks; resume it on {world} (--nodes {args.nodes} x "
                       f"--ntasks-per-node {ntasks} is {args.nodes * ntasks})", source=str(trace))
    quoted = shlex.quote(str(trace))
    return job, ntasks, f"--resume {quoted}", quoted, trace.parent


def run(args: argparse.Namespace) -> int:
    if args.wait:
        args.submit = True
    sbatch = shutil.which("sbatch") if args.submit else None
    if args.submit and sbatch is None:
        raise BadInput("sbatch is not on PATH (run this on a Slurm login node, or drop --submit to print the script)",
                       field="--submit")
    script = render(args)
    from hpcsketch.tracing.writer import prepare_out_dir

    # Slurm does not create the directory of --output: without it the job dies silently
    prepare_out_dir(script.out)
    if args.script:
        path = Path(args.script)
        try:
            path.write_text(script.text)
            path.chmod(0o755)
        except OSError as e:
            raise BadInput(f"cannot write {str(path)!r} ({e.strerror or e})", field="--script") from None
        print(f"hpcsketch: wrote {path} ({script.template}"
              + (f", {script.tasks} array tasks" if script.template == "array.sbatch" else "") + ")", file=sys.stderr)
    elif not args.submit:
        sys.stdout.write(script.text)
        return 0
    if not args.submit:
        return 0
    assert sbatch is not None
    return submit(sbatch, script, Path(args.script) if args.script else None, wait=args.wait)


def submit(sbatch: str, script: Script, path: Path | None, *, wait: bool) -> int:
    """Hand the script to sbatch; print the job id at once; with ``wait``, return the job's exit code."""
    cmd = [sbatch, "--parsable", *(["--wait"] if wait else []), *([str(path)] if path else [])]
    proc = subprocess.Popen(cmd, stdin=None if path else subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if path is None:
        assert proc.stdin is not None
        proc.stdin.write(script.text)
        proc.stdin.close()
    assert proc.stdout is not None
    job_id = proc.stdout.readline().strip().split(";")[0]  # --parsable: "ID" or "ID;CLUSTER", printed at once
    if job_id:
        print(job_id, flush=True)
        log = f"{script.name}-{job_id}" + ("_<task>" if script.template == "array.sbatch" else "") + ".out"
        print(f"hpcsketch: submitted job {job_id} ({script.template}); log {script.out / log}", file=sys.stderr, flush=True)
    rest = proc.stdout.read()
    if rest:
        sys.stdout.write(rest)
    return proc.wait()
