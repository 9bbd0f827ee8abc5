"""Compressors: one file each, one line each in ``REGISTRY``."""

from hpcsketch.registry import Registry

REGISTRY = Registry(
    "compressor",
    {
        "none": "hpcsketch.compressors.identity:Identity",
        "topk": "hpcsketch.compressors.topk:TopK",
        "randk": "hpcsketch.compressors.randk:RandK",
        "qsgd": "hpcsketch.compressors.qsgd:QSGD",
        "sign": "hpcsketch.compressors.sign:Sign",
        "count_sketch": "hpcsketch.compressors.count_sketch:CountSketch",
        "subsampled_wht": "hpcsketch.compressors.subsampled_wht:SubsampledWHT",
        "subsampled_dct": "hpcsketch.compressors.subsampled_dct:SubsampledDCT",
        "gaussian": "hpcsketch.compressors.gaussian:GaussianSketch",
        "perm_q": "hpcsketch.compressors.perm_q:PermQ",
    },
)
