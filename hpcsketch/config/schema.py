"""The job-file vocabulary: sections, their common keys, and the keys declared by
the registered algorithms, compressors and problems.

This is a user contract (people keep job files for years): rename only with a
reason, and then list the old name in ``ALIASES`` so it keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hpcsketch.config.options import Option


def _name_check(v: str) -> str | None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+=,-]{0,127}", v):
        return "expected letters, digits and _ . + = , - (at most 128, starting with a letter or digit)"
    return None


RUN = (
    Option("name", "str", None, "run name, used in trace file names (default: the job file's stem)", check=_name_check),
    Option("rounds", "int", 100, "communication rounds", min=1, max=10**9),
    Option("seed", "int", 0, "job seed: data, partitions, client sampling, minibatches, sketches all derive from it", min=0, max=2**63 - 1),
    Option("eval_every", "int", 25, "rounds between evaluations on held-out data (0: only before and after training)", min=0),
    Option("out", "str", "results", "directory for the traces; one .h5 per run, never overwritten"),
    Option("backend", "str", "auto", "array backend", choices=("auto", "numpy", "cupy")),
    Option("threads", "int", 1, "compute threads per rank on the CPU (several ranks share a node's cores)", min=1, max=1024),
    # A flush (gather to rank 0, open, append, close) costs tens of ms: on millisecond
    # rounds a round count alone would make it a large share of the run, so time rules.
    Option("flush_every", "int", 1000, "at most this many rounds between trace flushes", min=1),
    Option("flush_seconds", "float", 5.0, "at most this many seconds between trace flushes (checked on rank 0, "
           "acted on one round later)", min=0.0, min_exclusive=True),
    Option("target_accuracy", "float", None, "report rounds, bytes and time to reach this test accuracy", min=0.0, max=1.0, min_exclusive=True),
    Option("target_loss", "float", None, "report rounds, bytes and time to reach this eval loss (or optimality gap for quadratics)"),
    Option("progress", "bool", True, "progress bar / progress lines on rank 0"),
    Option("warmup", "bool", True, "one dry round on a copy of the method before round 1, so kernel compilation and "
           "first-call set-up are not timed as training (its seconds: /summary warmup_seconds)"),
    Option("checkpoint_every", "int", 0, "rounds between checkpoints in the trace (0: only when stopped by a signal)", min=0),
    # bounded: the watchdog waits this long (an Event.wait of 1e300 s overflows), and a grace past an hour
    # outlives any scheduler's warning
    Option("signal_grace", "float", 20.0, "seconds the ranks get to stop together after SIGTERM/SIGUSR1 before a rank ends on its own", min=0.0, max=3600.0, min_exclusive=True),
    Option("memory_check", "bool", True, "refuse a job whose estimated memory per rank (data, model, method and "
           "compressor state, per-client state of the clients a rank hosts) does not fit the node's available memory "
           "shared by its ranks; false (or env HPCSKETCH_MEMORY_CHECK=0) skips the check"),
    Option("diagnostics_every", "int", 1, "rounds between diagnostics that need extra communication (sp(p), recovery error, consensus distance); 0: never. Their traffic is not counted in bytes_mpi", min=0),
)

PROBLEM_COMMON = (
    Option("kind", "str", "mnist1d", "problem (data set and loss)"),
    Option("model", "str", None, "model for the problem (default: the problem's first model)"),
    Option("batch_size", "int", 32, "minibatch per client per local step (0: the client's whole data, a deterministic gradient)", min=0),
)

CLIENTS = (
    Option("count", "int", 8, "logical clients, spread over the ranks (at least one per rank)", min=1, max=10**7),
    Option("participation", "float", 1.0, "fraction of clients sampled each round (the same subset on every rank)", min=0.0, max=1.0, min_exclusive=True),
    Option("partition", "str", "iid", "how training data is split over clients", choices=("iid", "dirichlet", "shards")),
    Option("alpha", "float", 0.5, "Dirichlet concentration (partition = \"dirichlet\"); smaller is more heterogeneous", min=0.0, min_exclusive=True),
    Option("shards", "int", 2, "shards (single-class slices) per client (partition = \"shards\")", min=1),
)

ALGORITHM_COMMON = (
    Option("kind", "str", "psgd", "distributed optimisation method"),
    Option("lr", "float", 0.05, "client (or only) step size gamma", min=0.0, min_exclusive=True),
    Option("local_steps", "int", 1, "local steps per round (local methods)", min=1, max=100000),
    Option("server_lr", "float", 1.0, "server step size eta_g (local and sketched methods)", min=0.0, min_exclusive=True),
    Option("momentum", "float", 0.0, "momentum", min=0.0, max=1.0),
    Option("weight_decay", "float", 0.0, "L2 regularisation added to every client gradient", min=0.0),
)

COMPRESSOR_COMMON = (Option("kind", "str", "none", "compressor applied to what clients send"),)

TOPOLOGY_COMMON = (
    Option("kind", "str", "ring", "communication graph of the ranks (decentralized methods)"),
    Option("weights", "str", "metropolis", "mixing weights", choices=("metropolis", "uniform")),
)


def _rounds_check(v: list) -> str | None:
    if any(isinstance(r, bool) or not isinstance(r, int) or r < 0 for r in v):
        return "expected a list of rounds (integers >= 0; 0 is the initial model)"
    return None


HESSIAN = (
    Option("rounds", "list", [], "rounds after which the loss Hessian is measured (0: the initial model); "
           "with every = 0 and no rounds nothing is measured", check=_rounds_check),
    Option("every", "int", 0, "also measure every this many rounds, at round 0 and after the last round (0: only at rounds)", min=0),
    Option("lanczos_steps", "int", 64, "Lanczos steps per probe vector (at most d are taken)", min=2, max=100000),
    Option("probes", "int", 4, "Rademacher probe vectors of stochastic Lanczos quadrature (one Lanczos run each)", min=1, max=10000),
    Option("top", "int", 10, "largest eigenvalues kept (Ritz values), at most lanczos_steps", min=1),
    Option("grid", "int", 256, "points of the grid the spectral density is written on", min=8, max=1000000),
    Option("sigma", "float", 0.01, "width of the Gaussian that smooths the density, as a fraction of the spectrum's span",
           min=0.0, max=1.0, min_exclusive=True),
    Option("batch", "int", 1000, "samples per forward/backward pass of a Hessian-vector product (bounds memory; 0: a rank's whole share)", min=0),
    Option("data", "number_or_fraction", 1.0, "training data in the measured loss: a fraction of each client's samples, "
           "or a count per client (the same samples at every measurement)"),
)


@dataclass(frozen=True)
class Section:
    name: str
    options: tuple[Option, ...]
    #: which registry provides the extra keys (declared by its entries' ``options``)
    registry: str | None = None
    doc: str = ""

    def option(self, key: str) -> Option | None:
        return _section_index(self.name).get(key)


#: old name -> new name, per section (empty until something is renamed)
ALIASES: dict[str, dict[str, str]] = {}


def _registries() -> dict[str, Any]:
    """Each section's registry read as declarations: importing a package's registry imports
    its declarations only, never an implementation (mpi4py.MPI, torch, numba kernels)."""
    from hpcsketch.algorithms import REGISTRY as algorithms
    from hpcsketch.compressors import REGISTRY as compressors
    from hpcsketch.problems import REGISTRY as problems
    from hpcsketch.topology import REGISTRY as topologies

    return {"algorithm": algorithms.declared, "compressor": compressors.declared, "problem": problems.declared,
            "topology": topologies.declared}


SECTIONS: dict[str, Section] = {
    "run": Section("run", RUN, doc="the run: rounds, seed, output"),
    "problem": Section("problem", PROBLEM_COMMON, "problem", "data, model, loss"),
    "clients": Section("clients", CLIENTS, doc="logical clients and how data is split over them"),
    "algorithm": Section("algorithm", ALGORITHM_COMMON, "algorithm", "the distributed method"),
    "compressor": Section("compressor", COMPRESSOR_COMMON, "compressor", "what clients send"),
    "topology": Section("topology", TOPOLOGY_COMMON, "topology", "decentralized methods only"),
    "hessian": Section("hessian", HESSIAN, doc="loss-Hessian spectrum measurements during training"),
}

#: sections that hold free-form tables validated by their own code
SPECIAL_SECTIONS = ("sweep",)


def registry_for(section: str) -> Any:
    """The declarations of a section's kinds (:class:`hpcsketch.registry.Declarations`: ``names()``,
    ``kind in``, ``get(kind)`` -> the kind's declaration, ``all()``), or None for a section
    without kinds. Validation, the key tables and the analysis read these; a rank builds an
    implementation through the package's ``REGISTRY.get(kind)``."""
    reg = SECTIONS[section].registry
    return None if reg is None else _registries().get(reg)


@lru_cache(maxsize=None)
def _section_index(section: str) -> dict[str, Option]:
    """All keys of a section: the common ones plus every registered kind's declared ``options``.

    A key declared by two classes must be declared identically (same type and
    bounds) so that a sweep over ``kind`` reads it the same way everywhere.
    """
    sec = SECTIONS[section]
    index = {o.name: o for o in sec.options}
    owners: dict[str, str] = {o.name: "(common)" for o in sec.options}
    reg = registry_for(section)
    if reg is not None:
        for kind, decl in reg.all().items():
            for opt in getattr(decl, "options", ()):
                if opt.name in index and owners[opt.name] != "(common)":
                    prev = index[opt.name]
                    if (prev.type, prev.min, prev.max, prev.choices) != (opt.type, opt.min, opt.max, opt.choices):
                        raise AssertionError(
                            f"[{section}] {opt.name} is declared differently by {owners[opt.name]} and {kind}"
                        )
                    owners[opt.name] += f", {kind}"
                    continue
                if opt.name in index:
                    raise AssertionError(f"[{section}] {opt.name}: {kind} redeclares a common key")
                index[opt.name] = opt
                owners[opt.name] = kind
    _OWNERS[section] = owners
    return index


_OWNERS: dict[str, dict[str, str]] = {}


def section_keys(section: str) -> dict[str, Option]:
    return _section_index(section)


def key_owners(section: str) -> dict[str, str]:
    _section_index(section)
    return _OWNERS[section]


def keys_table_markdown() -> str:
    """The README's table of job-file keys, generated from the declarations."""
    lines = ["| key | type / valid values | default | used by | meaning |", "|---|---|---|---|---|"]
    for name in SECTIONS:
        reg = registry_for(name)
        owners = key_owners(name)
        for key, opt in section_keys(name).items():
            valid = opt.describe_valid()
            if key == "kind" and reg is not None:
                valid = "one of " + ", ".join(f"`{k}`" for k in reg.names())
            default = "" if opt.default is None else f"`{_toml(opt.default)}`"
            per_kind = _defaults_by_kind(name, key) if reg is not None else {}
            if len(set(map(repr, per_kind.values()))) > 1:
                default = ", ".join(f"`{_toml(v)}` ({k})" for k, v in per_kind.items())
            used = owners.get(key, "")
            lines.append(f"| `{name}.{key}` | {valid} | {default} | {used} | {opt.doc} |")
    lines.append("| `sweep.\"<section>.<key>\"` | a list of values | | | grid: every combination is one run |")
    return "\n".join(lines)


def _defaults_by_kind(section: str, key: str) -> dict[str, Any]:
    reg = registry_for(section)
    out = {}
    for kind, decl in reg.all().items():
        for o in getattr(decl, "options", ()):
            if o.name == key:
                out[kind] = o.default
    return out


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)
