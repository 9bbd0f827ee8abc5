"""OUT/report.md with the tables and the plots, CSV files, and the figures."""

from __future__ import annotations

import errno
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from hpcsketch.analysis import plots, tables
from hpcsketch.analysis.load import COMPLETE, Results, finite_float, fmt_value
from hpcsketch.analysis.network import Link, format_rate, format_seconds, predict
from hpcsketch.errors import BadInput
from hpcsketch.progress import human_bytes

FORMATS = ("png", "svg", "pdf")
CSV_FILES = ("runs", "steps", "timing", "targets", "network", "predictions")
#: written only when a run measured the loss Hessian
HESSIAN_CSV_FILES = ("hessian", "hessian_density")


@dataclass
class Options:
    metrics: list[str] | None = None
    links: list[Link] = field(default_factory=list)
    target_accuracy: float | None = None
    target_loss: float | None = None
    fmt: str = "png"


@dataclass
class ReportFigure:
    """One figure of the report: file stem, heading, the Plot (None: why it is absent)."""

    stem: str
    heading: str
    plot: plots.Plot | None
    absent: str = ""
    caption: str = ""
    #: left out of report.md when absent (figures that only some runs have a reason to draw)
    optional: bool = False


def prepare_out(out: str | os.PathLike[str]) -> Path:
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise BadInput("exists and is not a directory; give a directory for the report", source=str(p), field="--out")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"cannot create the report directory ({e.strerror or e})", source=str(p), field="--out") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise BadInput("directory is not writable", source=str(p), field="--out")
    return p


def figures(results: Results, opts: Options, predictions: pd.DataFrame) -> list[ReportFigure]:
    """Every figure the report shows, in order; each absent one says why."""
    out = []
    for x, stem in (("step", "curves_rounds"), ("cum_bytes_uplink", "curves_uplink_bytes"),
                    ("cum_bytes_mpi", "curves_mpi_bytes"), ("cum_seconds", "curves_time")):
        out.append(ReportFigure(stem, f"Against {plots.X_SHORT[x]}", plots.metric_curves(results, x, opts.metrics),
                          absent=f"no run records both {x} and one of the metrics"))
    out.append(ReportFigure("phases", "Time per round by phase", plots.phase_breakdown(results),
                      absent="no run has timing rows"))
    out.append(ReportFigure("scaling", "Scaling with ranks", plots.scaling_plot(results),
                      absent="no runs that differ only in world size"))
    out.append(ReportFigure("ratio", "Final quality vs compression ratio", plots.ratio_tradeoff(results),
                      absent="no run has both a compression ratio and a final value"))
    out.append(ReportFigure("consensus", "Consensus distance", plots.consensus(results),
                      absent="no run records consensus_distance (decentralized methods do)"))
    out.append(ReportFigure("network", "Predicted time on modelled links",
                      plots.network_prediction(results, predictions, opts.links),
                      absent="no evaluated steps to place on a predicted time axis"))
    for stem, heading, plot in (("hessian_density", "Loss-Hessian spectral density", plots.hessian_density(results)),
                                ("hessian_kappa", "Loss-Hessian kappa vs rounds", plots.hessian_kappa(results))):
        out.append(ReportFigure(stem, heading, plot, absent="no run measured the loss Hessian ([hessian])",
                                optional=True))
    return out


def write_report(results: Results, out: str | os.PathLike[str], opts: Options,
                 echo: Callable[[str], None] = print) -> list[Path]:
    """Write every file into ``out`` and return their paths; ``echo`` gets one line per file.

    Every file is first written into a hidden directory inside ``out`` and moved into place only
    when all of them were written, report.md last (an earlier report.md is removed first): a write
    that fails (a full file system) leaves ``out`` as it was, and a report.md is never beside figures
    or tables of another analysis.
    """
    if opts.fmt not in FORMATS:
        raise BadInput(f"unknown format {opts.fmt!r}; expected one of {', '.join(FORMATS)}", field="--format")
    out_dir = prepare_out(out)

    predictions = _predict(results, opts.links)
    goal = tables.targets(results, opts.target_accuracy, opts.target_loss)
    network = tables.network_summary(results, predictions, opts.links, goal)
    figs = figures(results, opts, predictions)
    text = render(results, opts, goal, network, figs)

    csvs = {"runs": results.runs, "steps": results.steps, "timing": results.timing, "targets": goal,
            "network": network, "predictions": predictions, "hessian": results.hessian,
            "hessian_density": results.hessian_density}
    files: list[tuple[str, Callable[[Path], Any]]] = []
    stale: list[tuple[str, str]] = []  # (file name, why) of an earlier report's files that would now be wrong
    for fig in figs:
        name = f"{fig.stem}.{opts.fmt}"
        if fig.plot is not None:
            files.append((name, lambda p, f=fig: plots.save(f.plot, str(p))))
        else:
            stale.append((name, fig.absent))
    for name in CSV_FILES:
        files.append((f"{name}.csv", lambda p, df=csvs[name]: df.to_csv(p, index=False)))
    for name in HESSIAN_CSV_FILES:
        if not results.hessian.empty:
            files.append((f"{name}.csv", lambda p, df=csvs[name]: df.to_csv(p, index=False)))
        else:
            stale.append((f"{name}.csv", "no run measured the loss Hessian"))
    files.append(("report.md", lambda p: p.write_text(text, encoding="utf-8")))

    try:
        stage = Path(tempfile.mkdtemp(prefix=".partial-report-", dir=out_dir))
    except OSError as e:
        raise BadInput(f"cannot write the report ({_os_reason(e)})", source=str(out_dir), field="--out") from None
    try:
        for name, write in files:
            write(stage / name)
        existed = {name: (out_dir / name).exists() for name, _ in files}
        (out_dir / "report.md").unlink(missing_ok=True)
        written: list[Path] = []
        for name, _ in files:  # report.md is the last
            os.replace(stage / name, out_dir / name)
            written.append(out_dir / name)
            echo(f"wrote {out_dir / name}" + (" (replaced)" if existed[name] else ""))
    except OSError as e:
        raise BadInput(f"cannot write the report ({_os_reason(e)}); the directory is left as it was",
                       source=str(out_dir), field="--out") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for name, why in stale:
        path = out_dir / name
        if path.exists():
            path.unlink()
            echo(f"removed {path} (stale: {why})")
    return written


def _predict(results: Results, links: list[Link]) -> pd.DataFrame:
    """network.predict, and its (typed) empty table when no run has a recorded row yet (a run that
    has not flushed: predict's empty inputs are untyped and its running sum fails on them)."""
    if results.steps.empty:
        return pd.DataFrame({"run_id": pd.Series(dtype=object), "link": pd.Series(dtype=object),
                             "step": pd.Series(dtype="int64"), "predicted_round_seconds": pd.Series(dtype="float64"),
                             "predicted_seconds": pd.Series(dtype="float64")})
    return predict(results.steps, results.timing, results.runs, links)


def _os_reason(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return e.strerror or str(e).splitlines()[0]


# ---------------------------------------------------------------- markdown


def render(results: Results, opts: Options, goal: pd.DataFrame, network: pd.DataFrame, figs: list[ReportFigure]) -> str:
    runs = results.runs
    lines = ["# hpcsketch analysis", ""]
    counts = runs["status"].value_counts() if len(runs) else pd.Series(dtype=int)
    lines.append(f"{len(runs)} trace{'s' if len(runs) != 1 else ''} read: "
                 + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none")
                 + (f"; {len(results.unreadable)} file(s) unreadable (listed at the end)." if results.unreadable else "."))
    lines.append("")
    incomplete = runs[runs["status"] != COMPLETE]
    if len(incomplete):
        lines.append("Runs that did not complete are kept in every table and drawn dashed in the figures, "
                     "with their status in the legend.")
        lines.append("")
    lines += ["## Runs", "", markdown_table(runs_view(results)), ""]
    lines += ["## Final metrics", "",
              "Last finite value of each metric (a diverged run's last finite value; an unfinished run's last recorded one).",
              "", markdown_table(final_view(results)), ""]
    lines += _target_section(goal)
    lines += _network_section(opts.links, network, goal)
    lines += _hessian_section(results)
    lines += ["## Figures", ""]
    for fig in figs:
        if fig.plot is None and fig.optional:
            continue
        lines.append(f"### {fig.heading}")
        lines.append("")
        if fig.plot is None:
            lines.append(f"Not drawn: {fig.absent}.")
        else:
            lines.append(f"![{fig.heading}]({fig.stem}.{opts.fmt})")
        lines.append("")
    lines += ["## Unreadable files", ""]
    if results.unreadable:
        lines += [f"- `{u.path}`: {u.reason}" for u in results.unreadable]
    else:
        lines.append("None.")
    lines += ["", "## Files", "",
              "`runs.csv` (one row per run), `steps.csv` (one row per run and step, every metric), "
              "`timing.csv` (run_id, step, rank, phase, seconds), `targets.csv` (rounds, bytes, seconds to target), "
              "`network.csv` (per run and link: predicted time), `predictions.csv` (per run, link and step: "
              "predicted round and cumulative time)"
              + (", `hessian.csv` (per run and measured round: lambda_max, sum |lambda|, kappa, d, HVPs, seconds), "
                 "`hessian_density.csv` (per run, round and grid point: the spectral density)"
                 if not results.hessian.empty else "") + ".", ""]
    return "\n".join(lines)


def _hessian_section(results: Results) -> list[str]:
    """The loss-Hessian measurements (only when a run has them)."""
    h = results.hessian
    if h.empty:
        return []
    labels = results.runs.set_index("run_id")["label"]
    view = pd.DataFrame({
        "run": h["run_id"].map(labels), "round": h["step"].map(_int), "lambda_max": h["lambda_max"].map(_num),
        "sum abs(lambda)": [f"{_num(v)} +- {_num(e)}" if finite_float(e) is not None else _num(v)
                            for v, e in zip(h["trace_norm"], h["trace_norm_stderr"])],
        "kappa": h["kappa"].map(_num), "d": h["dim"].map(_int), "kappa/d": h["kappa_over_d"].map(_num),
        "HVPs": h["hvps"].map(_int), "seconds": h["seconds"].map(_num),
    })
    return ["## Loss Hessian", "",
            "kappa = sum |lambda_i| / lambda_max: sum |lambda_i| is the stochastic Lanczos quadrature estimate "
            "(+- its standard error over the probes), lambda_max the largest Ritz value (a lower bound).", "",
            markdown_table(view), ""]


def runs_view(results: Results) -> pd.DataFrame:
    r = results.runs
    # compressor.ratio is the ratio column (which also covers the measured ratio)
    extra = [c for c in results.varied if c not in ("algorithm", "compressor", "world_size", "compressor.ratio")]
    view = pd.DataFrame({
        "run": r["label"], "run_id": r["run_id"], "status": r["status"],
        "rounds": [f"{_int(d)}/{_int(p)}" for d, p in zip(r["rounds_done"], r["rounds_planned"])],
        "ranks": r["world_size"].map(_int), "clients": r["clients"].map(_int),
        "algorithm": r["algorithm"], "compressor": r["compressor"],
        "ratio": r["compression_ratio"].map(_num),
    })
    for c in extra:
        view[c] = r[c].map(fmt_value)
    view["message"] = r["message"].fillna("")
    return view


def final_view(results: Results) -> pd.DataFrame:
    r = results.runs
    view = pd.DataFrame({"run": r["label"], "status": r["status"], "rounds": r["rounds_done"].map(_int)})
    for m in ("loss", "eval_loss", "eval_gap", "eval_accuracy"):
        if f"final_{m}" in r and r[f"final_{m}"].notna().any():
            view[f"final {m}"] = r[f"final_{m}"].map(_num)
    if "best_eval_accuracy" in r and r["best_eval_accuracy"].notna().any():
        view["best eval_accuracy"] = r["best_eval_accuracy"].map(_num)
    view["uplink"] = r["total_bytes_uplink"].map(_bytes)
    view["MPI"] = r["total_bytes_mpi"].map(_bytes)
    view["training time"] = r["train_seconds"].map(format_seconds)
    view["rounds/s"] = r["train_rounds_per_second"].map(_num)
    return view


def _target_section(goal: pd.DataFrame) -> list[str]:
    lines = ["## To target", ""]
    has = goal["metric"] != ""
    if not has.any():
        return lines + ["No target: give --target-accuracy or --target-loss (or set [run] target_accuracy / "
                        "target_loss in the job).", ""]
    view = pd.DataFrame({
        "run": goal["label"], "status": goal["status"],
        "target": [f"{m} {'>=' if tables.higher_is_better(m) else '<='} {t:g}" if m else "-"
                   for m, t in zip(goal["metric"], goal["target"])],
        "rounds": [_int(s) if ok else ("not reached" if m else "-") for s, ok, m in zip(goal["step"], goal["reached"], goal["metric"])],
        "uplink": goal["cum_bytes_uplink"].map(_bytes),
        "MPI": goal["cum_bytes_mpi"].map(_bytes),
        "training time": goal["cum_seconds"].map(format_seconds),
    })
    return lines + ["First recorded step reaching the target; training time is the sum of the slowest rank's "
                    "round times up to it.", "", markdown_table(view), ""]


def _network_section(links: list[Link], network: pd.DataFrame, goal: pd.DataFrame) -> list[str]:
    lines = ["## Network model", "",
             "Predicted round time = measured compute (compute + compress + decompress + update, slowest rank) "
             "+ 2 x latency + uplink bytes per client / uplink bandwidth + downlink bytes per client / downlink "
             "bandwidth. Clients upload in parallel over their own links (the federated view).", "",
             markdown_table(pd.DataFrame({"link": [l.name for l in links],
                                          "latency": [format_seconds(l.latency) for l in links],
                                          "uplink": [format_rate(l.up) for l in links],
                                          "downlink": [format_rate(l.down) for l in links]})), ""]
    if network.empty:
        return lines
    with_target = (goal["metric"] != "").any()
    view = network[["run_id", "label", "status"]].drop_duplicates("run_id").set_index("run_id")
    view = view.rename(columns={"label": "run"})
    for link in links:
        n = network[network["link"] == link.name].set_index("run_id")
        view[f"{link.name}: all rounds"] = n["predicted_seconds"].map(format_seconds)
        if with_target:
            view[f"{link.name}: to target"] = [
                format_seconds(v) if math.isfinite(v) else ("not reached" if m else "-")
                for v, m in zip(n["predicted_seconds_to_target"], goal.set_index("run_id").loc[n.index, "metric"])]
    lines += ["Predicted time for every recorded round" + (" and to the target (see To target)" if with_target else "")
              + ", per link:", "", markdown_table(view.reset_index(drop=True)), ""]
    return lines


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (no tabulate dependency)."""
    if df.empty:
        return "(none)"
    cols = [str(c) for c in df.columns]
    rows = [[_cell(v) for v in row] for row in df.itertuples(index=False)]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        text = "-" if math.isnan(v) else f"{v:.4g}"
    else:
        text = str(v)
    return text.replace("|", "\\|").replace("\n", " ")


def _shown(fmt: Callable[[float], str]) -> Callable[[Any], str]:
    """A cell formatter: ``fmt`` for finite numbers, '-' for anything else."""

    def show(v: Any) -> str:
        f = finite_float(v)
        return "-" if f is None else fmt(f)

    return show


_num = _shown(lambda f: f"{f:.4g}")
_int = _shown(lambda f: str(int(f)))
_bytes = _shown(human_bytes)
