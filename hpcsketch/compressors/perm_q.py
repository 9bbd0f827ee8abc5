"""Perm-q (independent subnetwork training; docs/methods.md, 'Perm-q'): C_i = n * sum over block i of e_j e_j^T.

Each round a permutation pi of [d] drawn from the round seed (``resample``) is cut
into n disjoint blocks (n q = d; when n does not divide d the first d mod n blocks
get one more coordinate). Client i's map is linear: ``compress`` returns
``n * x[block(i)]`` for the client set with :meth:`set_client`, ``decompress`` puts a
block back in a dense vector. Blocks are disjoint, so the aggregation is an
Allgather(v) of blocks, not a sum: :meth:`assemble` does ``mean_i C_i x_i``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from hpcsketch.compressors.base import Compressor
from hpcsketch.compressors.options import BLOCKS
from hpcsketch.errors import BadInput


def block_bounds(dim: int, n: int) -> np.ndarray:
    """Start of each of ``n`` blocks of ``range(dim)`` and the end (n + 1 entries): sizes differ
    by at most one, the first ``dim mod n`` blocks get the extra coordinate."""
    base, extra = divmod(dim, n)
    sizes = np.full(n, base, dtype=np.int64)
    sizes[:extra] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


def permutation(dim: int, seed: int) -> np.ndarray:
    """The round's permutation pi of ``range(dim)`` (int64, on the host), a function of ``seed`` alone."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0x9E53])))
    return rng.permutation(dim).astype(np.int64)


class PermQ(Compressor):
    kind = "perm_q"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.n = int(self.opts.get("blocks", BLOCKS.default))
        if self.n > self.dim:
            raise BadInput(f"blocks = {self.n} is more than d = {self.dim}; need 1..{self.dim}", field="[compressor] blocks")
        self.bounds = block_bounds(self.dim, self.n)
        self.client = 0
        self.resample(self.seed)

    def resample(self, seed: int) -> None:
        self.seed = int(seed)
        self.perm = self.xp.asarray(permutation(self.dim, self.seed))

    def block(self, client: int) -> Any:
        """Coordinates of client ``client``'s block this round (what it trains and sends)."""
        if not 0 <= client < self.n:
            raise ValueError(f"client must be in 0..{self.n - 1}, got {client}")
        return self.perm[self.bounds[client]: self.bounds[client + 1]]

    def set_client(self, client: int) -> None:
        self.block(client)  # validates
        self.client = int(client)

    def compress(self, x: Any, key: int = 0) -> Any:
        return (x[self.block(self.client)] * self.n).astype(self.dtype)

    def decompress(self, payload: Any) -> Any:
        out = self.xp.zeros(self.dim, dtype=self.dtype)
        out[self.block(self.client)] = payload
        return out

    def assemble(self, payloads: Sequence[Any]) -> Any:
        """``mean_i C_i x_i`` from the n clients' payloads (client i's block at block(i))."""
        out = self.xp.zeros(self.dim, dtype=self.dtype)
        for i, p in enumerate(payloads):
            out[self.block(i)] = p / self.n
        return out

    def payload_nbytes(self) -> int:
        return int(self.bounds[1] - self.bounds[0]) * self.dtype.itemsize
