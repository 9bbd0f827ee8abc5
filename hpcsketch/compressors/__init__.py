"""Compressors: one file each (the implementation), one entry each in ``REGISTRY`` (the declaration).

An entry names the implementation ``"module:Class"`` (imported only when a rank
builds it: the kernels load numba) and declares its ``[compressor]`` keys and
whether it is linear, unbiased or contractive. The class gets these as class
attributes when it is defined; do not set them there.
"""

from hpcsketch.compressors.declarations import CompressorDecl
from hpcsketch.compressors.options import BLOCKS, COLS, K, LEVELS, RATIO, ROWS, SHARED_MASK, SIGNS
from hpcsketch.registry import Registry

REGISTRY = Registry(
    "compressor",
    {
        "none": CompressorDecl("hpcsketch.compressors.identity:Identity", linear=True, unbiased=True, contractive=True),
        "topk": CompressorDecl("hpcsketch.compressors.topk:TopK", options=(K,), contractive=True),
        "randk": CompressorDecl("hpcsketch.compressors.randk:RandK", options=(K, SHARED_MASK), unbiased=True,
                                linear="shared_mask"),
        "qsgd": CompressorDecl("hpcsketch.compressors.qsgd:QSGD", options=(LEVELS,), unbiased=True),
        "sign": CompressorDecl("hpcsketch.compressors.sign:Sign", contractive=True),
        # unbiased: the mean estimate, over the hash draw
        "count_sketch": CompressorDecl("hpcsketch.compressors.count_sketch:CountSketch", options=(RATIO, ROWS, COLS),
                                       linear=True, unbiased=True),
        # unbiased over the row draw: E[Phi^T Phi] = I
        "subsampled_wht": CompressorDecl("hpcsketch.compressors.subsampled_wht:SubsampledWHT", options=(RATIO, SIGNS),
                                         linear=True, unbiased=True),
        "subsampled_dct": CompressorDecl("hpcsketch.compressors.subsampled_dct:SubsampledDCT", options=(RATIO, SIGNS),
                                         linear=True, unbiased=True),
        # unbiased over the draw of R
        "gaussian": CompressorDecl("hpcsketch.compressors.gaussian:GaussianSketch", options=(RATIO,), linear=True,
                                   unbiased=True),
        # unbiased: E_pi[C_i] = I for every client
        "perm_q": CompressorDecl("hpcsketch.compressors.perm_q:PermQ", options=(BLOCKS,), linear=True, unbiased=True),
    },
)
