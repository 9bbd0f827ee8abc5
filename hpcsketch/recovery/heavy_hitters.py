"""Heavy-hitter recovery from a count sketch (FetchSGD): the k largest median estimates."""

from __future__ import annotations

from typing import Any


def heavy_hitters(sketch: Any, table: Any, k: int) -> Any:
    """Dense k-sparse estimate: median estimates of all d coordinates, top k by magnitude kept.

    ``sketch`` is a :class:`hpcsketch.compressors.count_sketch.CountSketch` (it holds the hashes).
    """
    idx, vals = sketch.heavy_hitters(table, k)
    out = sketch.xp.zeros(sketch.dim, dtype=sketch.dtype)
    out[idx] = vals
    return out
