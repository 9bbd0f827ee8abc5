"""Subsampled orthonormal transforms as sensing operators (compressed sensing, SRHT).

``Phi = sqrt(d'/Q) * B[Sigma] (D)``: B the orthonormal transform of size d' (x
zero-padded from d to d'), Sigma the Q row indices drawn from the seed, D an
optional random +-1 diagonal (``signs``). Since ``sum over Sigma`` of the chosen
rows' projectors has expectation (Q/d') I, ``E[Phi^T Phi] = I`` over the row draw:
that is what the factor sqrt(d'/Q) is for. Phi's rows are orthogonal with squared
norm d'/Q. Only the row indices and the seed define Phi: ``forward`` and
``adjoint`` are a fast transform each, never a dense matrix.

A single host (NumPy) vector takes a fast path that allocates nothing per call
beyond the result: the signs (+-1 as int8) are applied while loading a transform
buffer kept on the operator, and the rows are gathered or scattered with the
scale in one numba loop each. ``forward``/``adjoint`` also write into ``out=``,
and ``forward(x, support=idx)`` reads x only at idx (FIHT's sparse vectors).
Batches and CuPy arrays take the general array path.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from hpcsketch.compressors._common import count_from_ratio
from hpcsketch.compressors.options import SIGNS
from hpcsketch.compressors.base import Compressor
from hpcsketch.kernels.vector import expand_scaled, gather_scaled, load_at, multiply_into


class SubsampledTransform(Compressor):
    """Base for the subsampled WHT and DCT: subclasses set ``padded_dim`` and ``_transform``."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.padded = self.padded_dim(self.dim)
        self.q = count_from_ratio(self.dim, self.opts, cap=self.padded)
        self.use_signs = bool(self.opts.get("signs", SIGNS.default))
        self.scale = math.sqrt(self.padded / self.q)
        self.resample(self.seed)

    @staticmethod
    def padded_dim(d: int) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def _transform(self, x: Any, inverse: bool) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def resample(self, seed: int) -> None:
        self.seed = int(seed)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, 0x5E45])))
        rows = np.sort(rng.choice(self.padded, size=self.q, replace=False)).astype(np.int64)
        self.rows = self.xp.asarray(rows)
        draw = (1 - 2 * rng.integers(0, 2, size=self.dim)).astype(np.int8) if self.use_signs else None
        self.signs = None if draw is None else self.xp.asarray(draw.astype(self.dtype))
        self._host_signs = draw  # the host fast path reads the +-1 as int8: a quarter of the bytes

    def forward(self, x: Any, out: Any = None, support: Any = None) -> Any:
        """Phi x: (..., d) -> (..., Q); written into ``out`` (shape (..., Q), the
        operator's dtype) when given, else a new array.

        ``support``: optional indices (1-D x) to restrict x to: Phi applied to x with
        every entry off the support taken as zero. The host path then reads x there
        only: O(len(support)) work besides the transform.
        """
        if self._host_vector(x, self.dim):
            y = self._load_transform(x, support)
            if out is None:
                out = np.empty(self.q, dtype=self.dtype)
            return gather_scaled(out, y, self.rows, self.scale)
        if support is not None:
            x = self._restrict(x, support)
        if self.signs is not None:
            x = x * self.signs
        y = self._transform(self._pad(x), inverse=False)
        return self._result((y[..., self.rows] * self.scale).astype(self.dtype, copy=False), out)

    def adjoint(self, y: Any, out: Any = None) -> Any:
        """Phi^T y: (..., Q) -> (..., d); written into ``out`` (shape (..., d), the
        operator's dtype) when given, else a new array."""
        if self._host_vector(y, self.q):
            if out is None:
                out = np.empty(self.dim, dtype=self.dtype)
            x = self._expand_transform(y, out if self.padded == self.dim else self._work())
            if x is not out:
                out[...] = x[: self.dim]
            return out
        z = self.xp.zeros(y.shape[:-1] + (self.padded,), dtype=self.dtype)
        z[..., self.rows] = y * self.scale
        x = self._transform(z, inverse=True)[..., : self.dim]
        if self.signs is not None:
            x = x * self.signs
        return self._result(x.astype(self.dtype, copy=False), out)

    def split_signs(self) -> tuple["SubsampledTransform", Any]:
        """(Psi, D) with Phi = Psi D: Psi this operator without the random signs (a view
        sharing rows, scale and buffers), D the +-1 signs (None without them).
        Recovery that commutes with D (hard thresholding does) can run on Psi and flip
        its result once, skipping a sign pass per product."""
        if self.signs is None:
            return self, None
        if self.xp is np:
            self._work()  # created before the copy, so that the view shares it
        view = copy.copy(self)
        view.signs = view._host_signs = None
        return view, self.signs

    # -- the host fast path: one C-contiguous float vector, no per-call allocations --
    def _host_vector(self, v: Any, n: int) -> bool:
        return (self.xp is np and isinstance(v, np.ndarray) and v.shape == (n,) and v.dtype.kind == "f"
                and v.flags.c_contiguous)

    def _load_transform(self, x: np.ndarray, support: Any = None) -> np.ndarray:
        """B pad(D x) in a (d',) buffer (the operator's own, or a new one for the DCT)."""
        buf = self._work()
        if support is not None:
            load_at(buf, np.ascontiguousarray(support, dtype=np.int64), x, self._host_signs)
        elif self.signs is not None:
            multiply_into(buf[: self.dim], x, self._host_signs)
            buf[self.dim:] = 0
        else:
            np.copyto(buf[: self.dim], x, casting="same_kind")
            buf[self.dim:] = 0
        return self._transform(buf, inverse=False)

    def _expand_transform(self, y: np.ndarray, buf: np.ndarray) -> np.ndarray:
        """D (B^T z)[:d] in its first d entries, z = the scaled y at the rows (0 elsewhere);
        computed in ``buf`` ((d',)) or returned as a new array."""
        x = self._transform(expand_scaled(buf, self.rows, y, self.scale), inverse=True)
        if self.signs is not None:
            multiply_into(x[: self.dim], x[: self.dim], self._host_signs)
        return x

    def _work(self) -> np.ndarray:
        """The (d',) transform buffer of the host fast path (reused by every call)."""
        buf = getattr(self, "_buf", None)
        if buf is None or buf.shape[0] != self.padded or buf.dtype != self.dtype:
            buf = self._buf = np.empty(self.padded, dtype=self.dtype)
        return buf

    @staticmethod
    def _result(value: Any, out: Any) -> Any:
        if out is None:
            return value
        out[...] = value
        return out

    def _restrict(self, x: Any, support: Any) -> Any:
        kept = self.xp.zeros_like(x)
        idx = self.xp.asarray(support)
        kept[..., idx] = x[..., idx]
        return kept

    def _pad(self, x: Any) -> Any:
        if x.shape[-1] == self.padded:
            return x.astype(self.dtype, copy=True)
        z = self.xp.zeros(x.shape[:-1] + (self.padded,), dtype=self.dtype)
        z[..., : self.dim] = x
        return z

    def compress(self, x: Any, key: int = 0) -> Any:
        return self.forward(x)

    def decompress(self, payload: Any) -> Any:
        return self.adjoint(payload)

    def payload_nbytes(self) -> int:
        return self.q * self.dtype.itemsize
