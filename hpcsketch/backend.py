"""One array module per run: NumPy on the CPU, CuPy on a GPU.

Everything above the kernels receives a :class:`Backend` and uses ``backend.xp``
instead of importing numpy or cupy directly, so the same algorithm code runs on
both. Torch tensors are shared with the array module through DLPack (GPU) or
``Tensor.numpy()`` (CPU): no copies.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from hpcsketch.errors import BadInput


def cupy_module() -> ModuleType | None:
    """CuPy if it imports *and* sees a working GPU, else None.

    CuPy installs without a GPU and fails at first use, so import alone proves nothing.
    ``HPCSKETCH_FAKE_CUPY=1`` gives the test stand-in instead (``hpcsketch.testing.fake_cupy``:
    host memory behind a CuPy-like device array type), so CI runs the device code paths.
    """
    if os.environ.get("HPCSKETCH_FAKE_CUPY") == "1":
        from hpcsketch.testing import fake_cupy

        return fake_cupy.install()
    try:
        import cupy  # type: ignore[import-not-found]
    except Exception:
        return None
    try:
        if not cupy.is_available():
            return None
        cupy.cuda.runtime.getDeviceCount()
    except Exception:
        return None
    return cupy


def gpu_count() -> int:
    cp = cupy_module()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


@dataclass
class Backend:
    """The array module of a run and the device it lives on."""

    name: str  # "numpy" | "cupy"
    xp: ModuleType
    device: int | None = None
    cuda_aware_mpi: bool = False
    cuda_aware_how: str = "not applicable (CPU)"
    _torch_device: Any = field(default=None, repr=False)

    @property
    def is_gpu(self) -> bool:
        return self.name == "cupy"

    @property
    def is_fake_device(self) -> bool:
        """The CuPy test stand-in (host memory; torch stays on the CPU)."""
        return bool(getattr(self.xp, "__hpcsketch_fake__", False))

    # -- conversions -------------------------------------------------------------
    def asnumpy(self, a: Any) -> np.ndarray:
        if self.is_gpu and not isinstance(a, np.ndarray):
            return self.xp.asnumpy(a)
        return np.asarray(a)

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(a, dtype=dtype)

    def synchronize(self) -> None:
        """Wait for queued device work (a CuPy buffer must be ready before MPI reads it)."""
        if self.is_gpu:
            self.xp.cuda.get_current_stream().synchronize()

    # -- torch interop -----------------------------------------------------------
    @property
    def torch_device(self) -> Any:
        if self._torch_device is None:
            import torch

            on_gpu = self.is_gpu and not self.is_fake_device
            self._torch_device = torch.device(f"cuda:{self.device}") if on_gpu else torch.device("cpu")
        return self._torch_device

    def from_torch(self, t: Any) -> Any:
        """A view of a torch tensor as an array of this backend (shares memory)."""
        t = t.detach()
        if self.is_gpu:
            return self.xp.from_dlpack(t)
        return t.numpy()

    def to_torch(self, a: Any) -> Any:
        """A torch view of an array of this backend (shares memory)."""
        import torch

        if self.is_gpu:
            return torch.from_dlpack(a)
        return torch.from_numpy(a)

    # -- timing ------------------------------------------------------------------
    def timer(self) -> "PhaseClock":
        return CudaEventClock(self.xp) if self.is_gpu else HostClock()


class PhaseClock:
    """Marks the start and end of a phase; ``elapsed()`` may be read later (lazily on GPU)."""

    def start(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def elapsed(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError


class HostClock(PhaseClock):
    __slots__ = ("_t0", "_t1")

    def __init__(self) -> None:
        self._t0 = self._t1 = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        self._t1 = time.perf_counter()

    def elapsed(self) -> float:
        return self._t1 - self._t0


class CudaEventClock(PhaseClock):
    """CUDA events: recording does not synchronise, so timing does not change what is timed."""

    __slots__ = ("_e0", "_e1")

    def __init__(self, cp: ModuleType) -> None:
        self._e0 = cp.cuda.Event()
        self._e1 = cp.cuda.Event()

    def start(self) -> None:
        self._e0.record()

    def stop(self) -> None:
        self._e1.record()

    def elapsed(self) -> float:
        import cupy

        self._e1.synchronize()
        return cupy.cuda.get_elapsed_time(self._e0, self._e1) / 1e3


def select_backend(requested: str, local_rank: int = 0, local_size: int = 1) -> Backend:
    """Resolve ``auto | numpy | cupy`` to a :class:`Backend`.

    With CuPy and GPUs, local rank r takes GPU ``r % ngpus`` (one GPU per local rank
    when there are as many GPUs as ranks on the node).
    """
    if requested not in ("auto", "numpy", "cupy"):
        raise BadInput(f"backend {requested!r} is not one of auto, numpy, cupy", field="[run] backend")
    cp = None if requested == "numpy" else cupy_module()
    if requested == "cupy" and cp is None:
        raise BadInput(
            "backend 'cupy' asked for, but CuPy is not installed or sees no GPU "
            "(install the gpu extra, or use backend = \"auto\" or \"numpy\")",
            field="[run] backend",
        )
    if cp is None:
        return Backend("numpy", np)
    ngpu = cp.cuda.runtime.getDeviceCount()
    device = local_rank % ngpu
    cp.cuda.Device(device).use()
    if not getattr(cp, "__hpcsketch_fake__", False):  # the stand-in keeps torch on the CPU
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.set_device(device)
        except Exception:
            pass
    return Backend("cupy", cp, device=device)


def limit_cpu_threads(threads: int) -> None:
    """One compute thread per rank by default: several ranks share the cores of a node."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except Exception:
        pass
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]

        threadpool_limits(threads)
    except Exception:
        pass
