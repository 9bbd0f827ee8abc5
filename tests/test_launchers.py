"""One table of launcher variables (hpcsketch.launchers) serves the CLI, the launcher parent and the
trace's /env record; under every launcher a rank reads its own rank, not rank 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hpcsketch import launch, launchers


@pytest.mark.parametrize("launcher", launchers.LAUNCHERS, ids=lambda l: l.rank)
def test_every_launcher_gives_its_rank_and_size(monkeypatch, launcher):
    for other in launchers.LAUNCHERS:
        for var in (other.rank, other.size):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("HPCSKETCH_LAUNCHED", raising=False)
    monkeypatch.setenv(launcher.rank, "3")
    monkeypatch.setenv(launcher.size, "8")
    if launcher.name == "srun":
        monkeypatch.setenv("SLURM_STEP_ID", "0")
    assert launchers.detect() == launcher
    assert launchers.rank() == 3 and launchers.world_size() == 8
    assert launch.inside_launcher() and launch.launcher_world_size() == 8
    assert launchers.name() == launcher.name


def test_a_slurm_batch_script_is_not_a_rank(monkeypatch):
    for other in launchers.LAUNCHERS:
        monkeypatch.delenv(other.rank, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_STEP_ID", "batch")
    assert launchers.detect() is None and not launch.inside_launcher()


@pytest.mark.parametrize("var", [l.rank for l in launchers.LAUNCHERS])
def test_only_rank_0_prints_a_bad_input_line(tmp_path, var):
    """Every rank finds the same bad input; one line, not one per rank (Cray PALS ranks all printed)."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nrounds = -1\n")
    env = {k: v for k, v in __import__("os").environ.items() if k not in {l.rank for l in launchers.LAUNCHERS}}
    lines = []
    for rank in ("0", "1"):
        res = subprocess.run([sys.executable, "-m", "hpcsketch", "validate", str(bad)], capture_output=True, text=True,
                             timeout=120, env={**env, var: rank, "SLURM_STEP_ID": "0"})
        assert res.returncode == 2
        lines.append(res.stderr.strip())
    assert lines[0].count("\n") == 0 and "rounds" in lines[0]
    assert lines[1] == ""


def test_info_takes_n_like_every_other_command():
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "info", "-n", "2"], capture_output=True, text=True,
                         timeout=120, env={**__import__("os").environ, "HPCSKETCH_PLAIN": "1"})
    assert res.returncode == 0, res.stderr
    assert "world size      2" in res.stdout and "hpcsketch -n" in res.stdout, res.stdout
