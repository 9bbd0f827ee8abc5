"""Figures at sweep size: every figure the analysis draws for a 30-run sweep (6 methods x 5
compression ratios, 3 of them diverged to 1e144) is checked on its rendered artists:

- legends and tick labels lie inside the figure, and tick labels of one axis do not overlap;
- the y-limits of the curves are set by the runs that did not diverge (a diverged run is
  marked and clipped, not allowed to flatten the others);
- no two runs of a curves panel share colour, line style and marker (and the marker's fill);
- on the ratio plot, no two runs' markers sit on top of each other with the same shape.

The traces are the fake ones of ``_fake_traces`` (written with the real TraceWriter), given
the sweep point of a bundle sweep like jobs/sketch_dl.toml, and huge losses where they diverge.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from _fake_traces import Spec, write_trace
from matplotlib.backends.backend_agg import FigureCanvasAgg

from hpcsketch.analysis import report
from hpcsketch.analysis.load import load
from hpcsketch.analysis.network import PRESETS, predict

METHODS = {  # sweep label -> (algorithm, compressor)
    "sketch_dl": ("sketch_dl", "count_sketch"),
    "sketch_dl+top-r": ("sketch_dl", "count_sketch"),
    "sketch_dl+top-r+EF": ("sketch_dl", "count_sketch"),
    "local_top-r": ("local_sgd", "topk"),
    "fetchsgd": ("fetchsgd", "count_sketch"),
    "fetchsgd+EF": ("fetchsgd", "count_sketch"),
}
RATIOS = (2, 5, 10, 20, 50)
#: (method, ratio) of the runs that diverge: loss grows to 1e144, then NaN
DIVERGED = {("fetchsgd", 50), ("fetchsgd+EF", 20), ("sketch_dl", 50)}
NAN_FROM = 15


def _spec(i: int, method: str, ratio: int) -> Spec:
    alg, comp = METHODS[method]
    diverged = (method, ratio) in DIVERGED
    # several runs end on the same final accuracy at the same ratio: their markers coincide
    acc = 0.3 if diverged else round(0.86 - 0.02 * RATIOS.index(ratio) - 0.01 * (i % 2), 2)
    return Spec(f"r{i:02d}", algorithm=alg, compressor=comp, ratio=ratio, final_acc=acc,
                nan_from=NAN_FROM if diverged else None, status="diverged" if diverged else "completed",
                message="NaN or inf in the model" if diverged else "")


@pytest.fixture(scope="module")
def big_sweep(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("big_sweep")
    i = 0
    for method in METHODS:
        for ratio in RATIOS:
            spec = _spec(i, method, ratio)
            path = write_trace(d / f"{spec.run_id}.h5", spec)
            with h5py.File(path, "a") as f:
                f.attrs["sweep_point"] = json.dumps({"compression": f"d/b={ratio}", "method": method})
                f.attrs["sweep_point_keys"] = json.dumps({
                    "compression": ["compressor.ratio"],
                    "method": ["algorithm.kind", "compressor.kind"]})
                # evaluated at rounds 1 and 2 too: predicted times span more than a decade (log x)
                acc, ev = f["trace/eval_accuracy"][...], f["trace/eval_loss"][...]
                for k in (1, 2):
                    acc[k], ev[k] = spec.accuracy(k), 2.0 * (1.0 - spec.accuracy(k))
                f["trace/eval_accuracy"][...], f["trace/eval_loss"][...] = acc, ev
                if spec.status == "diverged":
                    loss = f["trace/loss"][...]
                    grow = np.arange(8, NAN_FROM)  # 10^(144 k/7) up to 1e144 at the last finite step
                    loss[grow] = 10.0 ** (144 * (grow - 7) / 7)
                    f["trace/loss"][...] = loss
                    ev = f["trace/eval_loss"][...]
                    ev[10] = 1e60
                    f["trace/eval_loss"][...] = ev
            i += 1
    assert i == 30
    return d


@pytest.fixture(scope="module")
def rendered(big_sweep, tmp_path_factory):
    """stem -> (Plot, path): every figure the report draws, saved as PNG and drawn."""
    results = load([big_sweep])
    assert len(results.runs) == 30
    links = list(PRESETS.values())
    opts = report.Options(links=links)
    pred = predict(results.steps, results.timing, results.runs, links)
    out = tmp_path_factory.mktemp("figs")
    figs = {}
    for f in report.figures(results, opts, pred):
        if f.plot is None:
            continue
        path = out / f"{f.stem}.png"
        report.plots.save(f.plot, str(path))
        FigureCanvasAgg(f.plot.figure).draw()  # the artists as saved (savefig lays the figure out the same)
        figs[f.stem] = (f.plot, path)
    assert {"curves_rounds", "curves_uplink_bytes", "curves_time", "ratio", "network", "phases"} <= set(figs)
    return results, figs


def _inside(box, fig_box, tol=1.0) -> bool:
    return (box.x0 >= fig_box.x0 - tol and box.y0 >= fig_box.y0 - tol
            and box.x1 <= fig_box.x1 + tol and box.y1 <= fig_box.y1 + tol)


def _tick_labels(axis):
    """The tick labels drawn: visible, with text, at a tick inside the view limits."""
    lo, hi = sorted(axis.get_view_interval())
    out = []
    for locs, labels in ((axis.get_majorticklocs(), axis.get_majorticklabels()),
                         (axis.get_minorticklocs(), axis.get_minorticklabels())):
        for loc, t in zip(locs, labels):
            inside = lo - 1e-9 * abs(hi - lo) <= loc <= hi + 1e-9 * abs(hi - lo)
            if inside and t.get_visible() and t.get_text():
                out.append(t)
    return out


def _overlap(a, b, tol=0.5) -> bool:
    return a.x0 < b.x1 - tol and b.x0 < a.x1 - tol and a.y0 < b.y1 - tol and b.y0 < a.y1 - tol


def test_legends_lie_inside_the_figure(rendered):
    _, figs = rendered
    bad = []
    for stem, (plot, _) in figs.items():
        fig = plot.figure
        r = fig.canvas.get_renderer()
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        sup = fig._suptitle.get_window_extent(r) if fig._suptitle is not None and fig._suptitle.get_text() else None
        for leg in legends:
            box = leg.get_window_extent(r)
            if not _inside(box, fig.bbox):
                bad.append(f"{stem}: legend {box.bounds} outside figure {fig.bbox.bounds}")
            if sup is not None and _overlap(box, sup):
                bad.append(f"{stem}: legend {box.bounds} overlaps the figure's title {sup.bounds}")
        # and the titles are whole too
        for ax in fig.axes:
            if ax.get_visible() and ax.get_title() and not _inside(ax.title.get_window_extent(r), fig.bbox):
                bad.append(f"{stem}: axes title {ax.get_title()!r} outside the figure")
    assert not bad, "\n".join(bad)


def test_tick_labels_inside_and_apart(rendered):
    _, figs = rendered
    bad = []
    for stem, (plot, _) in figs.items():
        fig = plot.figure
        r = fig.canvas.get_renderer()
        for n, ax in enumerate(fig.axes):
            if not ax.get_visible():
                continue
            for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
                labels = _tick_labels(axis)
                boxes = [t.get_window_extent(r) for t in labels]
                for t, b in zip(labels, boxes):
                    if not _inside(b, fig.bbox):
                        bad.append(f"{stem} axes {n} {name}: tick label {t.get_text()!r} outside the figure")
                for i in range(len(boxes)):
                    for j in range(i + 1, len(boxes)):
                        if _overlap(boxes[i], boxes[j]):
                            bad.append(f"{stem} axes {n} {name}: tick labels {labels[i].get_text()!r} and "
                                       f"{labels[j].get_text()!r} overlap")
    assert not bad, "\n".join(bad[:20])


def _curve_axes(figs):
    """(stem, axes, the rows of the plot's data that it draws) of every curves panel."""
    for stem, (plot, _) in figs.items():
        if stem.startswith("curves_"):
            metrics = list(dict.fromkeys(plot.data["metric"]))
            for ax, m in zip(plot.figure.axes, metrics):
                yield stem, ax, plot.data[plot.data["metric"] == m]
        elif stem == "network":
            links = list(dict.fromkeys(plot.data["link"]))
            for ax, link in zip(plot.figure.axes, links):
                yield stem, ax, plot.data[plot.data["link"] == link]


def test_y_limits_are_not_set_by_diverged_runs(rendered):
    _, figs = rendered
    bad = []
    for stem, ax, d in _curve_axes(figs):
        ref = d.loc[d["status"] != "diverged", "value"].astype(float)
        lo, hi = ax.get_ylim()
        span = ref.max() - ref.min()
        if ax.get_yscale() == "log":
            ok = hi <= ref.max() * 10 and lo >= ref.min() / 10
        else:
            ok = hi <= ref.max() + 0.5 * span + 1e-9 and lo >= ref.min() - 0.5 * span - 1e-9
        if not ok:
            bad.append(f"{stem} {ax.get_title()!r}: y from {lo:.3g} to {hi:.3g}, the other runs "
                       f"{ref.min():.3g} to {ref.max():.3g}")
        # the diverged runs are still drawn, and said to be diverged
        assert (d["status"] == "diverged").any()
    assert not bad, "\n".join(bad)
    texts = [t.get_text() for leg in figs["curves_rounds"][0].figure.legends for t in leg.get_texts()]
    texts += [t.get_text() for ax in figs["curves_rounds"][0].figure.axes for t in ax.texts]
    assert any("diverged" in t for t in texts)


def _style(line) -> tuple:
    from matplotlib.colors import to_hex

    face = line.get_markerfacecolor()
    fill = "none" if isinstance(face, str) and face == "none" else to_hex(face, keep_alpha=True)
    return to_hex(line.get_color()), line.get_linestyle(), line.get_marker(), fill


def test_no_two_runs_share_colour_and_style(rendered):
    _, figs = rendered
    bad = []
    for stem, ax, d in _curve_axes(figs):
        runs = d["run_id"].nunique()
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1]  # one line per run; end marks are 1 point
        assert len(lines) == runs, f"{stem}: {len(lines)} lines for {runs} runs"
        styles = [_style(ln) for ln in lines]
        dup = {s for s in styles if styles.count(s) > 1}
        if dup:
            bad.append(f"{stem} {ax.get_title()!r}: {len(dup)} (colour, line style, marker, fill) shared: "
                       f"{sorted(dup)[:3]}")
    assert not bad, "\n".join(bad)


def test_ratio_markers_do_not_hide_each_other(rendered):
    _, figs = rendered
    plot, _ = figs["ratio"]
    (ax,) = [a for a in plot.figure.axes if a.get_visible()][:1]
    placed = []  # (display x, display y, marker) of every drawn point
    for ln in ax.get_lines():
        if ln.get_marker() in (None, "None", "", " "):
            continue
        xy = ax.transData.transform(np.column_stack([ln.get_xdata(), ln.get_ydata()]).astype(float))
        placed += [(round(x, 0), round(y, 0), ln.get_marker()) for x, y in xy]
    # every placed run is drawn once
    d = plot.data
    assert len(placed) >= (d["compression_ratio"].gt(0) & np.isfinite(d["value"])).sum()
    hidden = {p for p in placed if placed.count(p) > 1}
    assert not hidden, f"{len(hidden)} marker positions hold several runs with the same marker: {sorted(hidden)[:3]}"
