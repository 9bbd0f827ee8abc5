"""A CIFAR-10 directory given through a job file: truncated files are one line and exit 2; the
pickled "python version" is refused without being unpickled (a pickle runs code when loaded)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

from hpcsketch.data import datasets

JOB = """
[run]
rounds = 2
progress = false
[problem]
kind = "cifar10"
model = "cs_resnet"
batch_size = 2
data_path = "{path}"
[clients]
count = 2
[algorithm]
kind = "psgd"
"""


def _run(tmp_path: Path, data: Path) -> subprocess.CompletedProcess:
    job = tmp_path / "cifar.toml"
    job.write_text(JOB.format(path=data))
    return subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "--out", str(tmp_path / "out"), "-q"],
                          capture_output=True, text=True, timeout=180)


def _one_line(res: subprocess.CompletedProcess, *needles: str) -> None:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, (res.returncode, res.stderr)
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert not (Path(res.args[3]).parent / "out").exists() or not any((Path(res.args[3]).parent / "out").iterdir())


def _cifar(root: Path) -> Path:
    gen = np.random.default_rng(0)
    img = lambda n: gen.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)  # noqa: E731
    return datasets.write_cifar_dir(root, img(20), np.arange(20) % 10, img(10), np.arange(10) % 10)


def test_truncated_cifar_files_are_one_line(tmp_path):
    root = _cifar(tmp_path / "cifar-10-batches-bin")
    data = (root / "data_batch_4.bin").read_bytes()
    (root / "data_batch_4.bin").write_bytes(data[:-1])
    _one_line(_run(tmp_path, root), "data_batch_4.bin", "truncated")
    (root / "data_batch_4.bin").write_bytes(data)
    (root / "test_batch.bin").write_bytes(b"")
    _one_line(_run(tmp_path, root), "test_batch.bin", "size 0")
    (root / "data_batch_2.bin").unlink()
    _one_line(_run(tmp_path, tmp_path), "data_batch_2.bin", "missing file")  # the parent folder is looked into


class _Payload:
    """Unpickling this creates the canary file: proof that a loader unpickled it."""

    def __init__(self, canary: Path):
        self.canary = canary

    def __reduce__(self):
        return (Path.touch, (self.canary,))


def test_the_pickled_python_version_is_refused_unread(tmp_path):
    canary = tmp_path / "PWNED"
    py = tmp_path / "cifar-10-batches-py"
    py.mkdir()
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]:
        (py / name).write_bytes(pickle.dumps({b"data": _Payload(canary)}))
    pickle.loads((py / "test_batch").read_bytes())  # the payload works ...
    assert canary.exists()
    canary.unlink()
    for path in (py, tmp_path):
        _one_line(_run(tmp_path, path), "pickled", "never unpickled", "binary version")
        assert not canary.exists()  # ... and the harness never ran it
