"""A CuPy stand-in for machines without a GPU: the CuPy glue runs in CI.

``HPCSKETCH_FAKE_CUPY=1`` makes :func:`hpcsketch.backend.cupy_module` return this
module (installed as ``cupy``, ``cupyx`` and ``cupyx.scipy.fft`` in ``sys.modules``,
so ``import cupy`` inside the kernels finds it too). Arrays live in host memory,
but behave as CuPy's do where it matters for finding bugs:

* :class:`ndarray` is a distinct type (not a ``numpy.ndarray`` subclass);
  ``numpy.asarray(a)`` raises ``TypeError`` as CuPy's ``__array__`` does, and mixing
  a NumPy array into a device operation (``d + h``, ``cupy.concatenate([d, h])``)
  raises ``TypeError``; ``d[...] = h`` is refused except for the whole-array copy
  ``d[:] = h`` that CuPy allows;
* host copies only through ``a.get()``, ``cupy.asnumpy``, ``a.set(h)``,
  ``cupy.asarray(h)`` and scalar reads (``float(a)``, ``int(a)``, ``a.item()``), each
  counted in :data:`transfers` (events and bytes per direction), so a test can
  assert how many host<->device copies a round makes;
* reductions return 0-d device arrays, as CuPy's do;
* ``__cuda_array_interface__`` is exposed (the "device pointer" is the host
  buffer), so the comm layer sees a device buffer and CUDA-aware MPI (any MPI,
  given this pointer) or the staged path through ``cupy.cuda.alloc_pinned_memory``
  both run; numba-cuda kernels launched under ``NUMBA_ENABLE_CUDASIM=1`` read and
  write the same memory (see ``kernels/cuda_launch.py``);
* ``cupy.cuda``: device count (``HPCSKETCH_FAKE_CUPY_GPUS``, default 1), ``Device(i).use()``,
  the current device, streams and events (host clocks), pinned memory.

What it does not do: run CuPy's own kernels (NumPy computes instead: ``cupyx.scatter_add``
is ``numpy.add.at``, ``cupy.partition`` is ``numpy.partition``), CUDA C
(``RawModule``/``RawKernel`` compile through NVRTC where the wheel is installed, then
refuse to launch), or reproduce CuPy's random streams. Torch tensors stay on the
CPU (``from_dlpack`` shares host memory).
"""

from __future__ import annotations

import os
import sys
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

ENV = "HPCSKETCH_FAKE_CUPY"
GPUS_ENV = "HPCSKETCH_FAKE_CUPY_GPUS"
__hpcsketch_fake__ = True
__version__ = "0.0.0+hpcsketch.fake"

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")


# -- transfer accounting ---------------------------------------------------------
@dataclass
class Transfers:
    """Host<->device copies since the last :meth:`reset`."""

    h2d: int = 0
    d2h: int = 0
    h2d_bytes: int = 0
    d2h_bytes: int = 0
    syncs: int = 0
    log: list = field(default_factory=list)  # (direction, nbytes, what)

    def reset(self) -> None:
        self.h2d = self.d2h = self.h2d_bytes = self.d2h_bytes = self.syncs = 0
        self.log.clear()

    def _add(self, direction: str, nbytes: int, what: str) -> None:
        if direction == "h2d":
            self.h2d += 1
            self.h2d_bytes += int(nbytes)
        else:
            self.d2h += 1
            self.d2h_bytes += int(nbytes)
        if len(self.log) < 10000:
            self.log.append((direction, int(nbytes), what))

    def snapshot(self) -> dict[str, int]:
        return {"h2d": self.h2d, "d2h": self.d2h, "h2d_bytes": self.h2d_bytes, "d2h_bytes": self.d2h_bytes}


transfers = Transfers()


# -- wrapping --------------------------------------------------------------------
def _host_refused(x: Any) -> TypeError:
    return TypeError(f"Unsupported type {type(x)} (a host numpy.ndarray in a device operation; "
                     "copy it with cupy.asarray first)")


def _u(x: Any) -> Any:
    """Unwrap device arrays (also inside lists, tuples and dicts); host arrays are refused."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return x[()]
        raise _host_refused(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_u(v) for v in x)
    if isinstance(x, dict):
        return {k: _u(v) for k, v in x.items()}
    return x


def _w(r: Any) -> Any:
    """Wrap results: arrays and NumPy scalars become device arrays (0-d for scalars)."""
    if isinstance(r, np.ndarray):
        return ndarray._of(r)
    if isinstance(r, np.generic):
        return ndarray._of(np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_w(v) for v in r)
    if isinstance(r, list):
        return [_w(v) for v in r]
    return r


def _index(key: Any) -> Any:
    """An index: device arrays unwrap; host index arrays are copied to the device (counted)."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, np.ndarray) and key.ndim > 0:
        transfers._add("h2d", key.nbytes, "host index array")
        return key
    return key


def _wrap_function(f: Any, name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        r = f(*_u(args), **_u(kwargs))
        return out if out is not None else _w(r)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Device stand-in for numpy.{name}."
    return call


class _Proxy(types.ModuleType):
    """A module whose functions are the NumPy (or SciPy) ones on device arrays."""

    def __init__(self, name: str, host: Any, extra: dict[str, Any] | None = None) -> None:
        super().__init__(name)
        self._host = host
        for k, v in (extra or {}).items():
            setattr(self, k, v)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        v = getattr(self._host, name)
        if isinstance(v, (type, types.ModuleType)) or not callable(v):
            return v
        w = _wrap_function(v, name)
        setattr(self, name, w)
        return w


# -- the array -------------------------------------------------------------------
class _Pointer:
    __slots__ = ("ptr",)

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr


class ndarray:  # noqa: N801 - the CuPy name
    """A device array (host memory underneath; see the module docstring)."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100.0
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None, order: str = "C"):
        self._a = np.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _of(cls, a: np.ndarray) -> "ndarray":
        obj = cls.__new__(cls)
        obj._a = a
        return obj

    # host copies (explicit only)
    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(_IMPLICIT)

    def get(self, stream: Any = None, order: str = "C", out: np.ndarray | None = None, blocking: bool = True):
        transfers._add("d2h", self._a.nbytes, "ndarray.get")
        if out is not None:
            if not isinstance(out, np.ndarray) or out.shape != self._a.shape or out.dtype != self._a.dtype:
                raise ValueError("out must be a numpy.ndarray of the same shape and dtype")
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr: Any, stream: Any = None) -> None:
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError("shape or dtype mismatch in ndarray.set")
        transfers._add("h2d", arr.nbytes, "ndarray.set")
        self._a[...] = arr

    def _scalar(self, what: str) -> Any:
        if self._a.size != 1:
            raise TypeError("only size-1 arrays can be converted to Python scalars")
        transfers._add("d2h", self._a.itemsize, what)
        return self._a.reshape(()).item()

    def __float__(self) -> float:
        return float(self._scalar("float()"))

    def __int__(self) -> int:
        return int(self._scalar("int()"))

    def __index__(self) -> int:
        if self._a.dtype.kind not in "iub":
            raise TypeError("only integer arrays can be used as an index")
        return int(self._scalar("index"))

    def __complex__(self) -> complex:
        return complex(self._scalar("complex()"))

    def __bool__(self) -> bool:
        return bool(self._scalar("bool()"))

    def item(self) -> Any:
        return self._scalar("item()")

    def tolist(self) -> Any:
        transfers._add("d2h", self._a.nbytes, "tolist()")
        return self._a.tolist()

    def __format__(self, spec: str) -> str:
        if self._a.ndim == 0:
            return format(self._scalar("format"), spec)
        return format(str(self), spec)

    def __repr__(self) -> str:
        return "array(" + np.array2string(self._a, separator=", ") + ", device=fake)"

    def __str__(self) -> str:
        return str(self._a)

    # array attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray._of(self._a.T))
    real = property(lambda self: ndarray._of(self._a.real))
    imag = property(lambda self: ndarray._of(self._a.imag))
    data = property(lambda self: _Pointer(self._ptr()))
    device = property(lambda self: cuda.Device())

    @shape.setter  # type: ignore[no-redef]
    def shape(self, value: Any) -> None:
        self._a.shape = value

    def _ptr(self) -> int:
        return int(self._a.__array_interface__["data"][0])

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "data": (self._ptr(), not a.flags.writeable),
                "strides": None if a.flags.c_contiguous else a.strides, "version": 3}

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self._a.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> Any:
        return self._a.__dlpack_device__()

    def __reduce__(self) -> Any:
        return (ndarray._of, (self._a,))

    def __copy__(self) -> "ndarray":
        return ndarray._of(self._a.copy())

    def __deepcopy__(self, memo: Any) -> "ndarray":
        return ndarray._of(self._a.copy())

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Iterator["ndarray"]:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        for i in range(self._a.shape[0]):
            yield ndarray._of(self._a[i])

    def __getitem__(self, key: Any) -> "ndarray":
        return _w(self._a[_index(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, np.ndarray) and value.ndim > 0:
            whole = key == slice(None) if isinstance(key, slice) else False
            if not whole:
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            transfers._add("h2d", value.nbytes, "d[:] = host")
            self._a[:] = value
            return
        self._a[_index(key)] = _u(value)

    # NumPy protocols: np.add(d, d), np.concatenate([d, d]) stay on the device
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        r = getattr(ufunc, method)(*_u(inputs), **_u(kwargs))
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _w(r)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        out = kwargs.get("out")
        r = func(*_u(args), **_u(kwargs))
        return out if out is not None else _w(r)

    # everything else ndarray has (astype, reshape, sum, ...) on the device
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in _NOT_IN_CUPY:
            raise AttributeError(f"'cupy.ndarray' stand-in has no attribute {name!r}")
        v = getattr(self._a, name)
        if not callable(v):
            return _w(v)
        return _wrap_function(v, name)


_NOT_IN_CUPY = frozenset({"tobytes", "tofile", "dump", "dumps", "tostring", "byteswap", "newbyteorder",
                          "setflags", "ctypes", "getfield", "setfield", "resize", "base"})


def _binary(name: str) -> Any:
    def op(self: ndarray, other: Any) -> Any:
        if isinstance(other, np.ndarray) and other.ndim > 0:
            raise _host_refused(other)
        r = getattr(self._a, name)(_u(other))
        if r is NotImplemented:
            return r
        if name.startswith("__i"):
            return self
        return _w(r)

    op.__name__ = name
    return op


def _unary(name: str) -> Any:
    def op(self: ndarray) -> Any:
        return _w(getattr(self._a, name)())

    op.__name__ = name
    return op


for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
           "lshift", "rshift", "divmod"):
    for _p in ("__{}__", "__r{}__", "__i{}__"):
        if _n == "divmod" and _p == "__i{}__":
            continue
        setattr(ndarray, _p.format(_n), _binary(_p.format(_n)))
for _n in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_n}__", _binary(f"__{_n}__"))
for _n in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_n}__", _unary(f"__{_n}__"))


# -- creation and host copies ------------------------------------------------------
def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else ndarray._of(a._a.astype(dtype))
    h = np.array(a, dtype=dtype, order=order or "K", copy=True)
    transfers._add("h2d", h.nbytes, "cupy.asarray")
    return ndarray._of(h)


def array(a: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:
    if isinstance(a, ndarray):
        r = np.array(a._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin)
        return ndarray._of(r)
    h = np.array(a, dtype=dtype, copy=True, order=order, ndmin=ndmin)
    transfers._add("h2d", h.nbytes, "cupy.array")
    return ndarray._of(h)


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    if not isinstance(a, ndarray):
        a = asarray(a)
    return ndarray._of(np.ascontiguousarray(a._a, dtype=dtype))


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, *, blocking: bool = True) -> np.ndarray:
    if isinstance(a, ndarray):
        return a.get(out=out, order=order)
    r = np.asarray(a, order=order)
    if out is not None:
        out[...] = r
        return out
    return r


def from_dlpack(t: Any) -> ndarray:
    """Shares memory (a torch CPU tensor stands for a CUDA one here)."""
    return ndarray._of(np.from_dlpack(t))


def get_array_module(*args: Any) -> Any:
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else np


def is_available() -> bool:
    return True


def show_config() -> None:
    print("hpcsketch fake CuPy: NumPy underneath, no GPU")


# -- cupy.cuda ---------------------------------------------------------------------
class CUDARuntimeError(RuntimeError):
    pass


def _ngpus() -> int:
    try:
        return max(0, int(os.environ.get(GPUS_ENV, "1")))
    except ValueError:
        return 1


_current = {"device": 0}


class Device:
    def __init__(self, device: int | None = None) -> None:
        self.id = _current["device"] if device is None else int(device)
        if not 0 <= self.id < _ngpus():
            raise CUDARuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id}")
        self._prev: int | None = None

    def use(self) -> None:
        _current["device"] = self.id

    def synchronize(self) -> None:
        transfers.syncs += 1

    def __enter__(self) -> "Device":
        self._prev = _current["device"]
        self.use()
        return self

    def __exit__(self, *exc: Any) -> None:
        _current["device"] = self._prev or 0

    def __int__(self) -> int:
        return self.id

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class Stream:
    null: "Stream"

    def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False) -> None:
        self.ptr = 0

    def synchronize(self) -> None:
        transfers.syncs += 1

    def use(self) -> "Stream":
        return self

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


Stream.null = Stream(null=True)


class Event:
    def __init__(self, block: bool = False, disable_timing: bool = False, interprocess: bool = False) -> None:
        self._t: float | None = None

    def record(self, stream: Any = None) -> None:
        self._t = time.perf_counter()

    def synchronize(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return True


def get_elapsed_time(start: Event, end: Event) -> float:
    """Milliseconds between two recorded events."""
    if start._t is None or end._t is None:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: event not recorded")
    return (end._t - start._t) * 1e3


def _device_count() -> int:
    n = _ngpus()
    if n == 0:
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    return n


def _device_properties(device: int) -> dict[str, Any]:
    Device(device)
    return {"name": b"hpcsketch fake GPU", "totalGlobalMem": 1 << 34, "multiProcessorCount": 1,
            "major": 9, "minor": 0, "sharedMemPerBlock": 49152, "maxThreadsPerBlock": 1024}


def alloc_pinned_memory(nbytes: int) -> bytearray:
    """Page-locked host memory stands in as a plain host buffer (buffer protocol, writable)."""
    pinned_allocations.append(int(nbytes))
    return bytearray(max(1, int(nbytes)))


pinned_allocations: list[int] = []

runtime = types.ModuleType("cupy.cuda.runtime")
runtime.getDeviceCount = _device_count  # type: ignore[attr-defined]
runtime.getDeviceProperties = _device_properties  # type: ignore[attr-defined]
runtime.getDevice = lambda: _current["device"]  # type: ignore[attr-defined]
runtime.setDevice = lambda d: Device(d).use()  # type: ignore[attr-defined]
runtime.deviceSynchronize = lambda: Device().synchronize()  # type: ignore[attr-defined]
runtime.CUDARuntimeError = CUDARuntimeError  # type: ignore[attr-defined]
runtime.runtimeGetVersion = lambda: 12090  # type: ignore[attr-defined]
runtime.driverGetVersion = lambda: 12090  # type: ignore[attr-defined]

cuda = types.ModuleType("cupy.cuda")
for _k, _v in dict(Device=Device, Stream=Stream, Event=Event, get_elapsed_time=get_elapsed_time,
                   alloc_pinned_memory=alloc_pinned_memory, runtime=runtime,
                   get_current_stream=lambda device=None: Stream.null, is_available=is_available,
                   CUDARuntimeError=CUDARuntimeError).items():
    setattr(cuda, _k, _v)


# -- CUDA C: compiled (where NVRTC is installed), never run -----------------------------
class RawModule:
    def __init__(self, code: str | None = None, *, path: str | None = None, options: tuple = (),
                 name_expressions: Any = None, **kwargs: Any) -> None:
        from hpcsketch.testing import cuda_compile

        if code is None and path is not None:
            with open(path) as f:
                code = f.read()
        if cuda_compile.nvrtc_available():
            cuda_compile.nvrtc_compile(code or "", "compute_80", options=tuple(options))
        self.code = code

    def get_function(self, name: str) -> Any:
        def launch(*args: Any, **kwargs: Any) -> None:
            raise NotImplementedError(f"the CuPy stand-in cannot run the CUDA C kernel {name!r}; write GPU "
                                      "kernels for numba-cuda (kernels/cuda_launch.py) so CI runs them")

        return launch


class RawKernel(RawModule):
    def __init__(self, code: str, name: str, options: tuple = (), **kwargs: Any) -> None:
        super().__init__(code=code, options=options)
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.get_function(self.name)()


# -- submodules ---------------------------------------------------------------------------
class _Generator:
    def __init__(self, seed: Any = None) -> None:
        self._g = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        return _wrap_function(getattr(self._g, name), name)


random = _Proxy("cupy.random", np.random, {"default_rng": lambda seed=None: _Generator(seed)})
linalg = _Proxy("cupy.linalg", np.linalg)
fft = _Proxy("cupy.fft", np.fft)


def _scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    if not isinstance(a, ndarray):
        raise TypeError("cupyx.scatter_add needs a cupy.ndarray")
    np.add.at(a._a, _index(slices), _u(value))


def _cupyx() -> tuple[types.ModuleType, types.ModuleType, types.ModuleType]:
    import scipy.fft

    cx = types.ModuleType("cupyx")
    cx.scatter_add = _scatter_add  # type: ignore[attr-defined]
    cx.__hpcsketch_fake__ = True  # type: ignore[attr-defined]
    scipy_mod = types.ModuleType("cupyx.scipy")
    fft_mod = _Proxy("cupyx.scipy.fft", scipy.fft)
    scipy_mod.fft = fft_mod  # type: ignore[attr-defined]
    cx.scipy = scipy_mod  # type: ignore[attr-defined]
    return cx, scipy_mod, fft_mod


# -- module-level NumPy functions on device arrays ------------------------------------------
_wrapped: dict[str, Any] = {}


def __getattr__(name: str) -> Any:  # PEP 562: cupy.zeros, cupy.concatenate, cupy.float32 ...
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _wrapped:
        return _wrapped[name]
    v = getattr(np, name)
    if isinstance(v, (type, types.ModuleType)) or not callable(v):
        return v
    _wrapped[name] = w = _wrap_function(v, name)
    return w


# -- installing -----------------------------------------------------------------------------
_NAMES = ("cupy", "cupy.cuda", "cupy.cuda.runtime", "cupy.random", "cupy.linalg", "cupy.fft",
          "cupyx", "cupyx.scipy", "cupyx.scipy.fft")


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def install() -> types.ModuleType:
    """Put the stand-in into ``sys.modules`` as cupy/cupyx (idempotent); returns it."""
    me = sys.modules[__name__]
    if getattr(sys.modules.get("cupy"), "__hpcsketch_fake__", False):
        return me
    cx, scipy_mod, fft_mod = _cupyx()
    mods = dict(zip(_NAMES, (me, cuda, runtime, random, linalg, fft, cx, scipy_mod, fft_mod)))
    for k, m in mods.items():
        _saved.setdefault(k, sys.modules.get(k))
        sys.modules[k] = m
    return me


_saved: dict[str, Any] = {}


def uninstall() -> None:
    """Restore whatever ``cupy``/``cupyx`` were in ``sys.modules`` before :func:`install`."""
    for k in _NAMES:
        old = _saved.pop(k, None)
        if old is None:
            sys.modules.pop(k, None)
        else:
            sys.modules[k] = old


@contextmanager
def active(gpus: int = 1) -> Iterator[types.ModuleType]:
    """The stand-in on for a block: env var set, modules installed, transfer counts reset."""
    old = {k: os.environ.get(k) for k in (ENV, GPUS_ENV)}
    os.environ[ENV] = "1"
    os.environ[GPUS_ENV] = str(gpus)
    _current["device"] = 0
    transfers.reset()
    try:
        yield install()
    finally:
        uninstall()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
