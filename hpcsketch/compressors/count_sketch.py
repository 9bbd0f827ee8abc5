"""Count sketch (csvec / FetchSGD): an r x c float32 table, linear and mergeable by addition.

``c`` = ``cols`` if given, else round(d / (ratio * rows)). ``decompress`` is the mean
(unbiased transpose) estimate; the median estimates, the L2 estimate, heavy
hitters, zeroing of cells (FetchSGD's code) and the sketch of a sparse vector are
methods for the algorithms that need them.
"""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors.base import Compressor
from hpcsketch.compressors.options import COLS, RATIO, ROWS
from hpcsketch.errors import BadInput
from hpcsketch.kernels import count_sketch as cs
from hpcsketch.kernels.hashing import MAX_KEY, sketch_hash


class CountSketch(Compressor):
    kind = "count_sketch"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.dim >= MAX_KEY:
            raise BadInput(f"count sketch supports d < 2^32, got d = {self.dim}", field="[compressor] kind")
        self.rows = int(self.opts.get("rows", ROWS.default))
        cols = int(self.opts.get("cols", COLS.default) or 0)
        ratio = float(self.opts.get("ratio", RATIO.default))
        self.cols = cols if cols > 0 else max(1, int(round(self.dim / (ratio * self.rows))))
        self.resample(self.seed)

    def resample(self, seed: int) -> None:
        self.seed = int(seed)
        self.hash = sketch_hash(self.seed, self.rows, self.xp)

    def zeros(self) -> Any:
        """An empty table (the identity of merging)."""
        return self.xp.zeros((self.rows, self.cols), dtype=self.xp.float32)

    def compress(self, x: Any, key: int = 0) -> Any:
        return cs.cs_accumulate(self.zeros(), x, self.hash)

    def decompress(self, payload: Any) -> Any:
        return cs.cs_estimate(payload, self.hash, self.dim, how="mean").astype(self.dtype)

    def payload_nbytes(self) -> int:
        return self.rows * self.cols * 4

    # -- what FetchSGD and heavy-hitter recovery use --------------------------------
    def median_estimate(self, table: Any, idx: Any = None) -> Any:
        return cs.cs_estimate(table, self.hash, self.dim, how="median", idx=idx)

    def l2_estimate(self, table: Any) -> float:
        return cs.cs_l2_estimate(table)

    def heavy_hitters(self, table: Any, k: int) -> tuple[Any, Any]:
        """(indices, median estimates) of the k largest median estimates by magnitude."""
        return cs.cs_heavy_hitters(table, self.hash, self.dim, k)

    def zero_cells(self, table: Any, idx: Any) -> Any:
        """Zero (in place) the cells the coordinates ``idx`` hash to, in every row."""
        return cs.cs_zero_cells(table, self.hash, idx)

    def sketch_sparse(self, idx: Any, values: Any, table: Any = None) -> Any:
        """Sketch of the sparse vector {idx: values}, added to ``table`` (a new one by default)."""
        return cs.cs_accumulate_sparse(self.zeros() if table is None else table, idx, values, self.hash)
