"""What a ``[problem] kind`` declares, and the size checks its entry names.

Light on purpose (validation imports it; the problems' implementations load torch,
data sets and generators on a rank only). The size checks are shared with the
implementations, which run them again when they are built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from hpcsketch.registry import Declaration

#: n * d^2 floats above which the per-client Hessians would not fit comfortably
MAX_HESSIAN_ENTRIES = 1 << 28
#: float64 entries of generated data (per-client Hessians, feature rows) every rank may hold: 8 GiB
MAX_DATA_ENTRIES = 1 << 30

Check = Callable[[Any], "str | tuple[str, str] | None"]


@dataclass(frozen=True)
class ProblemDecl(Declaration):
    """One ``[problem] kind``: its keys, its models, and what its implementation provides."""

    #: values ``[problem] model`` may take ("" means the key is not used)
    models: tuple[str, ...] = ("",)
    #: implements ``hvp`` ([hessian] measurements need it)
    has_hvp: bool = False
    #: implements ``diag_hessian`` (IST's preconditioned Perm-q needs it)
    has_diag_hessian: bool = False
    #: implements ``dense_layers`` (IST's neurons sketch needs it, with model "mlp")
    has_dense_layers: bool = False
    #: cross-key checks beyond the per-key ones
    check_job: Check | None = field(default=None, compare=False)

    class_attrs: ClassVar[tuple[str, ...]] = ("kind", "options", "models")

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "models", tuple(self.models))

    def mismatches(self, cls: type) -> list[str]:
        said = {"has_hvp": self.has_hvp, "has_diag_hessian": self.has_diag_hessian, "has_dense_layers": self.has_dense_layers}
        has = {"has_hvp": bool(getattr(cls, "has_hvp", False)), "has_diag_hessian": hasattr(cls, "diag_hessian"),
               "has_dense_layers": hasattr(cls, "dense_layers")}
        return [f"declare {k}={has[k]}" for k in said if said[k] != has[k]]


# -- size checks (validation, and the implementation again when it is built) -----------------


def quadratic_size(problem: Mapping[str, Any], clients: int) -> tuple[str, str] | None:
    d, h = int(problem["dim"]), float(problem["hessian_heterogeneity"])
    if h != 0 and clients > 1 and clients * d * d > MAX_HESSIAN_ENTRIES:
        return (f"[problem] dim = {d}", f"{clients} clients x {d}^2 Hessian entries is too many (limit "
                f"{MAX_HESSIAN_ENTRIES}); use a smaller dim, fewer clients or hessian_heterogeneity = 0")
    return None


def least_squares_size(problem: Mapping[str, Any], clients: int) -> tuple[str, str] | None:
    d, m = int(problem["dim"]), int(problem["rows"])
    if clients * m * d > MAX_DATA_ENTRIES:
        return (f"[problem] rows = {m}", f"{clients} clients x {m} rows x dim {d} is too many entries for every "
                f"rank to hold (limit {MAX_DATA_ENTRIES}); use fewer rows, a smaller dim or fewer clients")
    return None


def check_size(size: Callable[[Mapping[str, Any], int], "tuple[str, str] | None"]) -> Check:
    """A job check from a size check."""

    def check(job: Any) -> tuple[str, str] | None:
        return size(job.problem, job.clients.count)

    check.__name__ = f"check_{size.__name__}"
    return check


def three_clients(job: Any) -> tuple[str, str] | None:
    if job.clients.count != 3:
        return (f"[clients] count = {job.clients.count}", "the top-k counterexample has exactly 3 clients; expected 3")
    return None
