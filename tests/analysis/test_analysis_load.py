"""Loading: every trace is a row with its true status, unreadable files are listed, tables equal what was written."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _fake_traces import BY_ID, CORRUPT, DIM, NEWER, PER_ROUND, SWEEP, Spec, row, write_trace

from hpcsketch.analysis.load import find_traces, load
from hpcsketch.errors import BadInput


def test_every_run_is_a_row_with_its_status(sweep_results):
    runs = sweep_results.runs.set_index("run_id")
    assert sorted(runs.index) == sorted(s.run_id for s in SWEEP)
    expected = {s.run_id: ("failed" if s.dead_writer else s.status) for s in SWEEP}
    assert runs["status"].to_dict() == expected
    assert runs.at["failed", "message"] == "rank 1: MemoryError in compress"
    assert "writer process is gone" in runs.at["dead", "message"]
    for s in SWEEP:
        assert runs.at[s.run_id, "rounds_done"] == s.rounds_done
        assert runs.at[s.run_id, "rounds_planned"] == 20


def test_unreadable_files_are_listed_with_their_reason(sweep_results):
    reasons = {u.path.rsplit("/", 1)[-1]: u.reason for u in sweep_results.unreadable}
    assert set(reasons) == {CORRUPT, NEWER}
    assert "not an HDF5 file" in reasons[CORRUPT]
    assert "newer than this hpcsketch reads" in reasons[NEWER]
    assert all("\n" not in r and "Traceback" not in r for r in reasons.values())


def test_directories_are_searched_recursively_and_only_h5(sweep_dir):
    names = sorted(p.name for p in find_traces([sweep_dir]))
    assert names == sorted([f"{s.run_id}.h5" for s in SWEEP] + [CORRUPT, NEWER])
    # a file named twice (directly and through its directory) is read once
    assert len(find_traces([sweep_dir, sweep_dir / "cs-r2.h5"])) == len(names)
    with pytest.raises(BadInput, match="no such file"):
        find_traces([sweep_dir / "missing"])


def test_steps_table_holds_what_was_written(sweep_results):
    for s in SWEEP:
        st = sweep_results.steps_of(s.run_id).sort_values("step")
        assert list(st["step"]) == list(range(s.rounds_done + 1))
        written = pd.DataFrame([row(s, k) for k in range(s.rounds_done + 1)])
        for col in ("loss", "eval_accuracy", "bytes_uplink", "bytes_mpi"):
            np.testing.assert_array_equal(st[col].to_numpy(), written[col].to_numpy())
        np.testing.assert_allclose(st["cum_bytes_uplink"], np.cumsum(written["bytes_uplink"]))


def test_timing_table_and_round_seconds(sweep_results):
    s = BY_ID["cs-r5"]
    t = sweep_results.timing[sweep_results.timing["run_id"] == s.run_id]
    assert set(t["phase"]) == {"compute", "compress", "communicate", "decompress", "update", "total"}
    assert len(t) == 6 * s.rounds_done * s.world_size
    got = t[(t["phase"] == "compute") & (t["step"] == 3) & (t["rank"] == 1)]["seconds"].item()
    assert got == pytest.approx(s.phase_seconds("compute", 3, 1))
    st = sweep_results.steps_of(s.run_id).set_index("step")
    # the round time is the slowest rank's (rank 1 here) total
    slow_total = sum(s.phase_seconds(p, 3, 1) for p in ("compute", "compress", "communicate", "decompress", "update")) + 1e-4
    assert st.at[3, "round_seconds"] == pytest.approx(slow_total)
    assert math.isnan(st.at[0, "round_seconds"]) and st.at[0, "cum_seconds"] == 0
    assert st["cum_seconds"].iloc[-1] == pytest.approx(st["round_seconds"].sum())


def test_final_values_ratios_and_varied_keys(sweep_results):
    runs = sweep_results.runs.set_index("run_id")
    for s in SWEEP:
        assert runs.at[s.run_id, "final_eval_accuracy"] == pytest.approx(s.accuracy(s.rounds_done))
        assert runs.at[s.run_id, "ratio_nominal"] == pytest.approx(s.ratio)
        # measured: dense float32 bytes per client / uplink bytes per client
        assert runs.at[s.run_id, "ratio_measured"] == pytest.approx(DIM * 4 / s.uplink_per_client())
        assert runs.at[s.run_id, "total_bytes_uplink"] == pytest.approx(s.rounds_done * PER_ROUND * s.uplink_per_client())
    # the diverged run's loss ends in NaN: its final loss is the last finite one (step 17)
    assert runs.at["diverged", "final_loss"] == pytest.approx(2.0 / 18)
    assert set(sweep_results.varied) == {"algorithm", "compressor", "compressor.ratio"}
    assert runs.at["cs-r10", "label"] == "cs_sgd+count_sketch ratio=10"
    # the identity compressor does not read compressor.ratio: no ratio in its label
    assert runs.at["psgd", "label"] == "psgd+none" and math.isnan(runs.at["psgd", "compressor.ratio"])
    assert sweep_results.runs["label"].is_unique


def test_repeats_get_distinct_labels_and_ids(tmp_path):
    write_trace(tmp_path / "a.h5", Spec("same"))
    (tmp_path / "copy").mkdir()
    write_trace(tmp_path / "copy" / "a.h5", Spec("same"))
    write_trace(tmp_path / "b.h5", Spec("other", lr=0.5))
    r = load([tmp_path])
    assert sorted(r.runs["run_id"]) == ["other", "same", "same#2"]
    assert r.varied == ["algorithm.lr"]
    labels = r.runs.set_index("run_id")["label"]
    assert labels["other"] == "cs_sgd+count_sketch lr=0.5"
    assert labels["same"] != labels["same#2"] and labels["same"].startswith("cs_sgd+count_sketch lr=0.1 (")
    # the steps of the two copies are kept apart
    assert (r.steps["run_id"] == "same#2").sum() == 21
