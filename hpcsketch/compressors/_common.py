"""Option declarations and payload helpers shared by several compressors.

A key that two compressors read is declared once here, so it has one type and
one meaning everywhere.
"""

from __future__ import annotations

from typing import Any

from hpcsketch.config.options import Option, resolve_count
from hpcsketch.errors import BadInput

RATIO = Option("ratio", "float", 10.0, "compression ratio d / payload length (sketches and sensing operators)", min=1.0)
K = Option("k", "number_or_fraction", 0.01, "kept coordinates: a fraction of d if <= 1, else a count")
SIGNS = Option("signs", "bool", False, "random +-1 pre-multiplication before the transform (SRHT); off, Phi is exactly sqrt(d'/Q) B[rows] as CS-SGD defines it")


def count_from_ratio(dim: int, opts: dict, cap: int | None = None) -> int:
    """Payload length d / ratio (at least 1, at most ``cap`` or d)."""
    n = max(1, int(round(dim / float(opts.get("ratio", RATIO.default)))))
    return min(n, cap if cap is not None else dim)


def k_count(dim: int, opts: dict) -> int:
    """``k`` resolved against d; bad values raise BadInput naming the key."""
    k = resolve_count(opts.get("k", K.default), dim)
    if not 1 <= k <= dim:
        raise BadInput(f"k = {opts.get('k')} gives {k} coordinates; need 1..{dim} for d = {dim}", field="[compressor] k")
    return k


def pack_sparse(xp: Any, idx: Any, vals: Any) -> Any:
    """(int32 indices, float32 values) as one uint8 buffer: the bytes a sparse payload sends."""
    return xp.concatenate([idx.astype(xp.int32).view(xp.uint8), vals.astype(xp.float32).view(xp.uint8)])


def unpack_sparse(xp: Any, payload: Any) -> tuple[Any, Any]:
    if payload.shape[0] % 8:
        raise ValueError(f"sparse payload of {payload.shape[0]} bytes is not k * (4 + 4)")
    k = payload.shape[0] // 8
    return payload[: 4 * k].view(xp.int32).astype(xp.int64), payload[4 * k:].view(xp.float32)
