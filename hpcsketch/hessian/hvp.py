"""The Hessian-vector product of the training objective, data-parallel over the ranks.

The loss is the full training objective f(x) = mean_i f_i(x) over ALL n clients,
f_i client i's mean loss over its training samples (``Problem.hvp`` says exactly
what a problem includes). Every rank holds the whole training set, so the data is
split by fixed blocks of samples, not by which clients a rank hosts: rank r
computes part r of P of H v on its own device (double backward for torch
models), and one Allreduce sums the parts. The loss is a per-sample sum in
evaluation mode, so how the samples are cut into blocks (by ``batch``, or into
P even shares with ``batch`` = 0) does not change H v: the sum is the same on
1 rank and on P ranks up to the order of floating-point summation.

The Allreduce goes through the Communicator under the category "hessian", so its
bytes never count as the method's traffic (``bytes_mpi``).
"""

from __future__ import annotations

from typing import Any

from hpcsketch.errors import BadInput


class DistributedHVP:
    """``op(v) = H v`` at a fixed ``x``; every call is one HVP (``count`` keeps the tally)."""

    def __init__(self, problem: Any, comm: Any, x: Any, *, batch: int = 0, data: float | int = 1.0):
        if not getattr(problem, "has_hvp", False):
            raise BadInput(f"problem {problem.kind!r} has no Hessian-vector product", field="[hessian]")
        self.problem = problem
        self.comm = comm  # a Communicator, or None for one process
        self.x = x
        self.batch = int(batch)
        self.data = data
        self.count = 0

    @property
    def dim(self) -> int:
        return int(self.problem.dim)

    @property
    def dtype(self) -> Any:
        return self.problem.dtype

    @property
    def xp(self) -> Any:
        return self.problem.xp

    def local(self, v: Any) -> Any:
        """This rank's part of H v (no communication)."""
        part, nparts = (0, 1) if self.comm is None else (self.comm.rank, self.comm.size)
        return self.problem.hvp(self.x, v, part, nparts, batch=self.batch, data=self.data)

    def __call__(self, v: Any) -> Any:
        hv = self.xp.ascontiguousarray(self.local(v))
        if self.comm is not None:
            with self.comm.category("hessian"):
                self.comm.allreduce(hv)
        self.count += 1
        return hv
