"""``hpcsketch info --topology KIND --nodes P``: a topology described without MPI ranks."""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.config.job import parse_override_value
from hpcsketch.errors import BadInput
from hpcsketch.topology import REGISTRY
from hpcsketch.topology.network import Network, build

#: W is printed for networks up to this many nodes
MAX_MATRIX_NODES = 16


def topology_options(kind: str, weights: str, pairs: list[str]) -> dict[str, Any]:
    """``[topology]`` keys from ``--option KEY=VALUE`` pairs, validated like a job file's."""
    from hpcsketch.config.schema import section_keys

    if kind not in REGISTRY:
        raise BadInput(f"unknown topology {kind!r}; expected one of {', '.join(REGISTRY.names())}", field="--topology")
    keys = section_keys("topology")
    opts: dict[str, Any] = {"kind": kind, "weights": weights}
    _, err = keys["weights"].validate(weights)
    if err:
        raise BadInput(err, field="--weights")
    for o in getattr(REGISTRY.get(kind), "options", ()):
        opts[o.name] = o.default
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        key = key.strip()
        if not eq or key not in keys or key in ("kind", "weights"):
            extra = ", ".join(k for k in keys if k not in ("kind", "weights"))
            raise BadInput(f"expected KEY=VALUE with KEY one of {extra}, got {pair!r}", field="--option")
        value, err = keys[key].validate(parse_override_value(raw.strip()))
        if err:
            raise BadInput(err, field=f"--option {key}")
        opts[key] = value
    return opts


def describe(net: Network) -> str:
    lines = [f"topology {net.kind} on {net.nodes} nodes, {net.scheme} weights"
             + (f", time-varying with period {net.period}" if net.time_varying else ""), f"({REGISTRY.get(net.kind).doc})"]
    for t, (g, rows) in enumerate(zip(net.graphs, net.rows)):
        if net.time_varying:
            lines.append(f"-- round t = {t} (mod {net.period})")
        deg = g.degrees()
        lines.append(f"degrees: min {deg.min()}, max {deg.max()}" + (" (regular)" if g.regular else "")
                     + (", directed" if g.directed else ", undirected") + f", {g.edges()} directed edges")
        for i in range(net.nodes):
            src, dst = g.sources[i], g.destinations[i]
            tail = "" if set(src) == set(dst) else f"  sends to {list(dst)}"
            lines.append(f"  node {i:4d}: receives from {list(src)}{tail}")
            if i >= 63 and net.nodes > 64:
                lines.append(f"  ... ({net.nodes - 64} more nodes)")
                break
        c = net.checks()[t]
        lines.append(f"doubly stochastic: {_yes(c.doubly_stochastic)} (nonnegative {_yes(c.nonnegative)}, rows {_yes(c.row_stochastic)}, "
                     f"columns {_yes(c.column_stochastic)}); symmetric: {_yes(c.symmetric)}")
        lines.append(f"spectral gap 1 - |lambda_2(W)|: {net.gaps[t]:.6f}")
        if net.nodes <= MAX_MATRIX_NODES:
            lines.append("W =")
            lines.append(_matrix(net.matrix(t)))
    if net.time_varying:
        lines.append(f"spectral gap of one period's product W_{net.period - 1} ... W_0: {net.period_gap:.6f}")
    return "\n".join(lines)


def _yes(b: bool) -> str:
    return "yes" if b else "NO"


def _matrix(W: np.ndarray) -> str:
    return "\n".join("  " + " ".join(f"{v:6.4f}" if v else "     0" for v in row) for row in W)


def info(kind: str, nodes: int | None, weights: str, pairs: list[str]) -> int:
    if nodes is None:
        raise BadInput("give the number of nodes (ranks) with --nodes P", field="--nodes")
    opts = topology_options(kind, weights, pairs)
    print(describe(build(kind, nodes, opts)))
    return 0
