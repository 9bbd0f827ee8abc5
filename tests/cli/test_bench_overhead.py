"""``hpcsketch bench overhead``: the estimators, and a real (tiny) run on 2 ranks."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from hpcsketch.bench.overhead import ratios


def test_the_three_estimators():
    r = ratios([1.2, 1.0, 3.0], [1.0, 1.0, 1.5])
    assert r["ratio_of_minimums"] == pytest.approx(1.0 / 1.0)
    assert r["median_pair_ratio"] == pytest.approx(1.2)  # pairs 1.2, 1.0, 2.0
    assert r["ratio_of_medians"] == pytest.approx(1.2 / 1.0)
    assert (r["pair_min"], r["pair_max"]) == pytest.approx((1.0, 2.0))


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpcsketch", "bench", "overhead", *args], capture_output=True, text=True,
                          timeout=300, start_new_session=True)


def test_a_two_rank_run_reports_both_loops_and_the_ratios():
    res = _bench("-n", "2", "--rounds", "5", "--repeats", "2", "--set", "clients.count=4")
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "2 ranks, 4 clients" in out and "5 rounds x 2 pairs" in out, out
    runs = {name: [float(v) for v in re.search(rf"{name}.*\(runs: ([\d., ]+)\)", out).group(1).split(", ")]
            for name in ("harness round", "bare loop")}
    assert all(len(v) == 2 and all(x > 0 for x in v) for v in runs.values()), runs
    m = re.search(r"ratio of minimums ([\d.]+), median of pair ratios ([\d.]+), ratio of medians ([\d.]+)", out)
    assert m, out
    assert float(m.group(1)) == pytest.approx(min(runs["harness round"]) / min(runs["bare loop"]), rel=2e-3, abs=2e-3)


@pytest.mark.parametrize("args, field", [(["--rounds", "0"], "--rounds"),
                                         (["--set", "algorithm.kind=fedavg"], "algorithm"),
                                         (["--set", "problem.kind=quadratic"], "problem")])
def test_bad_input_is_one_line(args, field):
    res = _bench(*args)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and field in res.stderr, res.stderr
