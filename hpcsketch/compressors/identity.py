"""The identity compressor: the uncompressed (PSGD) baseline."""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors.base import Compressor


class Identity(Compressor):
    kind = "none"

    def compress(self, x: Any, key: int = 0) -> Any:
        return x.astype(self.dtype, copy=True)

    def decompress(self, payload: Any) -> Any:
        return payload

    def payload_nbytes(self) -> int:
        return self.dim * self.dtype.itemsize
