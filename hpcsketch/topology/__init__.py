"""Topologies of decentralized training: graphs over the ranks, mixing weights, spectral gaps.

One class per ``[topology] kind`` in ``REGISTRY``. This package knows nothing of
MPI or of algorithms: ``network.build`` gives every rank the whole (small)
description, and the comm layer turns a node's lists into a distributed-graph
communicator.
"""

from hpcsketch.registry import Registry

REGISTRY = Registry(
    "topology",
    {
        "ring": "hpcsketch.topology.kinds:Ring",
        "torus": "hpcsketch.topology.kinds:Torus",
        "exponential": "hpcsketch.topology.kinds:Exponential",
        "one_peer_exponential": "hpcsketch.topology.kinds:OnePeerExponential",
        "star": "hpcsketch.topology.kinds:Star",
        "complete": "hpcsketch.topology.kinds:Complete",
        "random_regular": "hpcsketch.topology.kinds:RandomRegular",
    },
)
