"""Algorithms: one file each (the implementation), one entry each in ``REGISTRY`` (the declaration).

An entry names the implementation ``"module:Class"`` (imported only when a rank
builds the method) and declares what validation, the README and the analysis need:
its ``[algorithm]`` keys, the compressors it takes, what it requires of them, keys
of other sections it reads, whether it is decentralized, and its cross-key check.
The class gets these as class attributes when it is defined; do not set them there.
"""

from hpcsketch.algorithms.declarations import AlgorithmDecl, ist_sketch_fits, one_gradient_step, static_topology
from hpcsketch.algorithms.options import (
    BETA,
    COMPRESSOR_SCALE,
    CONSENSUS_LR,
    ERROR_FEEDBACK,
    ERROR_REMOVAL,
    FIHT_ITERS,
    OVERLAP,
    Q,
    SECOND_ROUND,
    SKETCH,
    TOP_R,
)
from hpcsketch.registry import Registry

ANY = None  # any compressor that meets compressor_requires

REGISTRY = Registry(
    "algorithm",
    {
        "psgd": AlgorithmDecl("hpcsketch.algorithms.psgd:PSGD"),
        "compressed_sgd": AlgorithmDecl("hpcsketch.algorithms.compressed_sgd:CompressedSGD", compressors=ANY,
                                        compressor_requires=("unbiased",)),
        "ef_sgd": AlgorithmDecl("hpcsketch.algorithms.ef_sgd:EFSGD", options=(ERROR_FEEDBACK,), compressors=ANY),
        "ef21": AlgorithmDecl("hpcsketch.algorithms.ef21:EF21", compressors=ANY),
        "sketch_dl": AlgorithmDecl("hpcsketch.algorithms.sketch_dl:SketchDL", options=(ERROR_FEEDBACK, TOP_R),
                                   compressors=ANY, compressor_requires=("linear",)),
        "fetchsgd": AlgorithmDecl("hpcsketch.algorithms.fetchsgd:FetchSGD", options=(ERROR_FEEDBACK, SECOND_ROUND, ERROR_REMOVAL),
                                  compressors=("count_sketch",), reads=("compressor.k",)),  # k: the heavy hitters
        "cs_sgd": AlgorithmDecl("hpcsketch.algorithms.cs_sgd:CSSGD", options=(FIHT_ITERS,),
                                compressors=("subsampled_wht", "subsampled_dct"), reads=("compressor.k",)),  # k: FIHT's sparsity
        "local_sgd": AlgorithmDecl("hpcsketch.algorithms.local_sgd:LocalSGD", options=(ERROR_FEEDBACK,), compressors=ANY),
        "scaffold": AlgorithmDecl("hpcsketch.algorithms.scaffold:Scaffold"),
        "scaffold_m": AlgorithmDecl("hpcsketch.algorithms.scaffold:ScaffoldM", options=(BETA,)),
        "fedavg_m": AlgorithmDecl("hpcsketch.algorithms.fedavg_m:FedAvgM", options=(BETA,), compressors=ANY),
        "dsgd": AlgorithmDecl("hpcsketch.algorithms.dsgd:DSGD", options=(OVERLAP,), decentralized=True,
                              check_job=one_gradient_step),
        # every compressor but Perm-q, whose blocks belong to IST's clients, not to a node's model
        "choco_sgd": AlgorithmDecl("hpcsketch.algorithms.choco_sgd:ChocoSGD", options=(CONSENSUS_LR, COMPRESSOR_SCALE),
                                   compressors=("none", "topk", "randk", "qsgd", "sign", "count_sketch", "subsampled_wht",
                                                "subsampled_dct", "gaussian"),
                                   decentralized=True, check_job=static_topology),
        "ist": AlgorithmDecl("hpcsketch.algorithms.ist:IST", options=(SKETCH, Q), check_job=ist_sketch_fits),
    },
)
