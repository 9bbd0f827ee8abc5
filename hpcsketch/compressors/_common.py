"""Payload helpers shared by several compressors (their keys are declared in
:mod:`hpcsketch.compressors.options`)."""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors.options import K, RATIO
from hpcsketch.config.options import resolve_count
from hpcsketch.errors import BadInput


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
