"""Dense Gaussian sketch R (b x d, entries N(0, 1/b), so E[R^T R] = I); small d only."""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.compressors._common import count_from_ratio
from hpcsketch.compressors.base import Compressor
from hpcsketch.errors import BadInput

MAX_ENTRIES = 1 << 27


class GaussianSketch(Compressor):
    kind = "gaussian"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.b = count_from_ratio(self.dim, self.opts)
        if self.b * self.dim > MAX_ENTRIES:
            raise BadInput(
                f"a dense Gaussian sketch of {self.b} x {self.dim} = {self.b * self.dim} entries is over the "
                f"2^27 limit; raise ratio, or use subsampled_wht or count_sketch for this d",
                field="[compressor] kind",
            )
        self.resample(self.seed)

    def resample(self, seed: int) -> None:
        self.seed = int(seed)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, 0x6A55])))
        r = rng.standard_normal((self.b, self.dim), dtype=np.float32) / np.float32(np.sqrt(self.b))
        self.matrix = self.xp.asarray(r.astype(self.dtype))

    def forward(self, x: Any) -> Any:
        return self.matrix @ x.astype(self.dtype)

    def adjoint(self, y: Any) -> Any:
        return self.matrix.T @ y.astype(self.dtype)

    def compress(self, x: Any, key: int = 0) -> Any:
        return self.forward(x)

    def decompress(self, payload: Any) -> Any:
        return self.adjoint(payload)

    def payload_nbytes(self) -> int:
        return self.b * self.dtype.itemsize
