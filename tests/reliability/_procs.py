"""Helpers for tests that drive real launches: long jobs, waiting on a live trace, finding ranks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import h5py

LONG_JOB = """
[run]
name = "long"
rounds = {rounds}
eval_every = 50
flush_every = 10
checkpoint_every = {checkpoint_every}
progress = false
[problem]
kind = "least_squares"
dim = 32
rows = 20
batch_size = 4
[clients]
count = 8
participation = 0.5
[algorithm]
kind = "ef_sgd"
lr = 0.05
[compressor]
kind = "topk"
k = 0.25
"""


def long_job(tmp_path: Path, rounds: int = 200000, checkpoint_every: int = 0) -> Path:
    p = tmp_path / "long.toml"
    p.write_text(LONG_JOB.format(rounds=rounds, checkpoint_every=checkpoint_every))
    return p


def attrs(path: Path) -> dict:
    """A trace's root attributes (read without locks: the writer publishes whole files)."""
    with h5py.File(path, "r", locking=False) as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def wait_for_rounds(out: Path, rounds: int = 20, timeout: float = 180.0) -> Path:
    """The trace in ``out`` once it records at least ``rounds`` rounds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in out.glob("*.h5"):
            try:
                if int(attrs(p).get("rounds_done", 0)) >= rounds:
                    return p
            except (OSError, KeyError, ValueError):
                pass
        time.sleep(0.1)
    raise AssertionError(f"no trace in {out} reached {rounds} rounds in {timeout} s: {list(out.glob('*'))}")


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains ``marker`` (zombies excluded)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if marker.encode() in (d / "cmdline").read_bytes():
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    pids.append(int(d.name))
        except OSError:
            continue
    return pids


def wait_gone(marker: str, timeout: float) -> float:
    """Seconds until no process with ``marker`` is left (AssertionError after ``timeout``)."""
    t0 = time.monotonic()
    while processes_with(marker):
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"still running after {timeout} s: {processes_with(marker)}")
        time.sleep(0.05)
    return time.monotonic() - t0
