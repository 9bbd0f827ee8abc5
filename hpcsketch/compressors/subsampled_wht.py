"""Subsampled randomized Walsh-Hadamard sensing operator (d' = next power of two)."""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors._sensing import SubsampledTransform
from hpcsketch.kernels.fwht import fwht, next_pow2


class SubsampledWHT(SubsampledTransform):
    kind = "subsampled_wht"

    @staticmethod
    def padded_dim(d: int) -> int:
        return next_pow2(d)

    def _transform(self, x: Any, inverse: bool) -> Any:
        # the orthonormal WHT is symmetric and its own inverse; x is always a fresh array here
        return fwht(x, normalized=True, inplace=True)
