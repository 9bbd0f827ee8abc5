"""Which sweep points are finished: same effective configuration, final status; plumbing
keys, unused keys and options added since a trace was written do not force a re-run."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import pytest

from hpcsketch.config.job import load_job
from hpcsketch.sweep import finished_points

JOB = """
[run]
name = "fin"
rounds = 2
eval_every = 0
progress = false
[problem]
kind = "least_squares"
dim = 16
rows = 8
batch_size = 0
[clients]
count = 2
[algorithm]
kind = "psgd"
[sweep]
"algorithm.lr" = [0.01, 0.02]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    d = tmp_path_factory.mktemp("fin")
    job = d / "fin.toml"
    job.write_text(JOB)
    out = d / "out"
    r = subprocess.run([sys.executable, "-m", "hpcsketch", "sweep", str(job), "--out", str(out), "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return job, out


def _points(job, *overrides):
    return load_job(str(job), list(overrides)).points()


def _edit(out, lr, fn):
    """Apply ``fn`` to the resolved job of the trace of the point with this lr."""
    for p in out.glob("*.h5"):
        with h5py.File(p, "a") as f:
            resolved = json.loads(f.attrs["job_resolved"])
            if resolved["algorithm"]["lr"] == lr:
                fn(resolved)
                f.attrs["job_resolved"] = json.dumps(resolved)
                return
    raise AssertionError(f"no trace with lr {lr}")


def test_finished_points_and_what_does_not_matter(swept):
    job, out = swept
    assert finished_points(_points(job), str(out)) == {0, 1}
    # where output goes, flushing and keys the run does not read (no compressor: its ratio) do not count
    assert finished_points(_points(job, "run.flush_every=7", "run.flush_seconds=1", "compressor.ratio=9"), str(out)) == {0, 1}
    # a key the run reads does
    assert finished_points(_points(job, "algorithm.momentum=0.5"), str(out)) == set()


def test_an_option_the_trace_predates_matches_its_default(swept, tmp_path):
    job, out = swept
    _edit(out, 0.01, lambda r: r.pop("hessian", None) and None)  # written before [hessian] existed
    _edit(out, 0.02, lambda r: r["algorithm"].pop("momentum"))
    assert finished_points(_points(job), str(out)) == {0, 1}
    # not at the default: the old trace cannot have been that run
    assert finished_points(_points(job, "algorithm.momentum=0.5"), str(out)) == set()
    assert 0 not in finished_points(_points(job, "hessian.every=1"), str(out))


def test_only_final_statuses_count(swept):
    job, out = swept
    for p in out.glob("*.h5"):
        with h5py.File(p, "a") as f:
            if json.loads(f.attrs["job_resolved"])["algorithm"]["lr"] == 0.02:
                f.attrs["status"] = "interrupted"
    assert finished_points(_points(job), str(out)) == {0}
