"""One measurement of the loss Hessian's spectrum at a model x.

SLQ with ``probes`` Rademacher probes of ``lanczos_steps`` steps each gives the
spectral density and the trace norm sum_i |lambda_i|; the same Lanczos runs give
the top eigenvalues (Ritz values of the run whose largest Ritz value is largest:
every run's largest Ritz value is a lower bound of lambda_max, so no separate
power iteration is paid for). kappa = sum_i |lambda_i| / lambda_max.

Cost: ``probes * min(lanczos_steps, d)`` Hessian-vector products (fewer when a
run reaches an invariant subspace), each one Allreduce of d floats.

Probe vectors are drawn from the job seed and the measurement's round only, so
the result does not depend on the rank count.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from hpcsketch.hessian.hvp import DistributedHVP
from hpcsketch.hessian.lanczos import pad_to
from hpcsketch.hessian.slq import density_grid, rademacher, slq


@dataclass(frozen=True)
class Settings:
    """The ``[hessian]`` keys that shape one measurement (see config/schema.py for their meaning)."""

    lanczos_steps: int = 64
    probes: int = 4
    top: int = 10
    grid: int = 256
    sigma: float = 0.01
    batch: int = 1000
    data: float | int = 1.0

    @classmethod
    def from_section(cls, section: Mapping[str, Any], **overrides: Any) -> "Settings":
        values = {k: section[k] for k in cls.__dataclass_fields__ if k in section}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def attrs(self) -> dict[str, Any]:
        return asdict(self)

    def conflict(self) -> tuple[str, str] | None:
        """(key, what is wrong) when the keys do not fit together, else None."""
        if self.top > self.lanczos_steps:
            return "top", f"{self.top} is more than lanczos_steps ({self.lanczos_steps}) Ritz values"
        need = min_grid(self.sigma)
        if self.grid < need:
            return "grid", (f"{self.grid} points are coarser than the smoothing width (sigma = {self.sigma} of the span): "
                            f"use grid >= {need} or a larger sigma")
        return None


def min_grid(sigma: float) -> int:
    """Fewest grid points that space the density's grid at most sigma apart (the grid spans the
    spectrum plus 3 sigma each side); coarser grids misdraw the smoothed density and its integral."""
    return math.ceil(1 + (1 + 6 * sigma) / sigma - 1e-9)


@dataclass
class Measurement:
    """One measurement; ``row()`` is what a trace's /hessian group holds per measurement."""

    step: int
    dim: int
    eigenvalues: np.ndarray  # (top,) descending Ritz values (NaN-padded)
    residuals: np.ndarray  # (top,) residual bounds |beta_m s_j[m]| of those Ritz values
    lambda_min: float  # smallest Gauss node over all probes (an upper bound of lambda_min)
    grid: np.ndarray  # (grid,)
    density: np.ndarray  # (grid,) smoothed spectral density, integrates to 1
    trace_norm: float  # estimate of sum_i |lambda_i|
    trace_norm_stderr: float  # its standard error over the probes (NaN with one probe)
    kappa: float  # trace_norm / lambda_max (NaN when lambda_max <= 0)
    hvps: int  # Hessian-vector products this measurement cost
    seconds: float

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[0])

    def row(self) -> dict[str, Any]:
        return {
            "step": int(self.step), "eigenvalues": self.eigenvalues, "residuals": self.residuals,
            "lambda_max": self.lambda_max, "lambda_min": float(self.lambda_min), "grid": self.grid,
            "density": self.density, "trace_norm": float(self.trace_norm),
            "trace_norm_stderr": float(self.trace_norm_stderr), "kappa": float(self.kappa),
            "hvps": int(self.hvps), "seconds": float(self.seconds),
        }


def measure(problem: Any, comm: Any, x: Any, settings: Settings, seed: int, step: int) -> Measurement:
    """Measure the Hessian of ``problem``'s training objective at ``x`` (collective over ``comm``)."""
    t0 = time.perf_counter()
    op = DistributedHVP(problem, comm, x, batch=settings.batch, data=settings.data)
    dim = op.dim
    probes = (rademacher(dim, seed, step, i) for i in range(settings.probes))
    quad = slq(op, probes, settings.lanczos_steps, xp=op.xp, dtype=op.dtype)
    if not all(run.finite for run in quad.runs):
        nan = math.nan
        return Measurement(step, dim, np.full(settings.top, nan), np.full(settings.top, nan), nan,
                           np.full(settings.grid, nan), np.full(settings.grid, nan), nan, nan, nan, op.count,
                           time.perf_counter() - t0)
    best = max(quad.runs, key=lambda run: float(run.ritz()[0][0]))
    values, bounds = best.ritz()
    eigenvalues, residuals = pad_to(values, settings.top), pad_to(bounds, settings.top)
    lo, hi = quad.span()
    grid, sigma = density_grid(lo, hi, settings.grid, settings.sigma)
    density = quad.density(grid, sigma)
    trace_norm, stderr = quad.trace_norm()
    lam_max = float(eigenvalues[0])
    kappa = trace_norm / lam_max if lam_max > 0 else math.nan
    return Measurement(step, dim, eigenvalues, residuals, lo, grid, density, trace_norm, stderr, kappa, op.count,
                       time.perf_counter() - t0)


def schedule(section: Mapping[str, Any], rounds: int) -> list[int]:
    """The steps (rounds completed; 0 = the initial model) a run measures at."""
    steps = {int(r) for r in section.get("rounds", ()) if 0 <= int(r) <= rounds}
    every = int(section.get("every", 0) or 0)
    if every:
        steps |= set(range(0, rounds + 1, every)) | {rounds}
    return sorted(steps)


def table_rows(m: Measurement) -> list[tuple[str, str]]:
    """A measurement as (label, value) lines for a printed summary."""
    top = ", ".join(f"{v:.4g}" for v in m.eigenvalues if math.isfinite(v))
    worst = np.nanmax(m.residuals / np.maximum(np.abs(m.eigenvalues), 1e-300)) if np.isfinite(m.residuals).any() else math.nan
    return [
        ("d", str(m.dim)),
        ("top eigenvalues", top or "-"),
        ("largest relative residual bound", f"{worst:.2g}"),
        ("smallest eigenvalue (Gauss node)", f"{m.lambda_min:.4g}"),
        ("sum |lambda_i| (SLQ)", f"{m.trace_norm:.4g}" + (f" +- {m.trace_norm_stderr:.2g}" if math.isfinite(m.trace_norm_stderr) else "")),
        ("kappa = sum |lambda_i| / lambda_max", f"{m.kappa:.4g}"),
        ("kappa / d", f"{m.kappa / m.dim:.3g}"),
        ("cost", f"{m.hvps} Hessian-vector products, {m.seconds:.1f} s"),
    ]
