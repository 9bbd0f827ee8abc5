"""Shared set-up for the per-collective MPI tests."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from hpcsketch.backend import Backend
from hpcsketch.comm.communicator import Communicator


def make_comm(backend: Backend) -> Communicator:
    return Communicator(MPI.COMM_WORLD, backend)


def rank_data(backend: Backend, rank: int, n: int, dtype: str = "float32"):
    """Deterministic per-rank data, so every rank can compute every other rank's block."""
    rng = np.random.default_rng(1000 + rank)
    host = rng.standard_normal(n).astype(dtype) if dtype.startswith("float") else rng.integers(0, 1000, n).astype(dtype)
    return backend.xp.asarray(host), host
