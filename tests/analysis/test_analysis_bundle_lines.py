"""A sweep with bundle axes: the ratio plot draws one line per method axis value, whatever
the compression axis sets (real traces written by ``hpcsketch sweep``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hpcsketch.analysis import plots
from hpcsketch.analysis.load import load

JOB = """
[run]
name = "bundle"
rounds = 3
eval_every = 0
progress = false
[problem]
kind = "least_squares"
dim = 64
rows = 16
batch_size = 0
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = 0.05
[compressor]
kind = "none"
[sweep]
compression = [
  { label = "x2", "compressor.ratio" = 2, "compressor.k" = 0.1 },
  { label = "x8", "compressor.ratio" = 8, "compressor.k" = 0.05 },
]
method = [
  { label = "cs", "algorithm.kind" = "cs_sgd", "compressor.kind" = "subsampled_wht" },
  { label = "cs_ef", "algorithm.kind" = "fetchsgd", "compressor.kind" = "count_sketch", "algorithm.momentum" = 0.0 },
]
"""


def test_ratio_lines_follow_the_method_axis(tmp_path):
    job = tmp_path / "bundle.toml"
    job.write_text(JOB)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "hpcsketch", "sweep", str(job), "--out", str(out), "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    plot = plots.ratio_tradeoff(load([out]))
    d = plot.data
    assert sorted(d["method"]) == ["cs", "cs", "cs_ef", "cs_ef"]
    for meth in ("cs", "cs_ef"):
        assert sorted(d.loc[d["method"] == meth, "compression_ratio"]) == pytest.approx([2, 8], rel=0.05)
    (ax,) = plot.figure.axes
    assert {line.get_label() for line in ax.get_lines()} == {"cs", "cs_ef"}
