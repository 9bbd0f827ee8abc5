"""Moving client payloads between ranks: the one place that decides Allreduce vs Allgather(v).

* Linear payloads (sketches, sensing measurements, dense vectors, shared-mask
  rand-k) are summed over a rank's clients first, then cross MPI in a single
  Allreduce per round; ``decompress`` of the sum is the sum of ``decompress``.
* Non-linear payloads (top-k, QSGD, sign, private rand-k) cannot be summed
  compressed. A rank frames its clients' uint8 buffers as
  ``[count, size_1..size_count (int64), bytes...]`` and one Allgatherv moves
  every frame; each rank then decompresses and sums every client's payload.
  The frame header is counted in the MPI bytes, as it crosses the wire.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def frame(xp: Any, payloads: Sequence[Any]) -> Any:
    """Concatenate uint8 payloads behind a header of their sizes."""
    sizes = np.array([len(payloads), *(int(p.size) for p in payloads)], dtype=np.int64)
    header = xp.asarray(sizes.view(np.uint8))
    if not payloads:
        return header
    return xp.concatenate([header, *(p.reshape(-1).view(xp.uint8) for p in payloads)])


def unframe(buf: Any, counts: Sequence[int]) -> list[Any]:
    """Split an Allgatherv result (one frame per rank) back into client payloads, in rank order."""
    out = []
    start = 0
    for c in counts:
        f = buf[start : start + c]
        start += c
        n = int(np.frombuffer(_host_bytes(f[:8]), dtype=np.int64)[0])
        sizes = np.frombuffer(_host_bytes(f[8 : 8 * (n + 1)]), dtype=np.int64)
        pos = 8 * (n + 1)
        for s in sizes:
            out.append(f[pos : pos + int(s)])
            pos += int(s)
    return out


def _host_bytes(a: Any) -> bytes:
    if isinstance(a, np.ndarray):
        return a.tobytes()
    return a.get().tobytes()


def sum_payloads(comm: Any, compressor: Any, payloads: Sequence[Any], timer: Any) -> Any:
    """Sum over every sampled client (all ranks) of the decompressed payloads.

    ``payloads`` are this rank's clients' payloads (possibly none). The result is
    the same on every rank. Times the communicate and decompress phases.
    """
    if compressor.linear:
        acc = sum_linear(comm, compressor, payloads, timer)
        with timer.phase("decompress"):
            return compressor.decompress(acc)
    with timer.phase("communicate"):
        gathered, counts = comm.allgatherv(frame(comm.backend.xp, payloads))
    with timer.phase("decompress"):
        return compressor.decompress_sum(unframe(gathered, counts))


def sum_linear(comm: Any, compressor: Any, payloads: Sequence[Any], timer: Any) -> Any:
    """Sum of linear payloads over every sampled client, still compressed (one Allreduce)."""
    xp = comm.backend.xp
    with timer.phase("compress"):
        if payloads:
            acc = payloads[0].copy()
            for p in payloads[1:]:
                acc += p
        else:  # no sampled client on this rank: it still joins the Allreduce
            acc = xp.zeros_like(compressor.compress(xp.zeros(compressor.dim, dtype=compressor.dtype)))
    with timer.phase("communicate"):
        comm.allreduce(acc)
    return acc
