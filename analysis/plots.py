"""The figures. Each function returns a :class:`Plot` (the Figure and the data it
drew, so tests and users can check the numbers) or None when there is nothing
to draw.

Runs that did not complete (failed, interrupted, diverged, running) are drawn
dashed, their last point marked with an x, and their status is in the legend.
A sweep's axes are encoded (:mod:`hpcsketch.analysis.style`): colour is the method,
marker shape the compression ratio, runs are ordered by the swept values, and
past a dozen runs the legend lists the colours and markers instead of every run.
The y-limits come from the runs that did not diverge; a diverged run's curve
leaves the axes and its x sits at the edge, with a note of how far it went.
Log-axis tick labels that would overlap are thinned.
Figures are built with ``matplotlib.figure.Figure`` (no pyplot): no display is
needed and nothing global is changed in the caller's matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

import numpy as np
import pandas as pd

from hpcsketch.analysis import style, tables
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
    """The colour of every run (its method's), the same in every figure."""
    return style.encode(results).color


def _line_style(status: str) -> dict[str, Any]:
    return {"linestyle": "-"} if status == COMPLETE else {"linestyle": "--"}


def _draw_runs(ax: "Axes", data: pd.DataFrame, results: Results, x: str = "x", y: str = "value",
               enc: style.Encoding | None = None) -> dict[str, Any]:
    """One line per run, in the encoding's order (method, then ratio): the method's colour, the
    ratio's marker; returns legend handles by run_id. An unfinished run's last point gets an x
    (kept in ``ax._hpcsketch_ends`` so that :func:`_limit_y` can move it to the edge)."""
    enc = enc or style.encode(results)
    status = results.runs.set_index("run_id")["status"]
    handles = {}
    ends = getattr(ax, "_hpcsketch_ends", {})
    n_levels = max(1, len(enc.levels))
    groups = dict(tuple(data.groupby("run_id", sort=False))) if len(data) else {}
    for rid in enc.order:
        pts = groups.get(rid)
        if pts is None or pts.empty:
            continue
        pts = pts.sort_values(x, kind="stable")
        sparse = len(pts) <= 30  # evaluation rows are few: a marker on every point
        # dense curves: a few markers, staggered by ratio so that runs' markers do not coincide
        every = None if sparse else (0.02 + 0.12 * enc.levels.index(enc.level[rid]) / n_levels, 0.12)
        (line,) = ax.plot(pts[x], pts[y], color=enc.color[rid], markersize=4.5 if sparse else 5.5, markevery=every,
                          linewidth=1.3, mew=1.1, **enc.marker_kw(rid), **_line_style(status[rid]))
        line.set_gid(rid)
        if status[rid] != COMPLETE:
            (end,) = ax.plot(pts[x].iloc[-1:], pts[y].iloc[-1:], color=enc.color[rid], marker="x", markersize=9, mew=2,
                             linestyle="none")
            ends[rid] = end
        handles[rid] = line
    ax._hpcsketch_ends = ends
    return handles


def _limit_y(ax: "Axes", data: pd.DataFrame, metric: str) -> None:
    """Log y where the non-diverged runs' values span two decades; y-limits from those runs.

    A diverged run (its loss on the way to 1e144) would otherwise set the limits and flatten
    every other curve: its curve leaves the axes, the x at its last finite point is put on
    the edge, and a note under the axes says how far it went.
    """
    v = data["value"].to_numpy(dtype=float)
    keep = (data["status"] != "diverged").to_numpy() if "status" in data else np.ones(len(v), bool)
    ref = v[keep & np.isfinite(v)]
    if not len(ref):
        ref = v[np.isfinite(v)]
    _log_y_if_wide(ax, pd.Series(ref), metric)
    if not len(ref) or not len(v) or (v.min() >= ref.min() and v.max() <= ref.max()):
        return
    lo, hi = float(ref.min()), float(ref.max())
    if ax.get_yscale() == "log":
        pad = (hi / lo) ** 0.05 if hi > lo else 1.5
        ax.set_ylim(lo / pad, hi * pad)
    else:
        span = (hi - lo) or abs(hi) * 0.1 or 1.0
        ax.set_ylim(lo - 0.05 * span, hi + 0.05 * span)
    a, b = ax.get_ylim()
    off = data[(v < a) | (v > b)]
    for line in getattr(ax, "_hpcsketch_ends", {}).values():
        yd = np.asarray(line.get_ydata(), dtype=float)
        if len(yd) and ((yd < a) | (yd > b)).any():
            line.set_ydata(np.clip(yd, a, b))
            line.set_clip_on(False)
    if len(off):
        n = off["run_id"].nunique()
        statuses = "/".join(sorted(set(off["status"]))) if "status" in off else ""
        ov = off["value"].to_numpy(dtype=float)
        how = [f"up to {ov.max():.2g}" if (ov > b).any() else "", f"down to {ov.min():.2g}" if (ov < a).any() else ""]
        note = f"{n} {statuses} run{'s' if n > 1 else ''} off the scale ({', '.join(h for h in how if h)})"
        ax.set_xlabel(f"{ax.get_xlabel()}\n{note}" if ax.get_xlabel() else note)


def _figure_legend(fig: "Figure", results: Results, handles: dict[str, Any], note_missing: bool = True,
                   enc: style.Encoding | None = None) -> None:
    """A legend for the whole figure, right of the axes, sized to fit.

    Up to ``style.PER_RUN_LEGEND_MAX`` runs: one entry per run, in the sweep's order. Runs that
    did not complete and drew nothing are listed too ("no data"), so a failed run is never
    silently absent; a completed run without the metric is left out (it does not record it).
    More runs: one entry per method (colour) and per ratio (marker), the line styles, and
    the unfinished runs by name (the first few).
    """
    from matplotlib.lines import Line2D

    enc = enc or style.encode(results)
    status = results.runs.set_index("run_id")["status"]
    label = results.runs.set_index("run_id")["label"]
    items = []
    for rid in enc.order:
        st = status[rid]
        if rid in handles:
            items.append((handles[rid], legend_label(label[rid], st)))
        elif note_missing and st != COMPLETE:
            proxy = Line2D([], [], color=enc.color[rid], **enc.marker_kw(rid), **_line_style(st))
            items.append((proxy, legend_label(label[rid], st) + " (no data)"))
    if not items:
        return
    unfinished = any(r != COMPLETE for r in results.runs["status"])
    if len(items) <= style.PER_RUN_LEGEND_MAX:
        _place_legend(fig, items, title="run [status]" if unfinished else "run")
        return
    shown = set(handles) | ({rid for rid in enc.order if status[rid] != COMPLETE} if note_missing else set())
    blank = Line2D([], [], linestyle="none")
    compact: list[tuple[Any, str]] = [(blank, f"colour: {enc.group_title}")]
    for g in enc.groups:
        if any(enc.group[r] == g for r in shown):
            compact.append((Line2D([], [], color=enc.group_color[g], linewidth=2.0), g))
    levels = [lv for lv in enc.levels if any(enc.level[r] == lv for r in shown)]
    if len(enc.levels) > 1:
        compact.append((blank, f"marker: {enc.level_title}"))
        for lv in levels:
            m, filled = enc.level_marker[lv]
            compact.append((Line2D([], [], color="#555555", linestyle="none", marker=m, markersize=6,
                                   markerfacecolor="#555555" if filled else "none"), lv))
    bad = [rid for rid in enc.order if rid in shown and status[rid] != COMPLETE]
    if bad:
        compact.append((blank, "line: status"))
        compact.append((Line2D([], [], color="#555555", linestyle="-"), "completed"))
        compact.append((Line2D([], [], color="#555555", linestyle="--", marker="x", markevery=[1], mew=2),
                        "not completed (x: last point)"))
        limit = 8
        for rid in bad[:limit]:
            h = handles.get(rid) or Line2D([], [], color=enc.color[rid], **enc.marker_kw(rid), linestyle="--")
            compact.append((h, legend_label(label[rid], status[rid]) + ("" if rid in handles else " (no data)")))
        if len(bad) > limit:
            compact.append((blank, f"+ {len(bad) - limit} more not completed (see report.md)"))
    leg = _place_legend(fig, compact, title=f"{len(shown)} runs")
    headers = {t for h, t in compact if h is blank}
    for t in leg.get_texts():
        if t.get_text() in headers:
            t.set_fontweight("bold")


def _place_legend(fig: "Figure", items: list[tuple[Any, str]], title: str, loc: str = "outside right center",
                  fontsize: str = "small") -> Any:
    """``fig.legend`` right of the axes, centred, in as many columns (up to 3) as it needs to be no
    taller than the figure below its title; taller than that, the figure grows."""
    handles, texts = [h for h, _ in items], [t for _, t in items]
    ncols = 1
    leg = None
    for _ in range(6):
        if leg is not None:
            leg.remove()
        leg = fig.legend(handles, texts, loc=loc, fontsize=fontsize, title=title, ncols=ncols,
                         title_fontsize=fontsize)
        fig.draw_without_rendering()
        sup = getattr(fig, "_suptitle", None)
        title_h = sup.get_window_extent().height + 8 if sup is not None and sup.get_text() else 0.0
        height, room = leg.get_window_extent().height, fig.bbox.height * 0.96 - 2 * title_h
        if height <= room:
            break
        if ncols < 3:
            ncols = min(3, max(ncols + 1, int(np.ceil(height * ncols / room))))
        else:  # three columns are not enough: the figure grows by what is missing
            fig.set_figheight(fig.get_figheight() + (height - room) / fig.dpi * 1.1)
    return leg


def _declutter_ticks(fig: "Figure") -> None:
    """Tick labels of one axis that overlap (a log axis labels 3x10^0 and 4x10^0 side by side)
    are thinned: the major ones first, then the minor ones that fit between; the rest stay
    unlabelled ticks."""
    from matplotlib.ticker import NullFormatter

    fig.draw_without_rendering()
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            found = []
            for major, locs, labels in ((True, axis.get_majorticklocs(), axis.get_majorticklabels()),
                                        (False, axis.get_minorticklocs(), axis.get_minorticklabels())):
                for loc, t in zip(locs, labels):
                    if lo <= loc <= hi and t.get_visible() and t.get_text():
                        found.append((not major, loc, t.get_text(), t.get_window_extent().expanded(1.0, 1.0)))
            kept: list[tuple[bool, float, str, Any]] = []
            for item in sorted(found, key=lambda f: (f[0], f[1])):
                box = item[3].padded(2.0)
                if not any(box.overlaps(k[3]) for k in kept) and fig.bbox.contains(box.x0 + 2, box.y0 + 2) \
                        and fig.bbox.contains(box.x1 - 2, box.y1 - 2):
                    kept.append(item)
            if len(kept) < len(found):
                kept.sort(key=lambda k: k[1])
                axis.set_ticks([k[1] for k in kept], [k[2] for k in kept])
                axis.set_minor_formatter(NullFormatter())


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
    enc = style.encode(results)
    data = style.ordered(data, enc).reset_index(drop=True)
    fig, axes = _figure(len(metrics))
    handles: dict[str, Any] = {}
    for ax, m in zip(axes, metrics):
        d = data[data["metric"] == m]
        handles |= _draw_runs(ax, d, results, enc=enc)
        ax.set_xlabel(tables.X_AXES[x])
        ax.set_ylabel(metric_name(m))
        ax.set_title(f"{metric_name(m)} vs {X_SHORT[x]}")
        ax.grid(alpha=0.3)
        if x.startswith("cum_bytes"):
            ax.set_xscale("log")
        elif x == "step":
            _integer_x(ax)
        _limit_y(ax, d, m)
    _suptitle(fig, f"Training curves against {X_SHORT[x]}{tables.X_NOTES[x]}")
    _figure_legend(fig, results, handles, enc=enc)
    _declutter_ticks(fig)
    return Plot(fig, data)


def consensus(results: Results) -> Plot | None:
    """Consensus distance (decentralized methods) against rounds, for the runs that record it."""
    if not tables.recorded(results.steps, "consensus_distance"):
        return None
    data = tables.curves(results, "step", ["consensus_distance"])
    enc = style.encode(results)
    data = style.ordered(data, enc).reset_index(drop=True)
    fig, (ax,) = _figure(1, width=8.0, height=4.2)
    handles = _draw_runs(ax, data, results, enc=enc)
    ax.set_xlabel("round")
    _integer_x(ax)
    ax.set_ylabel("consensus distance (as the method records it)")
    ax.set_title("Consensus distance vs rounds")
    ax.grid(alpha=0.3)
    _limit_y(ax, data, "consensus_distance")
    _figure_legend(fig, results, handles, note_missing=False, enc=enc)
    _declutter_ticks(fig)
    return Plot(fig, data)


def phase_breakdown(results: Results) -> Plot | None:
    """Mean time per round of each phase (averaged over rounds and ranks), a stacked bar per run."""
    data = style.ordered(tables.phase_means(results), style.encode(results)).reset_index(drop=True)
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
    _declutter_ticks(fig)
    return Plot(fig, data)


def ratio_tradeoff(results: Results, metric: str | None = None) -> Plot | None:
    """Final accuracy (or final held-out loss without accuracy) against compression ratio, one line per method.

    Each method has its colour and its own hollow marker shape, so methods that end on the same
    value at the same ratio stay visible on top of each other. Completed runs make the lines;
    other runs are half-filled markers labelled with their status; runs without a ratio or a
    final value are listed under the axes. The y-limits come from the runs that did not diverge.
    """
    metric = metric or tables.quality_metric(results.steps)
    data = tables.final_points(results, metric)
    placed = data["compression_ratio"].gt(0) & np.isfinite(data["value"])
    if not placed.any():
        return None
    enc = style.encode(results)
    data = style.ordered(data, enc).reset_index(drop=True)
    placed = data["compression_ratio"].gt(0) & np.isfinite(data["value"])
    fig, (ax,) = _figure(1, width=6.5, height=4.2)
    methods = [g for g in enc.groups if g in set(data["method"])]
    methods += sorted(set(data["method"]) - set(methods), key=style.natural_key)
    palette = {m: enc.group_color.get(m, c) for m, c in zip(methods, style.palette(len(methods)))}
    items: list[tuple[Any, str]] = []
    ends: dict[str, Any] = {}
    ax._hpcsketch_ends = ends  # unfinished runs' markers: moved onto the edge when off the scale
    for i, meth in enumerate(methods):
        marker = style.MARKERS[i % len(style.MARKERS)]
        c = palette[meth]
        d = data[placed & (data["method"] == meth)].sort_values("compression_ratio", kind="stable")
        done = d[d["status"] == COMPLETE]
        if len(done):
            (line,) = ax.plot(done["compression_ratio"], done["value"], marker=marker, color=c, markersize=7,
                              markerfacecolor="none", mew=1.4, label=meth)
            items.append((line, meth))
        for status, other in d[d["status"] != COMPLETE].groupby("status", sort=True):
            (pts,) = ax.plot(other["compression_ratio"], other["value"], linestyle="none", marker=marker, markersize=9,
                             color=c, markerfacecolor=c, fillstyle="left", markerfacecoloralt="none", mew=1.4,
                             label=f"{meth} [{status}]")
            items.append((pts, f"{meth} [{status}]"))
            ends[f"{meth} [{status}]"] = pts
    ax.set_xscale("log")
    ratios = sorted(set(data.loc[placed, "compression_ratio"].astype(float)))
    from matplotlib.ticker import NullFormatter

    ax.set_xticks(ratios, [f"{r:g}" for r in ratios])  # the swept ratios, not 3x10^0 and 4x10^0
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("compression ratio (dense bytes / uplink bytes per client)")
    _limit_y(ax, data[placed], metric)  # a diverging run's huge final value stays off the scale (at the edge)
    ax.set_ylabel(f"final {metric_name(metric)}")
    ax.set_title(f"Final {metric_name(metric)} vs compression ratio")
    ax.grid(alpha=0.3, which="both")
    missing = data[~placed]
    _note(ax, [f"not placed: {legend_label(r['label'], r['status'])} "
               f"({'no compression ratio' if not r['compression_ratio'] > 0 else 'no final value'})"
               for _, r in missing.iterrows()])
    if items:
        _place_legend(fig, items, title="method" + (" [status]" if any(t.endswith("]") for _, t in items) else ""))
    _declutter_ticks(fig)
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
    _declutter_ticks(fig)
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
    enc = style.encode(results)
    data = style.ordered(data, enc).reset_index(drop=True)
    fig, axes = _figure(len(links), width=4.8, height=3.8)
    handles: dict[str, Any] = {}
    for ax, link in zip(axes, links):
        d = data[data["link"] == link.name]
        handles |= _draw_runs(ax, d, results, x="predicted_seconds", enc=enc)
        _log_x_if_wide(ax, d["predicted_seconds"])
        ax.set_xlabel("predicted time (s)")
        ax.set_ylabel(metric_name(metric))
        latency, _, rates = link.describe().partition(", ")  # two short lines: panels are narrow
        ax.set_title(f"{link.name}, {latency}\n{rates}", fontsize="medium")
        ax.grid(alpha=0.3, which="both")
        _limit_y(ax, d, metric)
    _suptitle(fig, f"{metric_name(metric).capitalize()} vs predicted time on modelled links "
                 "(measured compute + 2 latency + bytes per client / bandwidth)")
    _figure_legend(fig, results, handles, enc=enc)
    _declutter_ticks(fig)
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
    enc = style.encode(results)
    fig, (ax,) = _figure(1, width=7.0, height=4.4)
    handles = _draw_runs(ax, data, results, x="step", y="kappa", enc=enc)
    colors = enc.color
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
    _figure_legend(fig, results, handles, note_missing=False, enc=enc)
    _declutter_ticks(fig)
    return Plot(fig, data)


def _colors_for(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]

