"""Algorithms: one file each, one line each in ``REGISTRY``."""

from hpcsketch.registry import Registry

REGISTRY = Registry(
    "algorithm",
    {
        "psgd": "hpcsketch.algorithms.psgd:PSGD",
        "compressed_sgd": "hpcsketch.algorithms.compressed_sgd:CompressedSGD",
        "ef_sgd": "hpcsketch.algorithms.ef_sgd:EFSGD",
        "ef21": "hpcsketch.algorithms.ef21:EF21",
        "sketch_dl": "hpcsketch.algorithms.sketch_dl:SketchDL",
        "fetchsgd": "hpcsketch.algorithms.fetchsgd:FetchSGD",
        "cs_sgd": "hpcsketch.algorithms.cs_sgd:CSSGD",
        "local_sgd": "hpcsketch.algorithms.local_sgd:LocalSGD",
        "scaffold": "hpcsketch.algorithms.scaffold:Scaffold",
        "scaffold_m": "hpcsketch.algorithms.scaffold:ScaffoldM",
        "fedavg_m": "hpcsketch.algorithms.fedavg_m:FedAvgM",
        "dsgd": "hpcsketch.algorithms.dsgd:DSGD",
        "choco_sgd": "hpcsketch.algorithms.choco_sgd:ChocoSGD",
        "ist": "hpcsketch.algorithms.ist:IST",
    },
)
