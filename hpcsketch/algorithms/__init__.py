"""Algorithms: one file each, one line each in ``REGISTRY``."""

from hpcsketch.registry import Registry

REGISTRY = Registry(
    "algorithm",
    {
        "psgd": "hpcsketch.algorithms.psgd:PSGD",
    },
)
