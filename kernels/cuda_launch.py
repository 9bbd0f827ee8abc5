"""Launching the numba-cuda kernels: on a GPU with CuPy arrays, or under numba-cuda's
simulator with the CuPy stand-in's arrays (CI).

The GPU kernels (``kernels/*_gpu.py``) are written for numba-cuda, the one source
of each kernel. On a GPU, ``numba.cuda`` takes CuPy arrays directly through
``__cuda_array_interface__`` (no copies; both use the legacy default stream). Under
``NUMBA_ENABLE_CUDASIM=1`` the simulator runs the same kernel code on the CPU
(shared memory, ``syncthreads`` and atomics emulated, one Python thread per CUDA
thread: small sizes only); the device arrays of ``hpcsketch.testing.fake_cupy``
live in host memory, so their interface pointer is handed to it as a NumPy view.
When the stand-in is in use and ``numba.cuda`` is not imported yet, the simulator
is switched on here.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from hpcsketch.kernels._dispatch import is_cupy


def _fake_device() -> bool:
    return bool(getattr(sys.modules.get("cupy"), "__hpcsketch_fake__", False))


def numba_cuda() -> Any:
    """``numba.cuda`` (the simulator when the CuPy stand-in is in use)."""
    if _fake_device() and "numba.cuda" not in sys.modules:
        import numba.core.config

        # numba read its environment when it was imported; numba-cuda uses this config.
        # (Not reload_config(): that would re-read NUMBA_NUM_THREADS, refused once threads run.)
        numba.core.config.ENABLE_CUDASIM = 1
    try:
        from numba import cuda
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("the GPU kernels need numba-cuda: pip install 'hpcsketch[gpu]' "
                          "(cupy-cuda12x and numba-cuda[cu12])") from e

    if _fake_device() and not simulating():
        raise RuntimeError("the CuPy stand-in needs numba-cuda's simulator, but numba.cuda was imported "
                           "without it: set NUMBA_ENABLE_CUDASIM=1 before it is imported")
    return cuda


def simulating() -> bool:
    """numba.cuda is imported and is the simulator."""
    mod = sys.modules.get("numba.cuda")
    return mod is not None and getattr(mod.jit, "__module__", "").startswith("numba.cuda.simulator")


class _Interface:
    __slots__ = ("__array_interface__",)

    def __init__(self, cai: dict[str, Any]) -> None:
        self.__array_interface__ = {"shape": tuple(cai["shape"]), "typestr": cai["typestr"],
                                    "data": tuple(cai["data"]), "strides": cai.get("strides"), "version": 3}


def device_arg(a: Any) -> Any:
    """A kernel argument: device arrays as they are on a GPU; under the simulator, a
    NumPy view of the (host) memory behind the stand-in's device array."""
    if simulating() and is_cupy(a):
        return np.asarray(_Interface(a.__cuda_array_interface__))
    return a


def launch(kernel: Any, grid: int, block: int, args: tuple, shared_mem: int = 0) -> None:
    """``kernel[grid, block, 0, shared_mem](*args)`` with device arrays passed as above."""
    if grid <= 0:
        return
    kernel[int(grid), int(block), 0, int(shared_mem)](*(device_arg(a) for a in args))
