"""The figures. Each function returns a :class:`Plot` (the Figure and the data it
drew, so tests and users can check the numbers) or None when there is nothing
to draw.

Runs that did not complete (failed, interrupted, diverged, running) are drawn
dashed, their last point marked with an x, and their status is in the legend.
Figures are built with ``matplotlib.figure.Figure`` (no pyplot): no display is
needed and nothing global is changed in the caller's matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

import numpy as np
import pandas as pd

from hpcsketch.analysis import tables
from hpcsketch.analysis.load import COMPLETE, Results
from hpcsketch.analysis.network import Link

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

METRIC_NAMES = {
    "loss": "training loss",
    "eval_loss": "held-out loss",
    "eval_accuracy": "held-out accuracy",
    "eval_gap": "optimality gap",
    "consensus_distance": "consensus distance",
}
X_SHORT = {"step": "rounds", "cum_bytes_uplink": "uplink bytes", "cum_bytes_mpi": "MPI bytes", "cum_seconds": "time"}
PHASE_COLORS = {"compute": "#4c72b0", "compress": "#dd8452", "communicate": "#c44e52", "decompress": "#8172b3",
                "update": "#55a868", "other": "#b0b0b0"}


class Plot(NamedTuple):
    figure: "Figure"
    data: pd.DataFrame


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric.replace("_", " "))


def legend_label(label: str, status: str) -> str:
    return label if status == COMPLETE else f"{label} [{status}]"


def save(plot: Plot, path: str) -> None:
    plot.figure.savefig(path, dpi=110)


# ---------------------------------------------------------------- shared drawing


def _figure(ncols: int, nrows: int = 1, width: float = 5.0, height: float = 3.8) -> tuple["Figure", list["Axes"]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, list(axes.ravel())


def _suptitle(fig: "Figure", text: str) -> None:
    """A figure title wrapped to the figure's width (a one-panel figure is narrower than a long title)."""
    import textwrap

    chars_per_inch = 10  # 'large' (12 pt) DejaVu Sans: about 0.1 inch per character
    width = max(30, int(fig.get_figwidth() * chars_per_inch))
    fig.suptitle("\n".join(textwrap.wrap(text, width)))


def _colors(results: Results) -> dict[str, Any]:
    """One colour per run, the same in every figure."""
    ids = list(results.runs["run_id"])
    return dict(zip(ids, _colors_for(len(ids))))


def _line_style(status: str) -> dict[str, Any]:
    return {"linestyle": "-"} if status == COMPLETE else {"linestyle": "--"}


def _draw_runs(ax: "Axes", data: pd.DataFrame, results: Results, x: str = "x", y: str = "value") -> dict[str, Any]:
    """One line per run (in the runs table's order); returns legend handles by run_id."""
    colors = _colors(results)
    handles = {}
    for _, run in results.runs.iterrows():
        pts = data[data["run_id"] == run["run_id"]].sort_values(x, kind="stable")
        if pts.empty:
            continue
        sparse = len(pts) <= 30  # evaluation rows are few: show the points
        (line,) = ax.plot(pts[x], pts[y], color=colors[run["run_id"]], marker="o" if sparse else None, markersize=3,
                          linewidth=1.4, **_line_style(run["status"]))
        if run["status"] != COMPLETE:
            ax.plot(pts[x].iloc[-1:], pts[y].iloc[-1:], color=colors[run["run_id"]], marker="x", markersize=9, mew=2)
        handles[run["run_id"]] = line
    return handles


def _figure_legend(fig: "Figure", results: Results, handles: dict[str, Any], note_missing: bool = True) -> None:
    """A legend for the whole figure, right of the axes.

    Runs that did not complete and drew nothing are listed too ("no data"), so a
    failed run is never silently absent; a completed run without the metric is
    left out (it does not record it).
    """
    from matplotlib.lines import Line2D

    colors = _colors(results)
    items = []
    for _, run in results.runs.iterrows():
        rid, status = run["run_id"], run["status"]
        if rid in handles:
            items.append((handles[rid], legend_label(run["label"], status)))
        elif note_missing and status != COMPLETE:
            proxy = Line2D([], [], color=colors[rid], **_line_style(status))
            items.append((proxy, legend_label(run["label"], status) + " (no data)"))
    if items:
        fig.legend([h for h, _ in items], [t for _, t in items], loc="outside right center", fontsize="small",
                   title="run [status]" if any(r != COMPLETE for r in results.runs["status"]) else "run")


def _log_y_if_wide(ax: "Axes", values: pd.Series, metric: str) -> None:
    v = values.to_numpy(dtype=float)
    if "accuracy" not in metric and len(v) and (v > 0).all() and v.max() >= 100 * v.min():  # no overflow near the float max
        ax.set_yscale("log")


def _integer_x(ax: "Axes") -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _log_x_if_wide(ax: "Axes", values: pd.Series) -> None:
    """Log x when the values span a decade or more (times on slow and fast links differ by orders)."""
    v = values.to_numpy(dtype=float)
    v = v[v > 0]
    if len(v) and v.max() / v.min() >= 10:
        ax.set_xscale("log")


def _note(ax: "Axes", lines: list[str]) -> None:
    """Text under an axes (what could not be drawn, and why)."""
    if lines:
        ax.text(0.0, -0.22, "\n".join(lines), transform=ax.transAxes, fontsize="x-small", va="top", color="#444444")


# ---------------------------------------------------------------- the plots


def metric_curves(results: Results, x: str = "step", metrics: Iterable[str] | None = None) -> Plot | None:
    """Loss / held-out loss / accuracy against rounds, uplink bytes, MPI bytes or time.

    ``x`` is a steps-table column: step, cum_bytes_uplink, cum_bytes_mpi or
    cum_seconds. Byte axes are logarithmic (step 0, at 0 bytes, is not drawn on them).
    """
    metrics = tables.curve_metrics(results.steps, metrics)
    data = tables.curves(results, x, metrics)
    if data.empty:
        return None
    fig, axes = _figure(len(metrics))
    handles: dict[str, Any] = {}
    for ax, m in zip(axes, metrics):
        d = data[data["metric"] == m]
        handles |= _draw_runs(ax, d, results)
        ax.set_xlabel(tables.X_AXES[x])
        ax.set_ylabel(metric_name(m))
        ax.set_title(f"{metric_name(m)} vs {X_SHORT[x]}")
        ax.grid(alpha=0.3)
        if x.startswith("cum_bytes"):
            ax.set_xscale("log")
        elif x == "step":
            _integer_x(ax)
        _log_y_if_wide(ax, d["value"], m)
    _suptitle(fig, f"Training curves against {X_SHORT[x]}{tables.X_NOTES[x]}")
    _figure_legend(fig, results, handles)
    return Plot(fig, data)


def consensus(results: Results) -> Plot | None:
    """Consensus distance (decentralized methods) against rounds, for the runs that record it."""
    if not tables.recorded(results.steps, "consensus_distance"):
        return None
    data = tables.curves(results, "step", ["consensus_distance"])
    fig, (ax,) = _figure(1, width=8.0, height=4.2)
    handles = _draw_runs(ax, data, results)
    ax.set_xlabel("round")
    _integer_x(ax)
    ax.set_ylabel("consensus distance (as the method records it)")
    ax.set_title("Consensus distance vs rounds")
    ax.grid(alpha=0.3)
    _log_y_if_wide(ax, data["value"], "consensus_distance")
    _figure_legend(fig, results, handles, note_missing=False)
    return Plot(fig, data)


def phase_breakdown(results: Results) -> Plot | None:
    """Mean time per round of each phase (averaged over rounds and ranks), a stacked bar per run."""
    data = tables.phase_means(results)
    cols = [*tables.PHASES, "other"]
    timed = data[cols].notna().any(axis=1)
    if not timed.any():
        return None
    totals = data.loc[timed, cols].clip(lower=0).sum(axis=1)
    scale, unit = (1e3, "ms") if totals.max() < 1.0 else (1.0, "s")
    fig, (ax,) = _figure(1, width=8.0, height=0.9 + 0.45 * len(data))
    y = np.arange(len(data))[::-1]  # first run on top
    left = np.zeros(len(data))
    for p in cols:
        v = data[p].fillna(0.0).clip(lower=0).to_numpy() * scale
        if not v.any():
            continue
        ax.barh(y, v, left=left, color=PHASE_COLORS[p], label=p, height=0.7)
        left += v
    names = [legend_label(r["label"], r["status"]) + ("" if t else " (no timing)")
             for (_, r), t in zip(data.iterrows(), timed)]
    ax.set_yticks(y, names, fontsize="small")
    ax.set_xlabel(f"mean time per round ({unit}), averaged over ranks")
    ax.set_title("Time per round by phase")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside right upper", fontsize="small", title="phase")
    return Plot(fig, data)


def ratio_tradeoff(results: Results, metric: str | None = None) -> Plot | None:
    """Final accuracy (or final held-out loss without accuracy) against compression ratio, one line per method.

    Completed runs make the lines; other runs are hollow markers labelled with
    their status; runs without a ratio or a final value are listed under the axes.
    """
    metric = metric or tables.quality_metric(results.steps)
    data = tables.final_points(results, metric)
    placed = data["compression_ratio"].gt(0) & np.isfinite(data["value"])
    if not placed.any():
        return None
    from matplotlib.colors import to_hex

    fig, (ax,) = _figure(1, width=6.5, height=4.2)
    methods = list(dict.fromkeys(data["method"]))
    palette = _colors_for(len(methods))
    for i, meth in enumerate(methods):
        d = data[placed & (data["method"] == meth)].sort_values("compression_ratio", kind="stable")
        done = d[d["status"] == COMPLETE]
        if len(done):
            ax.plot(done["compression_ratio"], done["value"], marker="o", color=palette[i], label=meth)
        for status, other in d[d["status"] != COMPLETE].groupby("status", sort=True):
            ax.plot(other["compression_ratio"], other["value"], linestyle="none", marker="o", markersize=8,
                    markerfacecolor="none", markeredgecolor=to_hex(palette[i]), mew=1.5, label=f"{meth} [{status}]")
    ax.set_xscale("log")
    _log_y_if_wide(ax, data.loc[placed, "value"], metric)  # a diverging run's huge final value, too
    ax.set_xlabel("compression ratio (dense bytes / uplink bytes per client)")
    ax.set_ylabel(f"final {metric_name(metric)}")
    ax.set_title(f"Final {metric_name(metric)} vs compression ratio")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", loc="best")
    missing = data[~placed]
    _note(ax, [f"not placed: {legend_label(r['label'], r['status'])} "
               f"({'no compression ratio' if not r['compression_ratio'] > 0 else 'no final value'})"
               for _, r in missing.iterrows()])
    return Plot(fig, data)


def scaling_plot(results: Results) -> Plot | None:
    """Rounds per second and per-phase time against world size, for runs that differ only in world size."""
    data = tables.scaling(results)
    if data.empty:
        return None
    fig, (ax_rate, ax_phase) = _figure(2, width=5.5, height=4.0)
    styles = ["-", "--", ":", "-."]
    groups = list(dict.fromkeys(data["group"]))
    palette = _colors_for(len(groups))
    for i, g in enumerate(groups):
        d = data[data["group"] == g]
        mean = d.groupby("world_size")["rounds_per_second"].mean()
        ax_rate.plot(mean.index, mean.to_numpy(), color=palette[i], marker="o", label=g)
        bad = d[d["status"] != COMPLETE]
        for _, r in bad.iterrows():
            ax_rate.plot([r["world_size"]], [r["rounds_per_second"]], marker="o", markersize=9, markerfacecolor="none",
                         color=palette[i], linestyle="none")
            ax_rate.annotate(r["status"], (r["world_size"], r["rounds_per_second"]), fontsize="x-small",
                             xytext=(4, 4), textcoords="offset points")
        phase = d.groupby("world_size")[list(tables.PHASES)].mean()
        for p in tables.PHASES:
            if phase[p].fillna(0).any():
                ax_phase.plot(phase.index, phase[p].to_numpy(), color=PHASE_COLORS[p], marker="o",
                              linestyle=styles[i % len(styles)], label=f"{p}" + (f" ({g})" if len(groups) > 1 else ""))
    sizes = sorted(data["world_size"].unique())
    for ax in (ax_rate, ax_phase):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(int(s)) for s in sizes])
        ax.set_xlabel("MPI ranks (world size)")
        ax.grid(alpha=0.3)
    ax_rate.set_ylabel("rounds per second (slowest rank's round time)")
    ax_rate.set_title("Throughput vs ranks")
    ax_rate.legend(fontsize="small")
    ax_phase.set_ylabel("mean seconds per round (averaged over ranks)")
    phase_values = pd.Series(data[list(tables.PHASES)].to_numpy(dtype=float).ravel())
    _log_y_if_wide(ax_phase, phase_values[phase_values > 0], "seconds")
    ax_phase.set_title("Per-phase time vs ranks")
    ax_phase.legend(fontsize="x-small")
    _suptitle(fig, "Scaling with ranks")
    return Plot(fig, data)


def network_prediction(results: Results, predictions: pd.DataFrame, links: Iterable[Link],
                       metric: str | None = None) -> Plot | None:
    """Accuracy (or held-out loss) against the time the network model predicts, one panel per link."""
    links = list(links)
    metric = metric or tables.quality_metric(results.steps)
    if not links or metric not in results.steps or predictions.empty:
        return None
    values = results.steps[["run_id", "step", metric]].rename(columns={metric: "value"})
    data = predictions.merge(values, on=["run_id", "step"], how="inner")
    data = data[np.isfinite(data["value"]) & (data["predicted_seconds"] > 0)]
    if data.empty:
        return None
    meta = results.runs.set_index("run_id")[["label", "status"]]
    data = data.join(meta, on="run_id")[["run_id", "label", "status", "link", "step", "predicted_seconds", "value"]]
    data = data.reset_index(drop=True)
    fig, axes = _figure(len(links), width=4.8, height=3.8)
    handles: dict[str, Any] = {}
    for ax, link in zip(axes, links):
        d = data[data["link"] == link.name]
        handles |= _draw_runs(ax, d, results, x="predicted_seconds")
        _log_x_if_wide(ax, d["predicted_seconds"])
        ax.set_xlabel("predicted time (s)")
        ax.set_ylabel(metric_name(metric))
        ax.set_title(f"{link.name}\n{link.describe()}", fontsize="medium")
        ax.grid(alpha=0.3, which="both")
        _log_y_if_wide(ax, d["value"], metric)
    _suptitle(fig, f"{metric_name(metric).capitalize()} vs predicted time on modelled links "
                 "(measured compute + 2 latency + bytes per client / bandwidth)")
    _figure_legend(fig, results, handles)
    return Plot(fig, data)


def _hessian_runs(results: Results) -> pd.DataFrame:
    """The runs that measured the Hessian, in the runs table's order, with their label and status."""
    measured = set(results.hessian["run_id"])
    return results.runs[results.runs["run_id"].isin(measured)]


def hessian_density(results: Results) -> Plot | None:
    """The loss Hessian's spectral density over training: one panel per run that measured it,
    one curve per measured round (darker = later), log density so the outliers show beside the bulk."""
    runs = _hessian_runs(results)
    if runs.empty:
        return None
    from matplotlib import colormaps

    meta = results.runs.set_index("run_id")[["label", "status"]]
    data = results.hessian_density.join(meta, on="run_id")[["run_id", "label", "status", "step", "t", "density"]]
    ncols = min(len(runs), 3)
    fig, axes = _figure(ncols, nrows=-(-len(runs) // ncols), width=5.2, height=3.8)
    cmap = colormaps["viridis"]
    for ax, (_, run) in zip(axes, runs.iterrows()):
        d = data[data["run_id"] == run["run_id"]]
        steps = sorted(d["step"].unique())
        peak = d["density"].max()
        for i, step in enumerate(steps):
            pts = d[d["step"] == step].sort_values("t", kind="stable")
            ax.plot(pts["t"], pts["density"], color=cmap(0.9 * i / max(1, len(steps) - 1)), linewidth=1.3,
                    label=f"round {int(step)}", **_line_style(run["status"]))
        ax.set_yscale("log")
        if peak > 0:
            ax.set_ylim(peak * 1e-7, peak * 3)  # the Gaussians' far tails are noise, not spectrum
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel("density (integrates to 1)")
        ax.set_title(legend_label(run["label"], run["status"]), fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", title="measured at", title_fontsize="x-small")
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    _suptitle(fig, "Loss-Hessian spectral density over training (stochastic Lanczos quadrature)")
    return Plot(fig, data.reset_index(drop=True))


def hessian_kappa(results: Results) -> Plot | None:
    """kappa = sum |lambda_i| / lambda_max against round, one line per run, with each run's d dashed."""
    runs = _hessian_runs(results)
    if runs.empty:
        return None
    meta = results.runs.set_index("run_id")[["label", "status"]]
    data = results.hessian.join(meta, on="run_id")
    data = data[["run_id", "label", "status", "step", "kappa", "dim", "kappa_over_d", "lambda_max", "trace_norm",
                 "hvps", "seconds"]].sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)
    fig, (ax,) = _figure(1, width=7.0, height=4.4)
    handles = _draw_runs(ax, data, results, x="step", y="kappa")
    colors = _colors(results)
    for _, run in runs.iterrows():
        dim = data.loc[data["run_id"] == run["run_id"], "dim"].iloc[0]
        ax.axhline(dim, color=colors[run["run_id"]], linestyle=":", linewidth=1.2)
        ax.annotate(f"d = {int(dim):,}", (1.0, dim), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                    textcoords="offset points", ha="right", fontsize="x-small", color=colors[run["run_id"]])
    ax.set_yscale("log")
    ax.set_xlabel("round")
    _integer_x(ax)
    ax.set_ylabel("kappa = sum |lambda_i| / lambda_max")
    ax.set_title("Hessian kappa vs rounds (dotted: the model dimension d)")
    ax.grid(alpha=0.3, which="both")
    _figure_legend(fig, results, handles, note_missing=False)
    return Plot(fig, data)


def _colors_for(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]

