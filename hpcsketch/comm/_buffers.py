"""Getting array buffers to MPI: stream sync for CuPy, host staging when MPI is not CUDA-aware."""

from __future__ import annotations

from typing import Any

import numpy as np
from mpi4py import MPI

_MPI_TYPES = {
    np.dtype("float32"): MPI.FLOAT,
    np.dtype("float64"): MPI.DOUBLE,
    np.dtype("int32"): MPI.INT32_T,
    np.dtype("int64"): MPI.INT64_T,
    np.dtype("uint8"): MPI.BYTE,
    np.dtype("uint32"): MPI.UINT32_T,
    np.dtype("uint64"): MPI.UINT64_T,
    np.dtype("int8"): MPI.INT8_T,
    np.dtype("float16"): MPI.BYTE,
}

OPS = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}


def mpi_type(dtype: Any) -> MPI.Datatype:
    try:
        return _MPI_TYPES[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"no MPI type for {dtype}") from None


def is_device_array(a: Any) -> bool:
    return not isinstance(a, np.ndarray) and hasattr(a, "__cuda_array_interface__")


class Stager:
    """Pinned host buffers reused per (size, dtype) for MPI libraries without CUDA support."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, int], np.ndarray] = {}

    def host(self, like: Any, slot: int = 0) -> np.ndarray:
        key = (int(like.size), str(like.dtype), slot)
        buf = self._cache.get(key)
        if buf is None:
            import cupy

            mem = cupy.cuda.alloc_pinned_memory(like.nbytes)
            buf = np.frombuffer(mem, like.dtype, like.size)
            self._cache[key] = buf
        return buf

    def to_host(self, a: Any, slot: int = 0) -> np.ndarray:
        h = self.host(a, slot)
        a.get(out=h)
        return h

    @staticmethod
    def to_device(h: np.ndarray, out: Any) -> None:
        out.set(h)
