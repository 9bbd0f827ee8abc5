"""A whole run on the device path: two ranks, device arrays through the algorithm, the
compressor, staged MPI and the trace; it must match the same run on NumPy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

JOB = """
[run]
name = "gpu-{backend}"
rounds = 4
eval_every = 2
out = "{out}"
backend = "{backend}"
[problem]
kind = "least_squares"
dim = 64
rows = 20
[clients]
count = 4
[algorithm]
kind = "fetchsgd"
lr = 0.01
[compressor]
kind = "count_sketch"
"""


def _run(tmp_path: Path, backend: str) -> Path:
    out = tmp_path / backend
    job = tmp_path / f"{backend}.toml"
    job.write_text(JOB.format(backend=backend, out=out))
    env = dict(os.environ, HPCSKETCH_FAKE_CUPY="1", HPCSKETCH_CUDA_AWARE="0", OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "-n", "2"], env=env,
                         capture_output=True, text=True, timeout=150)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (trace,) = out.glob("*.h5")
    return trace


@pytest.mark.timeout(330)
def test_fetchsgd_on_two_ranks_device_path_matches_numpy(tmp_path):
    dev, host = _run(tmp_path, "cupy"), _run(tmp_path, "numpy")
    with h5py.File(dev) as d, h5py.File(host) as h:
        assert d.attrs["status"] == "completed"
        env = dict(d["env"].attrs)
        assert env["backend"] == "cupy" and not env["cuda_aware_mpi"]
        assert "fake" in str(env["devices"])
        for key in ("loss", "eval_loss", "bytes_mpi"):
            np.testing.assert_allclose(d["trace"][key][:], h["trace"][key][:], rtol=1e-4, equal_nan=True)
