"""QSGD(s): norm + packed signs + packed levels; unbiased with stochastic rounding."""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors.base import Compressor
from hpcsketch.compressors.options import LEVELS
from hpcsketch.kernels.quantize import qsgd_decode, qsgd_encode, qsgd_nbytes, uniform


class QSGD(Compressor):
    kind = "qsgd"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.levels = int(self.opts.get("levels", LEVELS.default))

    @property
    def omega(self) -> float:
        """Variance bound (Alistarh et al., Lemma 3.1): E||C(x)-x||^2 <= omega ||x||^2."""
        d, s = self.dim, self.levels
        return min(d / s**2, d**0.5 / s)

    def compress(self, x: Any, key: int = 0) -> Any:
        return qsgd_encode(x, self.levels, uniform(self.dim, key, self.xp))

    def decompress(self, payload: Any) -> Any:
        return qsgd_decode(payload, self.dim, self.levels, self.dtype)

    def payload_nbytes(self) -> int:
        return qsgd_nbytes(self.dim, self.levels)
