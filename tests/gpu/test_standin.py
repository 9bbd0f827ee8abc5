"""The CuPy glue against the device stand-in (hpcsketch.testing.fake_cupy): backend
selection, host/device boundaries, transfer counts, staging, CUDA-awareness."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpcsketch.backend import select_backend
from hpcsketch.testing import fake_cupy


def test_standin_refuses_implicit_host_copies(device_standin):
    cp = device_standin
    h = np.arange(6, dtype=np.float32)
    d = cp.asarray(h)
    assert isinstance(d, cp.ndarray) and not isinstance(d, np.ndarray)
    with pytest.raises(TypeError):
        np.asarray(d)
    with pytest.raises(TypeError):
        d + h  # noqa: B018 - mixing host and device
    with pytest.raises(TypeError):
        cp.concatenate([d, h])
    with pytest.raises(ValueError):
        d[1:] = h[1:]
    fake_cupy.transfers.reset()
    d[:] = h  # CuPy allows the whole-array copy
    s = (d * 2).sum()
    assert isinstance(s, cp.ndarray) and s.ndim == 0  # reductions stay on the device
    assert float(s) == 30.0
    np.testing.assert_array_equal(cp.asnumpy(d), h)
    np.testing.assert_array_equal(d.get(), h)
    assert fake_cupy.transfers.h2d == 1 and fake_cupy.transfers.d2h == 3
    assert "__cuda_array_interface__" in dir(type(d))


def test_auto_picks_the_device_and_local_rank_mod_ngpus(monkeypatch):
    with fake_cupy.active(gpus=3) as cp:
        b = select_backend("auto", local_rank=4, local_size=6)
        assert b.name == "cupy" and b.xp is cp and b.device == 1 and cp.cuda.Device().id == 1
        assert select_backend("cupy", local_rank=2).device == 2
        assert select_backend("numpy").name == "numpy"
        assert str(b.torch_device) == "cpu"  # the stand-in keeps torch on the host
    monkeypatch.setenv("HPCSKETCH_FAKE_CUPY", "0")
    assert select_backend("auto").name == "numpy"  # no real GPU here


def test_checkpoint_of_device_state_and_torch_views(device_standin):
    cp = device_standin
    b = select_backend("cupy")
    state = {"residual": cp.arange(5, dtype=cp.float32), "momentum": cp.zeros(3)}
    fake_cupy.transfers.reset()
    saved = {k: b.asnumpy(v).copy() for k, v in state.items()}  # what runner._checkpoint does
    assert all(type(v) is np.ndarray for v in saved.values())
    assert fake_cupy.transfers.d2h == 2
    restored = b.asarray(saved["residual"])
    assert isinstance(restored, cp.ndarray) and fake_cupy.transfers.h2d == 1
    torch = pytest.importorskip("torch")
    t = torch.ones(4)
    a = b.from_torch(t)
    a[0] = 7  # shares memory, no copy
    assert t[0].item() == 7 and b.to_torch(a)[0].item() == 7
    clock = b.timer()
    clock.start()
    clock.stop()
    assert clock.elapsed() >= 0


def test_staged_host_path_uses_pinned_buffers_and_counts_copies(device_standin):
    from hpcsketch.comm._buffers import Stager, is_device_array

    cp = device_standin
    d = cp.arange(8, dtype=cp.float32)
    assert is_device_array(d) and not is_device_array(np.zeros(2))
    st = Stager()
    fake_cupy.transfers.reset()
    h = st.to_host(d)
    assert type(h) is np.ndarray and h.tolist() == list(range(8))
    h *= 2
    Stager.to_device(h, d)
    assert d.get()[3] == 6
    assert st.to_host(d) is h  # the pinned buffer is reused
    assert (fake_cupy.transfers.d2h, fake_cupy.transfers.h2d) == (3, 1)


@pytest.mark.parametrize("kind,compress,decompress", [
    ("count_sketch", (0, 0), (0, 0)),
    ("subsampled_wht", (0, 0), (0, 0)),
    ("topk", (0, 0), (0, 0)),
    ("sign", (0, 0), (0, 0)),
    ("randk", (1, 0), (0, 0)),  # indices drawn on the host, copied up (8 k bytes)
    ("qsgd", (0, 1), (0, 0)),  # float(norm) > 0: one scalar read back (a sync)
])
def test_host_device_transfers_per_round(device_standin, kind, compress, decompress):
    """(h2d, d2h) copies per compress and per decompress on the device path."""
    from hpcsketch.compressors import REGISTRY

    cp = device_standin
    b = select_backend("cupy")
    c = REGISTRY.get(kind)(1000, {"k": 0.1, "ratio": 4}, b, seed=3)
    x = cp.asarray(np.random.default_rng(0).standard_normal(1000).astype(np.float32))
    c.compress(x, key=1)  # first call may set things up
    fake_cupy.transfers.reset()
    p = c.compress(x, key=2)
    assert isinstance(p, cp.ndarray)
    assert (fake_cupy.transfers.h2d, fake_cupy.transfers.d2h) == compress, fake_cupy.transfers.log
    fake_cupy.transfers.reset()
    assert isinstance(c.decompress(p), cp.ndarray)
    assert (fake_cupy.transfers.h2d, fake_cupy.transfers.d2h) == decompress, fake_cupy.transfers.log


def test_gpu_glue_kernels_match_cpu(device_standin):
    """Count sketch (hashing, scatter-add accumulation, queries), top-k, bit packing on the
    device path against the CPU kernels."""
    from hpcsketch.kernels import count_sketch as csk
    from hpcsketch.kernels import quantize as q
    from hpcsketch.kernels.hashing import sketch_hash
    from hpcsketch.kernels.topk import hard_threshold, kth_largest_abs, topk

    cp = device_standin
    rng = np.random.default_rng(0)
    d = 3000
    x = rng.standard_normal(d).astype(np.float32)
    h = sketch_hash(5, 5)
    hd = h.to(cp)
    t_cpu = csk.cs_sketch(x, h, 64)
    t_gpu = csk.cs_sketch(cp.asarray(x), hd, 64)
    np.testing.assert_allclose(t_gpu.get(), t_cpu, rtol=1e-5, atol=1e-5)
    idx = np.array([3, 17, 2999], dtype=np.int64)
    np.testing.assert_allclose(csk.cs_estimate(t_gpu, hd, d, how="median").get(),
                               csk.cs_estimate(t_cpu, h, d, how="median"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(csk.cs_estimate(t_gpu, hd, d, how="mean", idx=cp.asarray(idx)).get(),
                               csk.cs_estimate(t_cpu, h, d, how="mean", idx=idx), rtol=1e-5, atol=1e-5)
    csk.cs_accumulate_sparse(t_gpu, cp.asarray(idx), cp.asarray(x[idx]), hd)
    csk.cs_accumulate_sparse(t_cpu, idx, x[idx], h)
    np.testing.assert_allclose(t_gpu.get(), t_cpu, rtol=1e-5, atol=1e-5)
    assert abs(csk.cs_l2_estimate(t_gpu) - csk.cs_l2_estimate(t_cpu)) < 1e-3

    xd = cp.asarray(x)
    assert sorted(topk(xd, 50).get().tolist()) == sorted(topk(x, 50).tolist())
    assert kth_largest_abs(xd, 50) == kth_largest_abs(x, 50)
    np.testing.assert_array_equal(hard_threshold(xd, 50).get(), hard_threshold(x, 50))

    bits = rng.random(37) < 0.5
    np.testing.assert_array_equal(q.pack_bits(cp.asarray(bits)).get(), q.pack_bits(bits))
    np.testing.assert_array_equal(q.unpack_bits(cp.asarray(q.pack_bits(bits)), 37).get(), bits)
    v = rng.integers(0, 8, 37).astype(np.uint32)
    np.testing.assert_array_equal(q.unpack_uint(q.pack_uint(cp.asarray(v), 3), 37, 3).get(), v)
    u = rng.random(d).astype(np.float32)
    np.testing.assert_array_equal(q.qsgd_encode(xd, 4, cp.asarray(u)).get(), q.qsgd_encode(x, 4, u))


def test_cuda_aware_detection(monkeypatch):
    from hpcsketch.environment import cuda_aware_mpi

    for v in ("0", "1"):
        monkeypatch.setenv("HPCSKETCH_CUDA_AWARE", v)
        assert cuda_aware_mpi() == (v == "1", "HPCSKETCH_CUDA_AWARE")
    monkeypatch.delenv("HPCSKETCH_CUDA_AWARE")
    aware, how = cuda_aware_mpi()
    assert isinstance(aware, bool) and how


_MPI_SCRIPT = r"""
import numpy as np
from mpi4py import MPI
from hpcsketch.backend import select_backend
from hpcsketch.comm.communicator import Communicator
from hpcsketch.testing import fake_cupy
b = select_backend("cupy", MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size())
for aware in (False, True):
    b.cuda_aware_mpi = aware
    c = Communicator(MPI.COMM_WORLD, b)
    assert c.staged == (not aware)
    x = b.xp.full(10, float(c.rank + 1), dtype=np.float32)
    fake_cupy.transfers.reset()
    c.allreduce(x)
    n = fake_cupy.transfers.snapshot()
    assert float(x[0]) == 3.0, x
    expect = (0, 0) if aware else (1, 1)  # staged: one copy down, one up
    assert (n["h2d"], n["d2h"]) == expect, (aware, n)
    parts = c.allgather(b.xp.full(3, float(c.rank), dtype=np.float32))
    assert isinstance(parts, b.xp.ndarray) and parts.reshape(-1).get().tolist() == [0.0] * 3 + [1.0] * 3
    if c.rank == 0:
        print("OK", "aware" if aware else "staged", n)
"""


@pytest.mark.timeout(120)
def test_allreduce_of_device_buffers_staged_and_cuda_aware(tmp_path):
    """Two ranks: staged through pinned host buffers (1 d2h + 1 h2d per allreduce), or
    device pointers straight to MPI (no copies; the stand-in's pointer is host memory)."""
    mpiexec = Path(sys.executable).parent / "mpiexec"
    exe = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec")
    script = tmp_path / "rank.py"
    script.write_text(_MPI_SCRIPT)
    env = dict(os.environ, HPCSKETCH_FAKE_CUPY="1", OMP_NUM_THREADS="1")
    res = subprocess.run([exe, "-n", "2", sys.executable, "-m", "mpi4py", str(script)], env=env,
                         capture_output=True, text=True, timeout=100)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK staged" in res.stdout and "OK aware" in res.stdout
