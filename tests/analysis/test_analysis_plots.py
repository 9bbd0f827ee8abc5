"""The figures draw what the traces hold: checked on the data each plot returns and on its artists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fake_traces import BY_ID, PHASE_SECONDS, SCALING, SWEEP, Spec, row, write_trace

from hpcsketch.analysis import plots, tables
from hpcsketch.analysis.load import load
from hpcsketch.analysis.network import PRESETS, predict

INCOMPLETE = [s.run_id for s in SWEEP if s.status != "completed"]


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()] + \
        [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_curves_against_rounds_hold_the_written_values(sweep_results):
    plot = plots.metric_curves(sweep_results, "step")
    assert plot is not None
    d = plot.data
    assert set(d["metric"]) == {"loss", "eval_loss", "eval_accuracy"}
    for s in SWEEP:
        acc = d[(d["run_id"] == s.run_id) & (d["metric"] == "eval_accuracy")].sort_values("x")
        evaluated = [k for k in range(s.rounds_done + 1) if k % 5 == 0 or k == s.rounds_done]
        assert list(acc["x"]) == evaluated
        np.testing.assert_allclose(acc["value"], [s.accuracy(k) for k in evaluated])
    # every run is in the legend; the unfinished ones carry their status
    texts = _legend_texts(plot.figure)
    for rid in INCOMPLETE:
        label = sweep_results.run(rid)["label"]
        status = sweep_results.run(rid)["status"]
        assert f"{label} [{status}]" in texts
    assert len(texts) == len(SWEEP)


def test_unfinished_runs_are_dashed_and_nan_points_left_out(sweep_results):
    plot = plots.metric_curves(sweep_results, "step", ["loss"])
    (ax,) = plot.figure.axes
    by_label = {}
    for line in ax.get_lines():
        if len(line.get_xdata()) > 1:
            by_label.setdefault(tuple(np.asarray(line.get_xdata(), dtype=float)), []).append(line.get_linestyle())
    styles = [ls for lst in by_label.values() for ls in lst]
    assert styles.count("--") == len(INCOMPLETE) and styles.count("-") == len(SWEEP) - len(INCOMPLETE)
    div = plot.data[plot.data["run_id"] == "diverged"]
    assert div["x"].max() == 17 and np.isfinite(div["value"]).all()  # NaN loss from step 18 is not a point


@pytest.mark.parametrize("axis,metric", [("cum_bytes_uplink", "bytes_uplink"), ("cum_bytes_mpi", "bytes_mpi")])
def test_byte_axes_are_the_cumulative_sums(sweep_results, axis, metric):
    plot = plots.metric_curves(sweep_results, axis, ["loss"])
    assert all(ax.get_xscale() == "log" for ax in plot.figure.axes)
    for s in SWEEP:
        written = pd.DataFrame([row(s, k) for k in range(s.rounds_done + 1)])
        cum = np.cumsum(written[metric].to_numpy())
        pts = plot.data[plot.data["run_id"] == s.run_id].sort_values("x")
        finite = written["loss"].notna() & (cum > 0)
        np.testing.assert_allclose(pts["x"], cum[finite])
        np.testing.assert_allclose(pts["value"], written["loss"][finite])


def test_time_axis_is_the_slowest_ranks_cumulative_round_time(sweep_results):
    plot = plots.metric_curves(sweep_results, "cum_seconds", ["eval_accuracy"])
    s = BY_ID["cs-r2"]
    phases = tuple(PHASE_SECONDS)
    round_s = [sum(s.phase_seconds(p, k, s.world_size - 1) for p in phases) + 1e-4 for k in range(1, 21)]
    pts = plot.data[plot.data["run_id"] == s.run_id].sort_values("x")
    np.testing.assert_allclose(pts["x"], [0.0] + [sum(round_s[:k]) for k in (5, 10, 15, 20)])


def test_ratio_plot_points_are_final_accuracies_per_method(sweep_results):
    plot = plots.ratio_tradeoff(sweep_results)
    d = plot.data.set_index("run_id")
    assert len(d) == len(SWEEP)  # nothing dropped, failed runs included
    for s in SWEEP:
        assert d.at[s.run_id, "compression_ratio"] == pytest.approx(s.ratio)
        assert d.at[s.run_id, "value"] == pytest.approx(s.accuracy(s.rounds_done))
        assert d.at[s.run_id, "status"] == ("failed" if s.dead_writer else s.status)
    assert d.at["cs-r5", "method"] == "cs_sgd+count_sketch" and d.at["fetch-r5", "method"] == "fetchsgd+count_sketch"
    (ax,) = plot.figure.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    cs = lines["cs_sgd+count_sketch"]  # the completed runs of the method, in ratio order
    np.testing.assert_allclose(cs.get_xdata(), [2, 5, 10])
    np.testing.assert_allclose(cs.get_ydata(), [BY_ID[r].accuracy(20) for r in ("cs-r2", "cs-r5", "cs-r10")])
    failed = lines["cs_sgd+count_sketch [failed]"]  # the failed one and the dead one: hollow markers, no line
    assert sorted(failed.get_xdata()) == [20, 40] and failed.get_linestyle() == "None"
    assert ax.get_ylabel() == "final held-out accuracy"


def test_ratio_plot_uses_eval_loss_without_accuracy(tmp_path):
    spec = Spec("q", ratio=4)
    path = write_trace(tmp_path / "q.h5", spec)
    import h5py

    with h5py.File(path, "a") as f:
        del f["trace/eval_accuracy"]
    r = load([path])
    plot = plots.ratio_tradeoff(r)
    assert plot.figure.axes[0].get_ylabel() == "final held-out loss"
    assert plot.data["value"].item() == pytest.approx(2.0 * (1 - spec.accuracy(20)))


def test_phase_breakdown_is_the_mean_over_rounds_and_ranks(sweep_results):
    plot = plots.phase_breakdown(sweep_results)
    d = plot.data.set_index("run_id")
    s = BY_ID["failed"]
    for p in PHASE_SECONDS:
        expect = np.mean([s.phase_seconds(p, k, r) for k in range(1, s.rounds_done + 1) for r in range(s.world_size)])
        assert d.at["failed", p] == pytest.approx(expect)
    assert d.at["failed", "other"] == pytest.approx(1e-4)
    (ax,) = plot.figure.axes
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert any(t.endswith("[failed]") for t in ticks) and len(ticks) == len(SWEEP)
    assert "ms" in ax.get_xlabel()


def test_scaling_groups_runs_that_differ_only_in_world_size(scaling_dir):
    r = load([scaling_dir])
    plot = plots.scaling_plot(r)
    d = plot.data
    assert list(d["world_size"]) == [1, 2, 4] and set(d["run_id"]) == {s.run_id for s in SCALING}
    for s in SCALING:
        got = d[d["run_id"] == s.run_id].iloc[0]
        slow = [sum(s.phase_seconds(p, k, s.world_size - 1) for p in PHASE_SECONDS) + 1e-4 for k in range(1, 21)]
        assert got["rounds_per_second"] == pytest.approx(20 / sum(slow))
        mean_compute = np.mean([s.phase_seconds("compute", k, rk) for k in range(1, 21) for rk in range(s.world_size)])
        assert got["compute"] == pytest.approx(mean_compute)
    ax_rate = plot.figure.axes[0]
    (line,) = [ln for ln in ax_rate.get_lines() if ln.get_label() == d["group"].iloc[0]]
    np.testing.assert_allclose(line.get_ydata(), d["rounds_per_second"])
    # a lone configuration is no scaling study
    assert plots.scaling_plot(load([scaling_dir / "other.h5", scaling_dir / "psgd-P1.h5"])) is None


def test_consensus_plot_only_when_recorded(tmp_path, sweep_results):
    assert plots.consensus(sweep_results) is None
    write_trace(tmp_path / "d.h5", Spec("dsgd", algorithm="dsgd", consensus=True))
    write_trace(tmp_path / "c.h5", Spec("central"))
    plot = plots.consensus(load([tmp_path]))
    assert set(plot.data["run_id"]) == {"dsgd"}
    np.testing.assert_allclose(plot.data["value"], [1.0 / k**2 for k in range(1, 21)])
    assert plot.figure.axes[0].get_yscale() == "log"


def test_network_plot_places_accuracy_on_predicted_time(sweep_results):
    links = [PRESETS["federated"], PRESETS["datacenter"]]
    pred = predict(sweep_results.steps, sweep_results.timing, sweep_results.runs, links)
    plot = plots.network_prediction(sweep_results, pred, links)
    d = plot.data
    assert set(d["link"]) == {"federated", "datacenter"} and len(plot.figure.axes) == 2
    fed = d[(d["run_id"] == "cs-r10") & (d["link"] == "federated")].sort_values("step")
    expect = pred[(pred["run_id"] == "cs-r10") & (pred["link"] == "federated") & pred["step"].isin([5, 10, 15, 20])]
    np.testing.assert_allclose(fed["predicted_seconds"], expect["predicted_seconds"])
    np.testing.assert_allclose(fed["value"], [BY_ID["cs-r10"].accuracy(k) for k in (5, 10, 15, 20)])
    assert set(INCOMPLETE) <= set(d["run_id"])


def test_curve_metrics_default_to_what_is_recorded(sweep_results):
    assert tables.curve_metrics(sweep_results.steps) == ["loss", "eval_loss", "eval_accuracy"]
    assert tables.curve_metrics(sweep_results.steps, ["eval_accuracy", "nope"]) == ["eval_accuracy"]
