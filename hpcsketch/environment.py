"""What the run ran on: MPI library, CUDA-awareness, devices, versions."""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from mpi4py import MPI

from hpcsketch import __version__


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "hpcsketch": __version__}
    for name in ("numpy", "torch", "mpi4py", "h5py", "scipy", "numba"):
        out[name] = package_version(name)
    cupy = ""
    for dist in ("cupy", "cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x"):
        cupy = package_version(dist)
        if cupy:
            break
    out["cupy"] = cupy
    return out


def git_commit() -> str:
    """Commit of the hpcsketch checkout this code runs from ('' when installed from a wheel)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return ""
    try:
        res = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        commit = res.stdout.strip()
        if commit:
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return ""


def mpi_library() -> str:
    return MPI.Get_library_version().strip().splitlines()[0]


def mpi_vendor() -> str:
    name, ver = MPI.get_vendor()
    return f"{name} {'.'.join(map(str, ver))}"


def _libmpi_symbol(name: str) -> Any:
    handles = []
    try:
        handles.append(ctypes.CDLL(None))
    except OSError:
        pass
    try:
        handles.append(ctypes.CDLL(MPI.__file__))
    except OSError:
        pass
    for h in handles:
        try:
            return getattr(h, name)
        except AttributeError:
            continue
    return None


def cuda_aware_mpi() -> tuple[bool, str]:
    """Whether MPI takes device pointers, and how that was decided.

    ``HPCSKETCH_CUDA_AWARE=0|1`` overrides. Otherwise ask the library (Open MPI's
    MPIX_Query_cuda_support, MPICH's MPIX_GPU_query_support) and fall back to the
    environment variables MVAPICH2 and Cray MPICH use to switch GPU support on.
    """
    env = os.environ.get("HPCSKETCH_CUDA_AWARE")
    if env in ("0", "1"):
        return env == "1", "HPCSKETCH_CUDA_AWARE"
    f = _libmpi_symbol("MPIX_Query_cuda_support")
    if f is not None:
        try:
            f.restype = ctypes.c_int
            return bool(f()), "MPIX_Query_cuda_support"
        except Exception:
            pass
    f = _libmpi_symbol("MPIX_GPU_query_support")
    if f is not None:
        try:
            out = ctypes.c_int(0)
            # MPIX_GPU_SUPPORT_CUDA is 0 in MPICH's mpi_proto.h
            if f(ctypes.c_int(0), ctypes.byref(out)) == 0:
                return bool(out.value), "MPIX_GPU_query_support"
        except Exception:
            pass
    if os.environ.get("MV2_USE_CUDA") == "1":
        return True, "MV2_USE_CUDA"
    if os.environ.get("MPICH_GPU_SUPPORT_ENABLED") == "1":
        return True, "MPICH_GPU_SUPPORT_ENABLED"
    return False, "no CUDA support reported by the MPI library"


def device_name(backend: Any) -> str:
    if not backend.is_gpu:
        return ""
    try:
        props = backend.xp.cuda.runtime.getDeviceProperties(backend.device)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        return f"cuda:{backend.device}"


def launcher_name() -> str:
    from hpcsketch.launchers import name

    return name()


def local_rank_and_size(comm: MPI.Comm) -> tuple[int, int]:
    """Rank and size among the ranks on this node (for GPU selection)."""
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return local.Get_rank(), local.Get_size()
    finally:
        local.Free()


def hostname() -> str:
    return socket.gethostname()
