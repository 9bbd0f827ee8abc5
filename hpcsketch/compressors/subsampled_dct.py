"""Subsampled orthonormal DCT sensing operator (d' = d)."""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors._sensing import SubsampledTransform
from hpcsketch.kernels.dct import dct


class SubsampledDCT(SubsampledTransform):
    kind = "subsampled_dct"

    @staticmethod
    def padded_dim(d: int) -> int:
        return d

    def _transform(self, x: Any, inverse: bool) -> Any:
        return dct(x, inverse=inverse)
