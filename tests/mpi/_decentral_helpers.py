"""Shared set-up for the decentralized MPI tests: jobs on a tiny least-squares problem,
an algorithm built the way the runner builds it, and stacking every rank's vector."""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.config.job import Job, parse_job
from hpcsketch.runner import Runner, RunOptions, new_run_id

JOB = """
[run]
rounds = {rounds}
eval_every = {rounds}
progress = false
[problem]
kind = "least_squares"
dim = 24
rows = 20
heterogeneity = 1.0
batch_size = 5
[clients]
count = {clients}
[algorithm]
kind = "{algorithm}"
lr = {lr}
[topology]
kind = "{topology}"
weights = "{weights}"
"""


def job_text(comm: Any, *, algorithm: str = "dsgd", topology: str = "ring", weights: str = "metropolis",
             rounds: int = 5, lr: float = 0.05, clients: int | None = None, extra: str = "") -> str:
    P = comm.Get_size()
    text = JOB.format(rounds=rounds, clients=clients or 2 * P, algorithm=algorithm, lr=lr, topology=topology, weights=weights)
    return text + extra


def job(comm: Any, text: str) -> Job:
    return parse_job(text, "decentral.toml", world_size=comm.Get_size())


def run(comm: Any, text: str, out: str) -> Runner:
    """A whole run through the runner (rank 0 writes the trace)."""
    r = Runner(job(comm, text), comm, RunOptions(out=out, quiet=True))
    assert r.run() == 0
    return r


def prepared(comm: Any, text: str, out: str) -> Runner:
    """The runner's set-up and the algorithm's start, without the round loop (to drive rounds by hand)."""
    r = Runner(job(comm, text), comm, RunOptions(out=out, quiet=True))
    r.run_id = comm.bcast(new_run_id() if comm.Get_rank() == 0 else None, root=0)
    r._setup_local()
    r.algo.start()
    return r


def one_round(r: Runner, t: int) -> None:
    sampled = r.layout.sample(t)
    r.algo.round(t, sampled, r.layout.local_of(sampled))


def stacked(comm: Any, a: Any) -> np.ndarray:
    """Every rank's array, row r from rank r (on every rank)."""
    return np.stack(comm.allgather(np.array(a, copy=True)))


def rank_vector(rank: int, d: int, dtype: str = "float64") -> np.ndarray:
    return np.random.default_rng(500 + rank).standard_normal(d).astype(dtype)
