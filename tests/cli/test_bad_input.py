"""Bad input of every kind: exit code 2 and one clear line (file, field, what is wrong), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpcsketch.cli import main

GOOD = """
[run]
rounds = 3
[problem]
kind = "mnist1d"
model = "mlp"
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = 0.1
"""


def _run(capsys, tmp_path: Path, text: str | bytes | None, *args: str) -> tuple[int, str, str]:
    job = tmp_path / "job.toml"
    if text is not None:
        job.write_bytes(text.encode() if isinstance(text, str) else text)
    code = main(["validate", str(job), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


CASES = {
    "syntax": (GOOD + "lr = = 3\n", ["not valid TOML"]),
    "unknown section": (GOOD + "[algoritm]\nkind = 'psgd'\n", ["unknown section [algoritm]", "did you mean 'algorithm'"]),
    "unknown key": (GOOD.replace("lr = 0.1", "lr = 0.1\nlearning_rate = 0.1"), ["[algorithm] learning_rate", "unknown key"]),
    "key typo": (GOOD.replace("rounds = 3", "round = 3"), ["[run] round", "did you mean 'rounds'"]),
    "wrong type": (GOOD.replace("lr = 0.1", 'lr = "fast"'), ['[algorithm] lr = "fast"', "expected a number"]),
    "negative": (GOOD.replace("lr = 0.1", "lr = -0.1"), ["[algorithm] lr = -0.1", "> 0"]),
    "zero rounds": (GOOD.replace("rounds = 3", "rounds = 0"), ["[run] rounds = 0", ">= 1"]),
    "huge": (GOOD.replace("rounds = 3", "rounds = 99999999999999"), ["[run] rounds", "out of range"]),
    "bool as int": (GOOD.replace("rounds = 3", "rounds = true"), ["[run] rounds = true", "expected an integer"]),
    "float count": (GOOD.replace("count = 4", "count = 4.5"), ["[clients] count = 4.5", "integer"]),
    "bad choice": (GOOD + "[topology]\nweights = 'fancy'\n", ["[topology] weights", "'metropolis'"]),
    "bad kind": (GOOD.replace('kind = "psgd"', 'kind = "psdg"'), ["[algorithm] kind", "did you mean 'psgd'"]),
    "bad model": (GOOD.replace('model = "mlp"', 'model = "resnet18"'), ["[problem] model", "mlp, cnn, logreg"]),
    "model for quadratic": (GOOD.replace('kind = "mnist1d"', 'kind = "quadratic"'), ["[problem] model", "no model"]),
    "incompatible compressor": (GOOD + "[compressor]\nkind = 'topk'\n", ["[compressor] kind", "psgd", "none"]),
    "biased for unbiased method": (GOOD.replace('kind = "psgd"', 'kind = "compressed_sgd"') + "[compressor]\nkind = 'topk'\n",
                                   ["[compressor] kind", "unbiased"]),
    "cs_sgd with count sketch": (GOOD.replace('kind = "psgd"', 'kind = "cs_sgd"') + "[compressor]\nkind = 'count_sketch'\n",
                                 ["[compressor] kind", "subsampled_wht"]),
    "participation 0": (GOOD.replace("count = 4", "count = 4\nparticipation = 0.0"), ["[clients] participation", "> 0"]),
    "participation > 1": (GOOD.replace("count = 4", "count = 4\nparticipation = 1.5"), ["[clients] participation", "<= 1"]),
    "k negative": (GOOD + "[compressor]\nk = -3\n", ["[compressor] k = -3"]),
    "section not table": ("run = 3\n", ["[run] must be a table"]),
    "sweep bad key": (GOOD + '[sweep]\n"algorithm.lrr" = [0.1]\n', ['[sweep] "algorithm.lrr"', "did you mean 'lr'"]),
    "sweep bad value": (GOOD + '[sweep]\n"algorithm.lr" = [0.1, -1]\n', ['[sweep] "algorithm.lr"', "> 0"]),
    "sweep empty": (GOOD + '[sweep]\n"algorithm.lr" = []\n', ["non-empty list"]),
    "sweep combination": (GOOD + '[sweep]\n"compressor.kind" = ["none", "topk"]\n', ["sweep point", "compressor.kind=topk"]),
    "name with slash": (GOOD.replace("rounds = 3", 'rounds = 3\nname = "../../etc"'), ["[run] name"]),
    "not utf8": (b"\xff\xfe[run]\n", ["not UTF-8"]),
    "deeply nested": ("a = " + "[" * 5000 + "]" * 5000 + "\n", ["not valid TOML"]),
    "hessian round after the last": (GOOD + "[hessian]\nrounds = [0, 9]\n", ["[hessian] rounds", "after the last round (3)"]),
    "hessian top > steps": (GOOD + "[hessian]\nrounds = [1]\nlanczos_steps = 8\ntop = 9\n",
                            ["[hessian] top = 9", "more than lanczos_steps (8)"]),
    "hessian grid coarser than sigma": (GOOD + "[hessian]\nrounds = [1]\ngrid = 50\n",
                                        ["[hessian] grid = 50", "use grid >= 107"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_job_gives_one_line_and_exit_2(capsys, tmp_path, name):
    text, needles = CASES[name]
    code, out, err = _run(capsys, tmp_path, text)
    assert code == 2, (out, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("hpcsketch: error: ") and str(tmp_path / "job.toml") in lines[0], lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert "Traceback" not in err


def test_bad_overrides(capsys, tmp_path):
    for args, needle in (
        (["--set", "algorithm.lr"], "expected SECTION.KEY=VALUE"),
        (["--set", "algoritm.lr=1"], "did you mean 'algorithm'"),
        (["--set", "algorithm.lr=-1"], "--set algorithm.lr=-1"),
        (["--set", "algorithm.lr=abc"], "expected a number"),
    ):
        code, out, err = _run(capsys, tmp_path, GOOD, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, (args, err)


def test_missing_and_directory(capsys, tmp_path):
    code = main(["validate", str(tmp_path / "nope.toml")])
    assert code == 2 and "no such file" in capsys.readouterr().err
    code = main(["validate", str(tmp_path)])
    assert code == 2 and "is a directory" in capsys.readouterr().err


def test_too_few_clients_for_ranks(capsys, tmp_path):
    code, out, err = _run(capsys, tmp_path, GOOD, "-n", "8")
    assert code == 2 and "[clients] count = 4" in err and "8 ranks" in err


def test_good_job_validates(capsys, tmp_path):
    code, out, err = _run(capsys, tmp_path, GOOD + '[sweep]\n"algorithm.lr" = [0.1, 0.2]\n')
    assert code == 0 and "valid (2 runs)" in out, (out, err)


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "job.toml", "--no-such-flag"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error" in err
    assert main(["run"]) == 2  # no job and no --resume
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "give a job file" in err


def test_real_cli_bad_job_and_unwritable_out(tmp_path):
    """Through the installed command, launched with -n 2: validation fails before any rank starts."""
    job = tmp_path / "job.toml"
    job.write_text(GOOD.replace("lr = 0.1", "lr = 0"))
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "-n", "2"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "[algorithm] lr = 0" in res.stderr, res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    job.write_text(GOOD)
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "--out", str(blocker / "sub"), "-q"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "[run] out" in res.stderr, res.stderr
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("bench", [["bench", "kernels", "--sizes", "10:10"], ["bench", "comm", "--max-bytes", "64"]])
def test_benchmarks_refuse_an_existing_output_before_timing(capsys, tmp_path, bench):
    out = tmp_path / "earlier.h5"
    out.write_bytes(b"an earlier result")
    assert main([*bench, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "never overwritten" in err and "--out" in err
    assert out.read_bytes() == b"an earlier result"
