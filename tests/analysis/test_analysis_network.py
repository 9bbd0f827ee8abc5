"""The network model: unit parsing, and predicted times equal to hand-computed ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fake_traces import BY_ID, PER_ROUND

from hpcsketch.analysis import tables
from hpcsketch.analysis.network import PRESETS, Link, links_from_specs, parse_link, parse_rate, parse_seconds, predict
from hpcsketch.errors import BadInput


@pytest.mark.parametrize("text,seconds", [("20ms", 0.02), ("10us", 1e-5), ("0.5", 0.5), ("2 s", 2.0), ("1e3ns", 1e-6)])
def test_parse_seconds(text, seconds):
    assert parse_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text,rate", [
    ("10Mbit", 1.25e6), ("10Mb", 1.25e6), ("10mbps", 1.25e6), ("1Gbit/s", 1.25e8), ("100Gbit", 1.25e10),
    ("10MB", 1e7), ("1GB/s", 1e9), ("2KiB", 2048.0), ("1000", 1000.0), ("8bit", 1.0),
])
def test_parse_rate(text, rate):
    assert parse_rate(text) == pytest.approx(rate)


def test_parse_link_and_presets():
    assert parse_link("lte=20ms,10Mbit,50Mbit") == Link("lte", 0.02, 1.25e6, 6.25e6)
    assert parse_link("sym=1ms,1Gbit") == Link("sym", 1e-3, 1.25e8, 1.25e8)  # DOWN defaults to UP
    assert parse_link("federated") is PRESETS["federated"]
    assert PRESETS["federated"] == Link("federated", 0.05, 10e6 / 8, 50e6 / 8)
    assert PRESETS["cross-datacenter"].latency == 0.03 and PRESETS["cross-datacenter"].up == 1e9 / 8
    assert PRESETS["datacenter"].latency == 1e-5 and PRESETS["datacenter"].down == 100e9 / 8
    assert [link.name for link in links_from_specs(None)] == list(PRESETS)


@pytest.mark.parametrize("spec,match", [
    ("x=1,2,3,4", "expected NAME=LATENCY"), ("x=fast,1Gbit", "latency 'fast'"), ("x=1ms,10Mb/h", "unknown unit"),
    ("x=1ms,0Mbit", "must be positive"), ("=1ms,1Gbit", "expected NAME"), ("moon", "preset name"),
])
def test_bad_link_specs_are_one_line_bad_input(spec, match):
    with pytest.raises(BadInput, match=match) as e:
        parse_link(spec)
    assert "\n" not in str(e.value) and "--link" in str(e.value)


def test_duplicate_link_names_are_refused():
    with pytest.raises(BadInput, match="given twice"):
        links_from_specs(["a=1ms,1Gbit", "a=2ms,1Gbit"])


def _tiny() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    steps = pd.DataFrame({"run_id": "a", "step": [0, 1, 2], "clients": [np.nan, 2, 4],
                          "bytes_uplink": [0.0, 2000.0, 4000.0], "bytes_downlink": [0.0, 8000.0, 16000.0]})
    rows = []
    # (step, rank) -> phase seconds; communicate is replaced by the model and must not count
    measured = {(1, 0): dict(compute=0.1, compress=0.01, communicate=5.0, decompress=0.02, update=0.03),
                (1, 1): dict(compute=0.2, compress=0.0, communicate=0.0, decompress=0.0, update=0.0),
                (2, 0): dict(compute=0.3, compress=0.0, communicate=1.0, decompress=0.0, update=0.0),
                (2, 1): dict(compute=0.05, compress=0.05, communicate=0.0, decompress=0.0, update=0.0)}
    for (step, rank), phases in measured.items():
        for p, v in phases.items():
            rows.append({"run_id": "a", "step": step, "rank": rank, "phase": p, "seconds": v})
    runs = pd.DataFrame({"run_id": ["a"], "clients": [8]})
    return steps, pd.DataFrame(rows), runs


def test_predicted_times_equal_the_hand_computed_ones():
    steps, timing, runs = _tiny()
    link = Link("l", latency=0.01, up=1000.0, down=4000.0)
    p = predict(steps, timing, runs, [link])
    # round 1: slowest compute max(0.16, 0.2) + 2 x 0.01 + 1000 B / 1000 B/s + 4000 B / 4000 B/s
    # round 2: max(0.3, 0.1) + 0.02 + 1 + 1
    np.testing.assert_allclose(p["predicted_round_seconds"], [0.0, 2.22, 2.32])
    np.testing.assert_allclose(p["predicted_seconds"], [0.0, 2.22, 4.54])
    assert list(p["step"]) == [0, 1, 2] and set(p["link"]) == {"l"}


def test_missing_client_counts_fall_back_to_all_clients():
    steps, timing, runs = _tiny()
    steps = steps.drop(columns="clients")
    p = predict(steps, timing, runs, [Link("l", 0.0, 1000.0, 1e12)])
    # 2000 B over the run's 8 clients = 250 B each
    assert p["predicted_round_seconds"].iloc[1] == pytest.approx(0.2 + 0.25 + 8000 / 8 / 1e12)


def test_prediction_on_a_trace_and_time_to_target(sweep_results):
    link = PRESETS["federated"]
    pred = predict(sweep_results.steps, sweep_results.timing, sweep_results.runs, [link])
    s = BY_ID["cs-r5"]
    compute = ("compute", "compress", "decompress", "update")
    per_round = [max(sum(s.phase_seconds(p, k, r) for p in compute) for r in range(s.world_size))
                 + 2 * link.latency + s.uplink_per_client() / link.up + s.downlink_per_client() / link.down
                 for k in range(1, 21)]
    mine = pred[pred["run_id"] == s.run_id]
    np.testing.assert_allclose(mine["predicted_seconds"], np.cumsum([0.0] + per_round))
    assert PER_ROUND * s.uplink_per_client() == sweep_results.steps_of(s.run_id)["bytes_uplink"].iloc[1]

    goal = tables.targets(sweep_results, target_accuracy=0.74)
    summary = tables.network_summary(sweep_results, pred, [link], goal).set_index("run_id")
    g = goal.set_index("run_id")
    # accuracy first reaches 0.74 at the step-10 evaluation for cs-r5; cs-r10 never does
    assert g.at["cs-r5", "step"] == 10 and g.at["cs-r5", "reached"]
    assert not g.at["cs-r10", "reached"] and not g.at["failed", "reached"]
    assert g.at["cs-r5", "cum_bytes_uplink"] == pytest.approx(10 * PER_ROUND * s.uplink_per_client())
    assert summary.at["cs-r5", "predicted_seconds_to_target"] == pytest.approx(sum(per_round[:10]))
    assert summary.at["cs-r5", "predicted_seconds"] == pytest.approx(sum(per_round))
    assert np.isnan(summary.at["cs-r10", "predicted_seconds_to_target"])
    # every run is in the summary, the failed ones with the rounds they did
    assert summary.at["failed", "rounds"] == 5 and len(summary) == len(sweep_results.runs)


def test_loss_target_uses_eval_loss_and_cli_target_wins(sweep_results):
    goal = tables.targets(sweep_results, target_loss=0.5).set_index("run_id")
    assert goal.at["cs-r5", "metric"] == "eval_loss" and goal.at["cs-r5", "step"] == 15
    none = tables.targets(sweep_results)
    assert (none["metric"] == "").all() and not none["reached"].any()
