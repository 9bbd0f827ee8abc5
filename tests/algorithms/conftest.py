import numpy as np
import pytest
from mpi4py import MPI

from hpcsketch.config.job import parse_job
from hpcsketch.runner import build


def make(text: str, **sets):
    """(ctx, algo) of a job given as TOML text plus section.key overrides, on one process."""
    overrides = [f"{k.replace('__', '.')}={v!r}" if isinstance(v, str) else f"{k.replace('__', '.')}={str(v).lower() if isinstance(v, bool) else v}"
                 for k, v in sets.items()]
    job = parse_job(text, "test.toml", overrides)
    ctx, algo = build(job, MPI.COMM_SELF)
    algo.start()
    return ctx, algo


def run_rounds(ctx, algo, rounds, start=0):
    for t in range(start, start + rounds):
        sampled = ctx.clients.sample(t)
        algo.round(t, sampled, ctx.clients.local_of(sampled))
        ctx.metrics.take()
        ctx.timer.take()
    return algo


@pytest.fixture
def make_algo():
    return make
