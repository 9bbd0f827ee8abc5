"""Compile the GPU kernels for sm_80 and sm_90 without a GPU (CI).

* CUDA C (``kernels/cuda/*.cu`` and string sources given to ``RawKernel`` /
  ``RawModule`` in ``kernels/`` and ``hpcsketch/``): NVRTC from the
  ``nvidia-cuda-nvrtc-cu12`` wheel through ctypes, to PTX (``compute_80``,
  ``compute_90``) and cubin (``sm_80``, ``sm_90``); a failure raises
  :class:`CompileError` with NVRTC's log.
* numba-cuda kernels (each ``kernels/*_gpu.py`` lists its ``KERNELS``): to PTX
  through NVVM (``numba.cuda.compile_ptx``; libnvvm from ``nvidia-cuda-nvcc-cu12``),
  then to cubin with that wheel's ``ptxas``. The simulator does not type-check a
  kernel; this does. It needs a process where ``numba.cuda`` is the real target,
  so :func:`compile_numba_kernels_subprocess` runs it in a child
  (``python -m hpcsketch.testing.cuda_compile``).
"""

from __future__ import annotations

import ast
import ctypes
import functools
import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ARCHS = ("80", "90")
_KERNELS_DIR = Path(importlib.import_module("hpcsketch.kernels").__file__).resolve().parent
# every kernels/*_gpu.py: a new GPU kernel module is compiled without anyone listing it here
GPU_KERNEL_MODULES = tuple(f"hpcsketch.kernels.{p.stem}" for p in sorted(_KERNELS_DIR.glob("*_gpu.py")))
_ROOT = Path(__file__).resolve().parents[2]


class CompileError(RuntimeError):
    """A kernel did not compile; ``log`` holds the compiler's messages."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message + ("\n" + log if log else ""))
        self.log = log


def _wheel_dir(package: str) -> Path | None:
    try:
        mod = importlib.import_module(package)
    except ImportError:
        return None
    paths = list(getattr(mod, "__path__", []))
    return Path(paths[0]) if paths else None


@functools.lru_cache(maxsize=None)
def _nvrtc() -> Any:
    d = _wheel_dir("nvidia.cuda_nvrtc")
    candidates = sorted((d / "lib").glob("libnvrtc.so*")) if d else []
    candidates = [c for c in candidates if "alt" not in c.name and "builtins" not in c.name]
    for c in candidates:
        try:
            lib = ctypes.CDLL(str(c))
        except OSError:
            continue
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        return lib
    return None


def nvrtc_available() -> bool:
    return _nvrtc() is not None


def nvrtc_version() -> tuple[int, int]:
    lib = _nvrtc()
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def nvrtc_compile(source: str, arch: str = "compute_80", name: str = "kernel.cu",
                  options: tuple[str, ...] = ()) -> bytes:
    """PTX (``compute_XX``) or cubin (``sm_XX``) of a CUDA C source; CompileError with the log."""
    lib = _nvrtc()
    if lib is None:
        raise RuntimeError("NVRTC is not installed (pip install nvidia-cuda-nvrtc-cu12)")
    prog = ctypes.c_void_p()
    _check(lib, lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None),
           "nvrtcCreateProgram")
    try:
        opts = [f"--gpu-architecture={arch}", *options]
        argv = (ctypes.c_char_p * len(opts))(*(o.encode() for o in opts))
        res = lib.nvrtcCompileProgram(prog, len(opts), argv)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, buf)
        log = buf.value.decode(errors="replace")
        if res != 0:
            raise CompileError(f"{name} ({arch}): {lib.nvrtcGetErrorString(res).decode()}", log)
        kind = "CUBIN" if arch.startswith("sm_") else "PTX"
        _check(lib, getattr(lib, f"nvrtcGet{kind}Size")(prog, ctypes.byref(size)), f"nvrtcGet{kind}Size")
        out = ctypes.create_string_buffer(size.value)
        _check(lib, getattr(lib, f"nvrtcGet{kind}")(prog, out), f"nvrtcGet{kind}")
        return out.raw
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def _check(lib: Any, res: int, what: str) -> None:
    if res != 0:
        raise CompileError(f"{what}: {lib.nvrtcGetErrorString(res).decode()}")


# -- which CUDA C sources there are ---------------------------------------------------------------
_SOURCE_CALLS = {"RawKernel", "RawModule", "ElementwiseKernel", "ReductionKernel"}


def cuda_c_sources(root: Path = _ROOT) -> list[tuple[str, str, str]]:
    """(label, kind, source) of every CUDA C source: ``kind`` is "file", "RawKernel" or
    "RawModule" (full sources NVRTC compiles) or "ElementwiseKernel"/"ReductionKernel"
    (fragments: reported, so that a test can insist someone teaches this check to
    compile them)."""
    found: list[tuple[str, str, str]] = []
    for f in sorted((root / "kernels").rglob("*.cu")):
        found.append((str(f.relative_to(root)), "file", f.read_text()))
    for sub in ("kernels", "hpcsketch"):
        for f in sorted((root / sub).rglob("*.py")):
            if "testing" in f.parts:
                continue
            try:
                tree = ast.parse(f.read_text())
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                fn = node.func
                name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                if name not in _SOURCE_CALLS:
                    continue
                args = list(node.args) + [k.value for k in node.keywords if k.arg == "code"]
                code = next((a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                             and ("__global__" in a.value or name in ("ElementwiseKernel", "ReductionKernel"))),
                            None)
                label = f"{f.relative_to(root)}:{node.lineno}"
                found.append((label, name, code if code is not None else ""))
    return found


# -- numba-cuda kernels -----------------------------------------------------------------------------
def _ptxas() -> Path | None:
    d = _wheel_dir("nvidia.cuda_nvcc")
    p = d / "bin" / "ptxas" if d else None
    return p if p is not None and p.exists() else None


def ptxas(ptx: str, arch: str, timeout: float = 120) -> bytes:
    """Assemble PTX to a cubin for ``sm_XX`` with the wheel's ptxas; CompileError with its output."""
    exe = _ptxas()
    if exe is None:
        raise RuntimeError("ptxas is not installed (pip install nvidia-cuda-nvcc-cu12)")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "k.ptx", Path(tmp) / "k.cubin"
        src.write_text(ptx)
        res = subprocess.run([str(exe), f"-arch={arch}", str(src), "-o", str(out)],
                             capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise CompileError(f"ptxas -arch={arch} failed", res.stdout + res.stderr)
        return out.read_bytes()


def compile_numba_kernels(modules: tuple[str, ...] = GPU_KERNEL_MODULES, archs: tuple[str, ...] = ARCHS,
                          cubin: bool = True) -> list[dict[str, Any]]:
    """Compile every kernel the modules list, for every arch: one record per (kernel, arch)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" and "numba.cuda" in sys.modules:
        raise RuntimeError("compiling needs the real numba.cuda target, not the simulator")
    from numba import cuda

    records = []
    for modname in modules:
        mod = importlib.import_module(modname)
        mod.bind(cuda)
        for name, fn, sig in mod.KERNELS:
            for arch in archs:
                rec: dict[str, Any] = {"module": modname, "kernel": name, "arch": arch, "ok": True}
                try:
                    ptx, _ = cuda.compile_ptx(fn, sig, cc=(int(arch[0]), int(arch[1:])))
                    rec["ptx_target"] = next((ln.split()[1] for ln in ptx.splitlines() if ln.startswith(".target")), "")
                    if cubin:
                        rec["cubin_bytes"] = len(ptxas(ptx, f"sm_{arch}"))
                except Exception as e:  # noqa: BLE001 - reported, with the compiler's message
                    rec.update(ok=False, error=f"{type(e).__name__}: {e}")
                records.append(rec)
    return records


def compile_numba_kernels_subprocess(modules: tuple[str, ...] = GPU_KERNEL_MODULES, archs: tuple[str, ...] = ARCHS,
                                     timeout: float = 300) -> list[dict[str, Any]]:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    env.pop("HPCSKETCH_FAKE_CUPY", None)
    res = subprocess.run([sys.executable, "-m", "hpcsketch.testing.cuda_compile", "--archs", *archs,
                          "--modules", *modules], capture_output=True, text=True, timeout=timeout, env=env)
    if res.returncode != 0:
        raise CompileError("numba-cuda compile run failed", res.stdout[-4000:] + res.stderr[-4000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="compile hpcsketch's GPU kernels for sm_80/sm_90 (no GPU needed)")
    p.add_argument("--archs", nargs="+", default=list(ARCHS))
    p.add_argument("--modules", nargs="+", default=list(GPU_KERNEL_MODULES))
    p.add_argument("--no-cubin", action="store_true")
    a = p.parse_args(argv)
    recs = compile_numba_kernels(tuple(a.modules), tuple(a.archs), cubin=not a.no_cubin)
    print(json.dumps(recs))
    return 0 if all(r["ok"] for r in recs) else 1


if __name__ == "__main__":
    sys.exit(main())
