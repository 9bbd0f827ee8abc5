"""Topologies of decentralized training: graphs over the ranks, mixing weights, spectral gaps.

One entry per ``[topology] kind`` in ``REGISTRY``: the declaration (keys, whether
it is time-varying, one line about it) and the class in ``kinds`` that builds its
graphs. This package knows nothing of MPI or of algorithms: ``network.build`` gives
every rank the whole (small) description, and the comm layer turns a node's lists
into a distributed-graph communicator.
"""

from hpcsketch.registry import Registry
from hpcsketch.topology.declarations import DEGREE, GRAPH_SEED, TopologyDecl

REGISTRY = Registry(
    "topology",
    {
        "ring": TopologyDecl("hpcsketch.topology.kinds:Ring", doc="node i linked to i - 1 and i + 1"),
        "torus": TopologyDecl("hpcsketch.topology.kinds:Torus",
                              doc="2-D torus a x b, the most nearly square factorisation of P (a, b >= 2)"),
        "exponential": TopologyDecl("hpcsketch.topology.kinds:Exponential",
                                    doc="static, undirected: node i linked to i +- 2^k for every 2^k < P"),
        "one_peer_exponential": TopologyDecl(
            "hpcsketch.topology.kinds:OnePeerExponential", time_varying=True,
            doc="directed, one peer a round: at round t node i sends to i + 2^(t mod ceil(log2 P))"),
        "star": TopologyDecl("hpcsketch.topology.kinds:Star", doc="node 0 linked to every other node"),
        "complete": TopologyDecl("hpcsketch.topology.kinds:Complete", doc="every node linked to every other node"),
        "random_regular": TopologyDecl("hpcsketch.topology.kinds:RandomRegular", options=(DEGREE, GRAPH_SEED),
                                       doc="a connected random degree-regular graph, drawn from graph_seed"),
    },
)
