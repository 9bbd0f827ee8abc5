"""Scaled sign: ||x||_1 / d * sign(x); d packed bits + one float32. Contractive."""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors.base import Compressor
from hpcsketch.kernels.quantize import sign_decode, sign_encode, sign_nbytes


class Sign(Compressor):
    kind = "sign"

    def compress(self, x: Any, key: int = 0) -> Any:
        return sign_encode(x)

    def decompress(self, payload: Any) -> Any:
        return sign_decode(payload, self.dim, self.dtype)

    def payload_nbytes(self) -> int:
        return sign_nbytes(self.dim)
