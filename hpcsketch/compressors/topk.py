"""Top-k sparsification: contractive with delta = k/d; payload = k (int32 index, float32 value)."""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors._common import k_count, pack_sparse, unpack_sparse
from hpcsketch.compressors.base import Compressor
from hpcsketch.kernels.randk import scatter
from hpcsketch.kernels.topk import topk


class TopK(Compressor):
    kind = "topk"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.k = k_count(self.dim, self.opts)

    @property
    def delta(self) -> float:
        """Contraction: ||C(x) - x||^2 <= (1 - k/d) ||x||^2."""
        return self.k / self.dim

    def compress(self, x: Any, key: int = 0) -> Any:
        idx = topk(x, self.k)
        return pack_sparse(self.xp, idx, x[idx])

    def decompress(self, payload: Any) -> Any:
        idx, vals = unpack_sparse(self.xp, payload)
        return scatter(idx, vals.astype(self.dtype), self.dim)

    def payload_nbytes(self) -> int:
        return 8 * self.k
