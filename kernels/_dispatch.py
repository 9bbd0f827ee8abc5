"""Array-type dispatch shared by the kernels: NumPy arrays take the CPU path,
CuPy arrays the GPU path. CuPy is imported only when a CuPy array is handed in."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

Array = Any  # numpy.ndarray | cupy.ndarray


def is_cupy(x: Any) -> bool:
    """True for a cupy.ndarray (checked without importing CuPy)."""
    cp = sys.modules.get("cupy")
    return cp is not None and isinstance(x, cp.ndarray)


def array_module(x: Any) -> ModuleType:
    if is_cupy(x):
        return sys.modules["cupy"]
    return np


@functools.lru_cache(maxsize=None)
def cuda_module(name: str) -> Any:
    """The compiled ``kernels/cuda/<name>.cu`` as a cupy.RawModule (compiled once per process)."""
    import cupy

    source = (Path(__file__).parent / "cuda" / f"{name}.cu").read_text()
    return cupy.RawModule(code=source, options=("-std=c++14",))


def ctype_suffix(dtype: Any) -> str:
    """Kernel-name suffix for a float dtype (the .cu files define _f32 and _f64 variants)."""
    dt = np.dtype(dtype)
    if dt == np.float32:
        return "f32"
    if dt == np.float64:
        return "f64"
    raise TypeError(f"expected float32 or float64, got {dt}")


def float_dtype(dtype: Any) -> np.dtype:
    """float32/float64 stay; anything else (ints, float16) computes in float64."""
    dt = np.dtype(dtype)
    return dt if dt in (np.float32, np.float64) else np.dtype(np.float64)


def weak_scalar(dtype: Any, value: float) -> Any:
    """``value`` typed as NumPy computes ``array * value`` with a Python float (NEP 50:
    the array's float dtype; float64 for integer arrays), for kernels to match it bit for bit."""
    return np.result_type(dtype, 1.0).type(value)
