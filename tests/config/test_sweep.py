"""Sweep grids: plain axes, bundle axes, de-duplication of points that are the same run."""

import pytest

from hpcsketch.config.job import parse_job
from hpcsketch.errors import JobError

BASE = """
[run]
rounds = 2
[problem]
kind = "mnist1d"
[clients]
count = 4
[algorithm]
kind = "psgd"
"""


def test_plain_grid_is_the_product():
    job = parse_job(BASE + '[sweep]\n"algorithm.lr" = [0.1, 0.2]\n"clients.count" = [4, 8, 16]\n', "j.toml")
    pts = job.points()
    assert len(pts) == 6 and [p.point_index for p in pts] == list(range(6))
    assert {(p.algorithm.lr, p.clients.count) for p in pts} == {(a, b) for a in (0.1, 0.2) for b in (4, 8, 16)}
    assert pts[0].name == "job__algorithm.lr=0.1,clients.count=4"  # parse_job names runs "job"


def test_bundles_set_keys_together_and_duplicates_collapse():
    text = BASE + """[sweep]
"compressor.ratio" = [2, 5]
method = [
  { label = "base", "algorithm.kind" = "psgd", "compressor.kind" = "none" },
  { label = "cs", "algorithm.kind" = "cs_sgd", "compressor.kind" = "subsampled_wht" },
]
"""
    pts = parse_job(text, "j.toml").points()
    # psgd does not read compressor.ratio: its two points are one run, labelled without the ratio
    assert [p.point for p in pts] == [
        {"method": "base"},
        {"compressor.ratio": 2.0, "method": "cs"},
        {"compressor.ratio": 5.0, "method": "cs"},
    ]
    assert [p.algorithm.kind for p in pts] == ["psgd", "cs_sgd", "cs_sgd"]
    assert [p.compressor.kind for p in pts] == ["none", "subsampled_wht", "subsampled_wht"]


def test_later_axes_override_earlier_ones():
    text = BASE + """[sweep]
level = [{ "algorithm.lr" = 0.1 }, { "algorithm.lr" = 0.2 }]
method = [{ label = "fixed", "algorithm.lr" = 0.5 }]
"""
    pts = parse_job(text, "j.toml").points()
    assert len(pts) == 1 and pts[0].algorithm.lr == 0.5


def test_cross_section_reads_keep_points_apart():
    # cs_sgd reads compressor.k although the key is declared by topk
    text = BASE + """[sweep]
"compressor.k" = [0.01, 0.02]
method = [{ "algorithm.kind" = "cs_sgd", "compressor.kind" = "subsampled_wht" }]
"""
    assert len(parse_job(text, "j.toml").points()) == 2


@pytest.mark.parametrize("sweep,needle", [
    ('method = [1, 2]', "inline tables"),
    ('method = [{ label = "a" }]', "at least one"),
    ('method = [{ "algorithm.kind" = "psgd", label = "x" }, { "algorithm.kind" = "psgd", label = "x" }]', "labels must differ"),
    ('method = [{ "algorithm.lrr" = 1 }]', "did you mean 'lr'"),
    ('method = [{ "algorithm.lr" = -1 }]', "> 0"),
    ('method = [{ "compressor.kind" = "topk" }]', "does not work with this compressor"),
])
def test_bad_bundles(sweep, needle):
    with pytest.raises(JobError, match=needle.replace("(", r"\(")):
        parse_job(BASE + "[sweep]\n" + sweep + "\n", "j.toml")


def test_set_on_the_command_line_wins_over_a_swept_key():
    text = BASE + """[sweep]
level = [{ label = "a", "algorithm.lr" = 0.1, "clients.count" = 4 }, { label = "b", "algorithm.lr" = 0.2, "clients.count" = 8 }]
"""
    pts = parse_job(text, "j.toml", ["algorithm.lr=0.7"]).points()
    assert [p.algorithm.lr for p in pts] == [0.7, 0.7]
    assert [p.clients.count for p in pts] == [4, 8]  # the rest of the bundle still applies
