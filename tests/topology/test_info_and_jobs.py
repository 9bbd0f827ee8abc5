"""``hpcsketch info --topology`` and job validation of decentralized methods (no MPI ranks)."""

from __future__ import annotations

import pytest

from hpcsketch.cli import main
from hpcsketch.config.job import parse_job
from hpcsketch.errors import JobError

JOB = """
[problem]
kind = "least_squares"
[clients]
count = 8
[algorithm]
kind = "dsgd"
[topology]
kind = "{kind}"
"""


def test_info_prints_lists_matrix_checks_and_gap(capsys):
    assert main(["info", "--topology", "ring", "--nodes", "4"]) == 0
    out = capsys.readouterr().out
    assert "node    0: receives from [1, 3]" in out
    assert "doubly stochastic: yes" in out and "symmetric: yes" in out
    assert "spectral gap 1 - |lambda_2(W)|: 0.666667" in out
    assert "0.3333" in out  # W is printed for small P


def test_info_time_varying_reports_the_period_product(capsys):
    assert main(["info", "--topology", "one_peer_exponential", "--nodes", "8"]) == 0
    out = capsys.readouterr().out
    assert "period 3" in out and "sends to [1]" in out
    assert "symmetric: NO" in out
    assert "spectral gap of one period's product W_2 ... W_0: 1.000000" in out


def test_info_options_and_bad_input(capsys):
    assert main(["info", "--topology", "random_regular", "--nodes", "10", "--option", "degree=4", "--option", "graph_seed=2"]) == 0
    assert "degrees: min 4, max 4 (regular)" in capsys.readouterr().out
    for argv, field in (
        (["info", "--topology", "star", "--nodes", "5", "--weights", "uniform"], "[topology] weights"),
        (["info", "--topology", "torus", "--nodes", "5"], "[topology] kind"),
        (["info", "--topology", "ring"], "--nodes"),
        (["info", "--topology", "ring", "--nodes", "4", "--option", "depth=2"], "--option"),
        (["info", "--topology", "ring", "--nodes", "4", "--weights", "max"], "--weights"),
        (["info", "--topology", "mesh", "--nodes", "4"], "--topology"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert field in err and err.count("\n") == 1, err


@pytest.mark.parametrize("kind", ["ring", "torus", "exponential", "one_peer_exponential", "star", "complete", "random_regular"])
def test_every_topology_validates_at_eight_ranks(kind):
    job = parse_job(JOB.format(kind=kind), "d.toml", world_size=8)
    assert job.topology.kind == kind


@pytest.mark.parametrize(
    "kind,extra,P,field",
    [
        ("torus", "", 2, '[topology] kind = "torus"'),
        ("random_regular", "degree = 3", 5, "[topology] degree = 3"),
        ("star", 'weights = "uniform"', 4, '[topology] weights = "uniform"'),
    ],
)
def test_topology_that_does_not_fit_the_world_size(kind, extra, P, field):
    with pytest.raises(JobError) as e:
        parse_job(JOB.format(kind=kind) + extra, "d.toml", world_size=P)
    assert field in str(e.value)
    parse_job(JOB.format(kind=kind) + extra, "d.toml")  # without a world size there is nothing to check


def test_decentralized_needs_full_participation_and_one_local_step():
    with pytest.raises(JobError, match="participation"):
        parse_job(JOB.format(kind="ring").replace("count = 8", "count = 8\nparticipation = 0.5"), "d.toml")
    with pytest.raises(JobError, match="local_steps"):
        parse_job(JOB.format(kind="ring").replace('kind = "dsgd"', 'kind = "dsgd"\nlocal_steps = 3'), "d.toml")


def test_choco_accepts_compressors_but_dsgd_does_not():
    text = JOB.format(kind="ring") + '[compressor]\nkind = "topk"\n'
    with pytest.raises(JobError, match="does not work with this compressor"):
        parse_job(text, "d.toml")
    parse_job(text.replace('kind = "dsgd"', 'kind = "choco_sgd"'), "d.toml")
    with pytest.raises(JobError, match=r"\[compressor\] kind = \"perm_q\".*expected one of"):
        parse_job(text.replace('kind = "dsgd"', 'kind = "choco_sgd"').replace('"topk"', '"perm_q"'), "d.toml")


def test_choco_needs_a_static_topology():
    text = JOB.format(kind="one_peer_exponential").replace('kind = "dsgd"', 'kind = "choco_sgd"')
    with pytest.raises(JobError, match=r'\[topology\] kind = "one_peer_exponential": choco_sgd .* static topology'):
        parse_job(text, "d.toml")
    parse_job(text.replace('kind = "choco_sgd"', 'kind = "dsgd"'), "d.toml")


@pytest.mark.parametrize("P", [4, 8])
def test_decentralized_job_validates_at_four_and_eight_ranks(P):
    from pathlib import Path

    from hpcsketch.config.job import load_job

    job = load_job(Path(__file__).resolve().parents[2] / "jobs" / "decentralized.toml", world_size=P)
    points = job.points()
    assert len(points) == 16
    assert {p.topology.kind for p in points} == {"ring", "torus", "exponential", "star"}
    assert {p.compressor.kind for p in points} == {"none", "qsgd", "topk", "sign"}
    assert all(p.algorithm.kind == "choco_sgd" and p.clients.partition == "dirichlet" for p in points)
