"""``hpcsketch analyze RESULTS... --out DIR`` (also ``python -m hpcsketch.analysis``).

Exit codes: 0 report written (at least one readable trace; each unreadable or
malformed file is listed, one line each on stderr and in report.md, and skipped);
2 bad input (a missing path, no trace found, no readable trace, a bad --link /
--metric / --out, a report that could not be written), with one line on stderr
(plus one line per unreadable file when several were given). A report that could
not be written in full leaves the --out directory as it was.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Iterable

from hpcsketch.errors import EXIT_BAD_INPUT, BadInput

if TYPE_CHECKING:
    from hpcsketch.analysis.load import Results

PROG = "hpcsketch analyze"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hpcsketch.analysis.network import PRESETS
    from hpcsketch.analysis.report import FORMATS

    parser.description = ("Read HDF5 traces into tables and write a markdown report, CSV files and plots. "
                          "Failed, interrupted, diverged and running runs are shown as such; unreadable files are listed.")
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="trace files, or directories searched recursively for *.h5")
    parser.add_argument("--out", default="analysis-out", metavar="DIR",
                        help="directory for report.md, the CSV files and the figures (default: analysis-out)")
    parser.add_argument("--metric", action="append", default=None, metavar="NAME",
                        help="metric to draw against rounds, bytes and time (repeatable or comma-separated; "
                             "default: loss, eval_loss, eval_accuracy where recorded)")
    parser.add_argument("--link", action="append", default=None, metavar="NAME=LAT,UP[,DOWN]",
                        help="network link to predict time on (repeatable): a preset ("
                             + ", ".join(PRESETS) + ") or e.g. lte=20ms,10Mbit,50Mbit; default: every preset")
    parser.add_argument("--target-accuracy", type=float, default=None, metavar="A",
                        help="report rounds, bytes and time to this eval accuracy (default: each job's [run] target_accuracy)")
    parser.add_argument("--target-loss", type=float, default=None, metavar="L",
                        help="report rounds, bytes and time to this eval loss (eval gap for quadratics)")
    parser.add_argument("--format", default="png", choices=FORMATS, help="figure file format (default: png)")


def run(args: argparse.Namespace) -> int:
    """Write the report; 0 on success, 2 with one line on stderr for bad input."""
    try:
        return _run(args)
    except BadInput as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hpcsketch.analysis.load import find_traces, load
    from hpcsketch.analysis.network import links_from_specs
    from hpcsketch.analysis.report import Options, write_report

    links = links_from_specs(args.link)  # bad --link before any file is read
    if args.target_accuracy is not None and not 0 < args.target_accuracy <= 1:
        raise BadInput(f"expected an accuracy in (0, 1], got {args.target_accuracy:g}", field="--target-accuracy")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput("exists and is not a directory; give a directory for the report", source=str(out), field="--out")
    files = find_traces(args.results)
    if not files:
        raise BadInput("no *.h5 trace found under " + ", ".join(args.results), field="RESULTS")
    results = load(files)
    if results.runs.empty and len(results.unreadable) == 1:  # one bad file: one line, the file's own
        only = results.unreadable[0]
        raise BadInput(f"none of the 1 file(s) is a readable trace: {only.path}: {only.reason}", field="RESULTS")
    for u in results.unreadable:  # one line each; the report lists them too
        print(f"{PROG}: unreadable, listed in the report: {u.path}: {u.reason}", file=sys.stderr)
    if results.runs.empty:
        raise BadInput(f"none of the {len(files)} file(s) is a readable trace (each is listed above); nothing written",
                       field="RESULTS")
    opts = Options(metrics=_metrics(results, args.metric), links=links, target_accuracy=args.target_accuracy,
                   target_loss=args.target_loss, fmt=args.format)
    write_report(results, out, opts)
    return 0


def _metrics(results: Results, wanted: Iterable[str] | None) -> list[str] | None:
    """--metric names, checked against what the traces record."""
    from hpcsketch.analysis import tables

    if not wanted:
        return None
    names = [w.strip() for item in wanted for w in item.split(",") if w.strip()]
    known = sorted(c for c in results.steps.columns if c not in ("run_id", "step") and tables.recorded(results.steps, c))
    for n in names:
        if n not in known:
            raise BadInput(f"no run records metric {n!r}; recorded: {', '.join(known) or 'none'}", field="--metric")
    return names


def main(argv: list[str] | None = None) -> int:
    from hpcsketch.cli import _Parser  # usage errors: one line and exit code 2, like `hpcsketch`

    parser = _Parser(prog="python -m hpcsketch.analysis")
    add_arguments(parser)
    return run(parser.parse_args(argv))
