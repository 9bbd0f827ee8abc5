"""Rand-k: k random coordinates scaled by d/k (unbiased, omega = d/k - 1).

With ``shared_mask = true`` every client draws the same mask from the shared seed
(redrawn by ``resample``): the payload is then just the k scaled values, the map is
linear and payloads can be Allreduced. Otherwise each client draws its own mask
from its private ``key`` and sends (int32 index, float32 value) pairs.
"""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors._common import k_count, pack_sparse, unpack_sparse
from hpcsketch.compressors.base import Compressor
from hpcsketch.compressors.options import SHARED_MASK
from hpcsketch.kernels.randk import randk_indices, scatter


class RandK(Compressor):
    kind = "randk"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.k = k_count(self.dim, self.opts)
        self.shared = bool(self.opts.get("shared_mask", SHARED_MASK.default))
        self.scale = self.dim / self.k
        self.resample(self.seed)

    @property
    def linear(self) -> bool:  # type: ignore[override]
        return self.shared

    @property
    def omega(self) -> float:
        """Variance factor: E||C(x) - x||^2 = omega ||x||^2 = (d/k - 1) ||x||^2."""
        return self.scale - 1.0

    def resample(self, seed: int) -> None:
        self.seed = int(seed)
        self.mask = randk_indices(self.dim, self.k, self.seed, self.xp) if self.shared else None

    def indices(self, key: int = 0) -> Any:
        """The coordinates kept for this call (the shared mask, or the private one of ``key``)."""
        return self.mask if self.shared else randk_indices(self.dim, self.k, key, self.xp)

    def compress(self, x: Any, key: int = 0) -> Any:
        idx = self.indices(key)
        vals = (x[idx] * self.scale).astype(self.dtype)
        return vals if self.shared else pack_sparse(self.xp, idx, vals)

    def decompress(self, payload: Any) -> Any:
        if self.shared:
            return scatter(self.mask, payload.astype(self.dtype), self.dim)
        idx, vals = unpack_sparse(self.xp, payload)
        return scatter(idx, vals.astype(self.dtype), self.dim)

    def payload_nbytes(self) -> int:
        return self.k * (self.dtype.itemsize if self.shared else 8)
