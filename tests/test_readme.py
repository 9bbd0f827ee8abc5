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


def test_every_job_file_validates():
    from hpcsketch.config.job import load_job

    jobs = sorted((README.parent / "jobs").glob("*.toml"))
    assert jobs
    for job in jobs:
        load_job(job)
