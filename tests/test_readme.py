"""The README tells the truth: generated sections match the code, and its two first commands are the documented ones."""

import re
from pathlib import Path

from hpcsketch.docs import render

README = Path(__file__).resolve().parent.parent / "README.md"


def test_generated_sections_are_current():
    text = README.read_text()
    assert render(text) == text, "run: python -m hpcsketch.docs README.md"


def test_first_commands_are_setup_and_tests():
    text = README.read_text()
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert "hpcsketch run jobs/quickstart.toml -n 4" in blocks[0]
    assert "pytest" in blocks[1] and "<!-- test-command -->" in text.split(blocks[1])[0][-200:]


def test_every_job_file_validates(tmp_path):
    """Every shipped job validates; a CIFAR-10 job with a data folder in the binary format (here a
    small generated one: the data set is not on this machine), as its README line gives it."""
    import numpy as np

    from hpcsketch.config.job import load_job
    from hpcsketch.data.datasets import write_cifar_dir

    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)  # noqa: E731
    labels = lambda n: np.arange(n) % 10  # noqa: E731
    cifar = write_cifar_dir(tmp_path / "cifar-10-batches-bin", images(100), labels(100), images(20), labels(20))
    jobs = sorted((README.parent / "jobs").glob("*.toml"))
    assert jobs
    for job in jobs:
        text = job.read_text()
        load_job(job, [f"problem.data_path={cifar}"] if 'kind = "cifar10"' in text else [])
