"""What a ``[topology] kind`` declares, and the keys it reads (light: validation reads these)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hpcsketch.config.options import Option
from hpcsketch.registry import Declaration

DEGREE = Option("degree", "int", 3, "random_regular: neighbours per node (nodes x degree must be even, degree < nodes)", min=1)
GRAPH_SEED = Option("graph_seed", "int", 0, "random_regular: seed of the graph draw (apart from [run] seed, so seeds share a graph)",
                    min=0, max=2**63 - 1)


@dataclass(frozen=True)
class TopologyDecl(Declaration):
    """One ``[topology] kind``: its keys, whether it changes every round, one line about it."""

    #: the graph changes from round to round (``graphs`` returns one per round of the period)
    time_varying: bool = False
    #: one line for ``hpcsketch info`` and the README
    doc: str = ""

    class_attrs: ClassVar[tuple[str, ...]] = ("kind", "options", "time_varying", "doc")
