"""Small real traces for the tests that damage traces (tests/tracing/test_malformed_traces.py,
tests/reliability/test_fuzz_traces.py): each written by ``hpcsketch run`` on one rank, so the
reader is tested against what the writer really writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: seconds one tiny run may take
RUN_SECONDS = 180

JOBS = {
    # error feedback + top-k: checkpoint, every per-round metric, timing and memory groups
    "tiny": """
[run]
name = "tiny"
rounds = 8
eval_every = 4
flush_every = 4
checkpoint_every = 4
progress = false
[problem]
kind = "least_squares"
dim = 16
rows = 10
batch_size = 4
[clients]
count = 4
participation = 0.5
[algorithm]
kind = "ef_sgd"
lr = 0.05
[compressor]
kind = "topk"
k = 0.25
""",
    # a run that measured the loss Hessian: the /hessian group
    "hess": """
[run]
name = "hess"
rounds = 4
eval_every = 2
flush_every = 2
progress = false
[problem]
kind = "least_squares"
dim = 8
rows = 10
batch_size = 4
[clients]
count = 2
[algorithm]
kind = "psgd"
lr = 0.05
[hessian]
rounds = [0, 4]
lanczos_steps = 4
probes = 1
top = 2
""",
}


def real_traces(root: Path) -> dict[str, Path]:
    """One real trace per job in JOBS, each written by ``hpcsketch run`` on one rank.

    HPCSKETCH_REAL_TRACES=DIR takes DIR/NAME.h5 instead (traces an earlier session wrote this way;
    for long fuzzing runs).
    """
    given = os.environ.get("HPCSKETCH_REAL_TRACES")
    if given:
        return {name: Path(given) / f"{name}.h5" for name in JOBS}
    out = {}
    for name, text in JOBS.items():
        job = root / f"{name}.toml"
        job.write_text(text)
        res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "--out", str(root / name), "-q"],
                             capture_output=True, text=True, timeout=RUN_SECONDS, start_new_session=True)
        assert res.returncode == 0, res.stderr
        (found,) = (root / name).glob("*.h5")
        out[name] = found
    return out
