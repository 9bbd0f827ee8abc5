"""One class per ``[topology] kind``: its job-file keys, whether it changes every
round, which node counts it accepts, and the graph(s) of one period."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping, Sequence

from hpcsketch.config.options import Option
from hpcsketch.topology import graphs
from hpcsketch.topology.graphs import Graph

DEGREE = Option("degree", "int", 3, "random_regular: neighbours per node (nodes x degree must be even, degree < nodes)", min=1)
GRAPH_SEED = Option("graph_seed", "int", 0, "random_regular: seed of the graph draw (apart from [run] seed, so seeds share a graph)",
                    min=0, max=2**63 - 1)


class Topology:
    kind: ClassVar[str] = ""
    #: job-file keys of [topology] beyond kind and weights
    options: ClassVar[Sequence[Option]] = ()
    #: the graph changes from round to round (``graphs`` returns one per round of the period)
    time_varying: ClassVar[bool] = False
    #: one line for ``hpcsketch info`` and the README
    doc: ClassVar[str] = ""
    #: the generator of a static topology's graph on P nodes
    generator: ClassVar[Callable[[int], Graph] | None] = None

    @classmethod
    def node_problem(cls, nodes: int, opts: Mapping[str, Any]) -> tuple[str, str] | None:
        """(key, what is wrong) when this topology cannot be built on ``nodes`` ranks."""
        return None

    @classmethod
    def graphs(cls, nodes: int, opts: Mapping[str, Any]) -> list[Graph]:
        """The graphs of one period (one graph for a static topology)."""
        assert cls.generator is not None, f"{cls.__name__} sets neither generator nor graphs"
        return [cls.generator(nodes)]


class Ring(Topology):
    kind = "ring"
    doc = "node i linked to i - 1 and i + 1"
    generator = staticmethod(graphs.ring)


class Torus(Topology):
    kind = "torus"
    doc = "2-D torus a x b, the most nearly square factorisation of P (a, b >= 2)"
    generator = staticmethod(graphs.torus)

    @classmethod
    def node_problem(cls, nodes: int, opts: Mapping[str, Any]) -> tuple[str, str] | None:
        if nodes < 4:
            return "kind", f"a 2-D torus needs at least 4 ranks, got {nodes}"
        a, b = graphs.torus_dims(nodes)
        if a < 2:
            return "kind", f"{nodes} ranks do not factor as a x b with a, b >= 2 (it is prime); use another rank count or topology"
        return None


class Exponential(Topology):
    kind = "exponential"
    doc = "static, undirected: node i linked to i +- 2^k for every 2^k < P"
    generator = staticmethod(graphs.exponential)


class OnePeerExponential(Topology):
    kind = "one_peer_exponential"
    time_varying = True
    doc = "directed, one peer a round: at round t node i sends to i + 2^(t mod ceil(log2 P))"

    @classmethod
    def graphs(cls, nodes: int, opts: Mapping[str, Any]) -> list[Graph]:
        return [graphs.one_peer_exponential(nodes, t) for t in range(graphs.one_peer_period(nodes))]


class Star(Topology):
    kind = "star"
    doc = "node 0 linked to every other node"
    generator = staticmethod(graphs.star)


class Complete(Topology):
    kind = "complete"
    doc = "every node linked to every other node"
    generator = staticmethod(graphs.complete)


class RandomRegular(Topology):
    kind = "random_regular"
    options = (DEGREE, GRAPH_SEED)
    doc = "a connected random degree-regular graph, drawn from graph_seed"

    @classmethod
    def node_problem(cls, nodes: int, opts: Mapping[str, Any]) -> tuple[str, str] | None:
        k = int(opts.get("degree", DEGREE.default))
        if k >= nodes:
            return "degree", f"degree {k} needs more than {k} ranks, got {nodes}"
        if nodes * k % 2:
            return "degree", f"ranks x degree = {nodes} x {k} is odd; a regular graph needs it even"
        if k < 2 and nodes > 2:
            return "degree", f"a 1-regular graph on {nodes} ranks is disconnected; use degree >= 2"
        return None

    @classmethod
    def graphs(cls, nodes: int, opts: Mapping[str, Any]) -> list[Graph]:
        k = int(opts.get("degree", DEGREE.default))
        return [graphs.random_regular(nodes, k, int(opts.get("graph_seed", GRAPH_SEED.default)))]
