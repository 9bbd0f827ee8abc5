"""The compressor interface (GRACE's split: Compressor here, error-feedback memory in
``hpcsketch.compressors.memory``, communication in ``hpcsketch.comm``).

A compressor turns a flat vector ``x`` (shape ``(d,)``, an array of the run's
backend) into a *payload*: one contiguous array of the same backend, and back.

* Linear compressors (``linear = True``: count sketch, sensing operators, Gaussian
  sketch, identity, rand-k with a shared mask) return float payloads of a fixed
  shape with ``compress(a) + compress(b) == compress(a + b)``. Payloads may be
  summed over clients and ranks (one Allreduce) before ``decompress``.
* Non-linear compressors (top-k, QSGD, sign, rand-k with private masks) return a
  ``uint8`` buffer holding exactly the bytes that would cross a network
  (indices, values, packed bits, norms). Buffers are exchanged with Allgather(v)
  and decompressed one by one (``decompress_sum`` may fuse that).

``payload.nbytes`` is the size that crosses the network, by construction.

Randomness comes in two kinds:

* *shared* randomness defines the operator (hash functions, sensing rows, a
  shared rand-k mask, a fresh sketch each round). It is drawn from the seed
  given to the constructor and redrawn by :meth:`resample`; every client and
  every rank that calls ``resample(s)`` with the same ``s`` gets the same operator.
* *private* randomness (stochastic rounding, private masks) is drawn from the
  integer ``key`` passed to :meth:`compress`; the caller derives it from the job
  seed, the round and the client so results do not depend on the rank count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping, Sequence

from hpcsketch.backend import Backend
from hpcsketch.config.options import Option


class Compressor(ABC):
    """Base class. Subclasses set the class attributes and implement compress/decompress."""

    # Declared in the compressor's registry entry (hpcsketch.compressors.REGISTRY, see
    # CompressorDecl: linear, unbiased, contractive, its keys) and set on the class when
    # it is defined; these are the defaults of classes no entry names.
    kind: ClassVar[str] = ""
    linear: ClassVar[bool] = False
    unbiased: ClassVar[bool] = False
    contractive: ClassVar[bool] = False
    options: ClassVar[Sequence[Option]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from hpcsketch.compressors import REGISTRY

        REGISTRY.bind(cls)

    def __init__(self, dim: int, opts: Mapping[str, Any], backend: Backend, seed: int, dtype: Any = "float32"):
        self.dim = int(dim)
        self.opts = dict(opts)
        self.backend = backend
        self.xp = backend.xp
        self.seed = int(seed)
        self.dtype = self.xp.dtype(dtype)

    # -- shared randomness -------------------------------------------------------------
    def resample(self, seed: int) -> None:
        """Redraw the shared operator from ``seed`` (a fresh sketch for this round).

        The default does nothing: compressors without shared randomness ignore it.
        """

    # -- the two directions ------------------------------------------------------------
    @abstractmethod
    def compress(self, x: Any, key: int = 0) -> Any:
        """Payload of ``x``: float array (linear) or uint8 buffer (non-linear)."""

    @abstractmethod
    def decompress(self, payload: Any) -> Any:
        """A ``(d,)`` estimate of what was compressed (for linear: of the sum compressed)."""

    def decompress_sum(self, payloads: Sequence[Any]) -> Any:
        """Sum of the decompressed payloads (non-linear compressors may fuse this)."""
        out = self.xp.zeros(self.dim, dtype=self.dtype)
        for p in payloads:
            out += self.decompress(p)
        return out

    # -- sizes -------------------------------------------------------------------------
    def payload_nbytes(self) -> int | None:
        """Bytes of one payload when it is fixed by the options (None when data-dependent)."""
        return None

    @property
    def ratio(self) -> float:
        """Compression ratio: dense bytes / payload bytes (NaN when data-dependent)."""
        n = self.payload_nbytes()
        return float("nan") if not n else self.dim * self.dtype.itemsize / n

    def describe(self) -> dict[str, Any]:
        """What defines this compressor, for the trace's attributes."""
        return {
            "kind": self.kind,
            "linear": self.linear,
            "unbiased": self.unbiased,
            "contractive": self.contractive,
            "dim": self.dim,
            "payload_nbytes": self.payload_nbytes() or -1,
            **{k: v for k, v in self.opts.items() if isinstance(v, (int, float, str, bool))},
        }
