"""What an ``[algorithm] kind`` declares, and the cross-key checks the declarations name.

Light on purpose: validation, ``hpcsketch validate --keys``, ``hpcsketch slurm`` and
the analysis import this module, never the methods' implementations (which load
mpi4py.MPI, numba kernels, torch). Import nothing here beyond the standard library
and the config layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from hpcsketch.registry import Declaration

#: ``check_job(job)``: None, an error line, or ``(field, error line)``
Check = Callable[[Any], "str | tuple[str, str] | None"]


@dataclass(frozen=True)
class AlgorithmDecl(Declaration):
    """One ``[algorithm] kind``: its keys, the compressors it takes, what it needs of them."""

    #: compressor kinds it accepts (None: any compressor meeting ``compressor_requires``)
    compressors: tuple[str, ...] | None = ("none",)
    #: flags the compressor must declare, e.g. ("linear",) or ("unbiased",)
    compressor_requires: tuple[str, ...] = ()
    #: keys of other sections it reads (e.g. "compressor.k"), so sweeps know they matter
    reads: tuple[str, ...] = ()
    #: no server: every rank keeps its own model (needs [topology])
    decentralized: bool = False
    #: cross-key checks beyond the per-key ones
    check_job: Check | None = field(default=None, compare=False)

    class_attrs: ClassVar[tuple[str, ...]] = (
        "kind", "options", "compressors", "compressor_requires", "reads", "decentralized")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.compressors is not None:
            object.__setattr__(self, "compressors", tuple(self.compressors))
        object.__setattr__(self, "compressor_requires", tuple(self.compressor_requires))
        object.__setattr__(self, "reads", tuple(self.reads))

    def mismatches(self, cls: type) -> list[str]:
        inherited = bool(getattr(cls, "decentralized", False))  # hpcsketch.algorithms.decentralized.Node says True
        if inherited != self.decentralized:
            return [f"its class is {'' if inherited else 'not '}a decentralized Node; declare decentralized={inherited}"]
        return []


# -- checks named by the entries ------------------------------------------------------------


def one_gradient_step(job: Any) -> tuple[str, str] | None:
    """Decentralized methods: one gradient step per gossip round."""
    k = job.algorithm.local_steps
    if k != 1:
        return f"[algorithm] local_steps = {k}", f"{job.algorithm.kind} takes one gradient step per gossip round; expected 1"
    return None


def static_topology(job: Any) -> tuple[str, str] | None:
    """CHOCO-SGD keeps s_i = sum_j w_ij x_hat_j with one W: the topology must not change."""
    from hpcsketch.topology import REGISTRY as TOPOLOGIES

    kind = job.topology.kind
    if TOPOLOGIES.declaration(kind).time_varying:
        # s_i is updated with this round's weights only: it equals sum_j w_ij x_hat_j only if W never changes
        return (f'[topology] kind = "{kind}"',
                "choco_sgd keeps s_i = sum_j w_ij x_hat_j up to date with one W, so it needs a static topology")
    return one_gradient_step(job)


def ist_sketch_fits(job: Any) -> tuple[str, str] | None:
    """IST's sketch needs what the problem declares (Hessian diagonals, an MLP's layers)."""
    from hpcsketch.problems import REGISTRY as PROBLEMS

    a, p = job.algorithm, job.problem
    where = f'[algorithm] sketch = "{a.sketch}"'
    prob = PROBLEMS.declaration(p.kind)
    if a.sketch == "perm_q_preconditioned" and not prob.has_diag_hessian:
        return where, f"needs the clients' Hessian diagonals, which problem {p.kind!r} does not have (quadratic, least_squares do)"
    if a.sketch == "neurons" and not (prob.has_dense_layers and p.model == "mlp"):
        return where, f"splits the hidden units of an MLP; problem {p.kind!r} with model {p.model!r} is not one (use model = \"mlp\")"
    if a.momentum:
        return f"[algorithm] momentum = {a.momentum}", "ist has no momentum; remove the key or set it to 0"
    return None
