"""One class per ``[topology] kind``: which node counts it accepts, and the graph(s) of
one period. Its keys, whether it changes every round and its one line are declared in
its registry entry (:mod:`hpcsketch.topology`) and set on the class when it is defined."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping, Sequence

from hpcsketch.config.options import Option
from hpcsketch.topology import graphs
from hpcsketch.topology.declarations import DEGREE, GRAPH_SEED
from hpcsketch.topology.graphs import Graph


class Topology:
    # declared in the registry entry (TopologyDecl), set when a registered class is defined
    kind: ClassVar[str] = ""
    options: ClassVar[Sequence[Option]] = ()
    time_varying: ClassVar[bool] = False
    doc: ClassVar[str] = ""
    #: the generator of a static topology's graph on P nodes
    generator: ClassVar[Callable[[int], Graph] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from hpcsketch.topology import REGISTRY

        REGISTRY.bind(cls)

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
    generator = staticmethod(graphs.ring)


class Torus(Topology):
    kind = "torus"
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
    generator = staticmethod(graphs.exponential)


class OnePeerExponential(Topology):
    kind = "one_peer_exponential"

    @classmethod
    def graphs(cls, nodes: int, opts: Mapping[str, Any]) -> list[Graph]:
        return [graphs.one_peer_exponential(nodes, t) for t in range(graphs.one_peer_period(nodes))]


class Star(Topology):
    kind = "star"
    generator = staticmethod(graphs.star)


class Complete(Topology):
    kind = "complete"
    generator = staticmethod(graphs.complete)


class RandomRegular(Topology):
    kind = "random_regular"

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
