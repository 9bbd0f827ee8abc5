"""Moving what clients send between ranks: the one place that decides Allreduce vs Allgather(v).

:class:`Uplink` collects what this rank's sampled clients send in a round and
delivers the sum over every sampled client of every rank:

* Linear compressors (sketches, sensing operators, dense, shared-mask rand-k):
  the clients' vectors are summed on the rank first and compressed once
  (C(a) + C(b) = C(a + b)), so one compress and one Allreduce per rank and
  round; ``decompress`` of the sum is the sum of ``decompress``.
* Non-linear compressors (top-k, QSGD, sign, private rand-k): each client's
  vector is compressed on its own; a rank frames its clients' uint8 buffers as
  ``[count, size_1..size_count (int64), bytes...]`` and one Allgatherv moves
  every frame; each rank decompresses and sums every client's payload. The
  frame header crosses the wire, so it is counted in the MPI bytes.

Uplink bytes (the federated view) are always the per-client payload sizes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def frame(xp: Any, payloads: Sequence[Any]) -> Any:
    """Concatenate uint8 payloads behind a header of their sizes."""
    sizes = np.array([len(payloads), *(int(p.nbytes) for p in payloads)], dtype=np.int64)
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


class Uplink:
    """One round's upload from this rank's clients, and its sum over all sampled clients."""

    def __init__(self, alg: Any, compressor: Any, t: int):
        self.alg = alg
        self.C = compressor
        self.t = t
        self.xp = alg.xp
        self.timer = alg.timer
        self.linear = bool(compressor.linear)
        self.clients = 0
        self.nbytes = 0
        self.dense_sum: Any = None  # linear only: the sum of this rank's client vectors, uncompressed
        self._payload: Any = None
        self._payloads: list[Any] = []

    def add(self, v: Any, client: int) -> None:
        """Client ``client`` sends (the compression of) ``v``. ``v`` may be reused afterwards."""
        self.clients += 1
        if self.linear:
            # summed now, compressed once per rank in reduce()
            if self.dense_sum is None:
                self.dense_sum = v.astype(self.C.dtype, copy=True)
            else:
                self.dense_sum += v
            self.nbytes += int(self.C.payload_nbytes())
            return
        with self.timer.phase("compress"):
            p = self.C.compress(v, self.alg.ctx.key("compress", self.t, int(client)))
        self._payloads.append(p)
        self.nbytes += int(p.nbytes)

    def add_payload(self, p: Any) -> None:
        """A payload the client compressed itself (e.g. to update its own error-feedback state)."""
        self.clients += 1
        self.nbytes += int(p.nbytes)
        if self.linear:
            if self._payload is None:
                self._payload = p.copy()
            else:
                self._payload += p
        else:
            self._payloads.append(p)

    def reduce_compressed(self) -> Any:
        """Linear only: the sum over all sampled clients, still compressed (one Allreduce)."""
        assert self.linear, "only linear payloads can be summed compressed"
        self.alg.record_traffic(self.clients, self.nbytes)
        with self.timer.phase("compress"):
            acc = self._payload
            if self.dense_sum is not None:
                p = self.C.compress(self.dense_sum)
                acc = p if acc is None else acc + p
            if acc is None:  # no sampled client here: the rank still joins the Allreduce
                acc = self.C.compress(self.xp.zeros(self.C.dim, dtype=self.C.dtype))
        with self.timer.phase("communicate"):
            self.alg.comm.allreduce(acc)
        return acc

    def reduce(self) -> Any:
        """The sum over every sampled client (all ranks) of the decompressed payloads, (d,)."""
        if self.linear:
            acc = self.reduce_compressed()
            with self.timer.phase("decompress"):
                return self.C.decompress(acc)
        self.alg.record_traffic(self.clients, self.nbytes)
        with self.timer.phase("communicate"):
            gathered, counts = self.alg.comm.allgatherv(frame(self.xp, self._payloads))
        with self.timer.phase("decompress"):
            return self.C.decompress_sum(unframe(gathered, counts))
