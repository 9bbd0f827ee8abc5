"""The GPU kernels' own code runs in CI: numba-cuda's simulator on the CuPy stand-in's
arrays, checked against the CPU kernels (small sizes: one Python thread per CUDA thread)."""

from __future__ import annotations

import numpy as np
import pytest

from hpcsketch.kernels import count_sketch_gpu, fwht_gpu
from hpcsketch.kernels.fwht import fwht


@pytest.fixture
def sim(device_standin, monkeypatch):
    monkeypatch.setattr(fwht_gpu, "GLOBAL_THREADS", 16)  # fewer idle simulated threads
    monkeypatch.setattr(fwht_gpu, "THREADS", 8)  # < block/2 for the larger blocks: the strided loops run
    monkeypatch.setattr(count_sketch_gpu, "THREADS", 32)
    monkeypatch.setattr(count_sketch_gpu, "MAX_BLOCKS", 4)  # the grid-stride loop runs
    before = fwht_gpu.SIMULATOR_FALLBACKS[0], count_sketch_gpu.SIMULATOR_FALLBACKS[0]
    yield device_standin
    after = fwht_gpu.SIMULATOR_FALLBACKS[0], count_sketch_gpu.SIMULATOR_FALLBACKS[0]
    assert after == before, "a kernel test ran the CPU fallback"


# 4096: the shared pass only; 4 and 8: then radix-4 and radix-2 global passes
# (block 4: n = 8 radix 2, 16 radix 4, 32 radix 4 + 2; block 8: 16, 32, 64 likewise)
@pytest.mark.parametrize("shared_block,dtype,lengths", [
    (4096, "float32", (1, 2, 4, 8, 16, 32, 64)),
    (4096, "float64", (1, 2, 4, 8, 16, 32, 64)),
    (4, "float32", (8, 16, 32)),
    (8, "float64", (16, 32, 64)),
])
def test_fwht_kernels_match_cpu_every_length_and_batch(sim, monkeypatch, shared_block, dtype, lengths):
    cp = sim
    from hpcsketch.kernels.cuda_launch import simulating

    monkeypatch.setattr(fwht_gpu, "SHARED_BLOCK", shared_block)
    rng = np.random.default_rng(shared_block)
    for n in lengths:
        for batch in ((), (3,), (2, 2)):
            x = rng.standard_normal(batch + (n,)).astype(dtype)
            got = fwht(cp.asarray(x), normalized=(n % 3 == 1))
            assert isinstance(got, cp.ndarray) and got.dtype == x.dtype and got.shape == x.shape
            want = fwht(x, normalized=(n % 3 == 1))
            tol = 1e-5 if dtype == "float32" else 1e-12
            np.testing.assert_allclose(got.get(), want, rtol=tol, atol=tol * np.sqrt(n))
    assert simulating()


def test_fwht_kernel_inplace_padding_and_int_input(sim, monkeypatch):
    cp = sim
    monkeypatch.setattr(fwht_gpu, "SHARED_BLOCK", 8)
    x = np.arange(2 * 32, dtype=np.float32).reshape(2, 32)
    d = cp.asarray(x)
    out = fwht(d, inplace=True)
    assert out is d
    np.testing.assert_allclose(d.get(), fwht(x), rtol=1e-6)
    odd = np.arange(20)  # int, not a power of two: padded to 32, computed in float64
    np.testing.assert_allclose(fwht(cp.asarray(odd)).get(), fwht(odd), rtol=1e-12)


def test_fwht_simulator_size_guard_falls_back_and_counts(device_standin):
    cp = device_standin
    x = np.random.default_rng(1).standard_normal(1 << 13).astype(np.float32)
    before = fwht_gpu.SIMULATOR_FALLBACKS[0]
    np.testing.assert_allclose(fwht(cp.asarray(x)).get(), fwht(x), rtol=1e-4, atol=1e-3)
    assert fwht_gpu.SIMULATOR_FALLBACKS[0] == before + 1


@pytest.mark.parametrize("rows,dtype", [(1, "float64"), (5, "float32"), (32, "float32")])
def test_count_sketch_kernel_matches_cpu(sim, rows, dtype):
    """Hashing (indices past 2^16, so both 16-bit characters count), atomic accumulation
    (dense and sparse, repeated indices), then the queries on the device table."""
    from hpcsketch.kernels import count_sketch as csk
    from hpcsketch.kernels.hashing import sketch_hash

    cp = sim
    rng = np.random.default_rng(rows)
    n, cols, start = 300, 16, 65536 - 100  # few columns: many atomic collisions per cell
    x = rng.standard_normal(n).astype(dtype)
    h = sketch_hash(11, rows)
    hd = h.to(cp)
    t_cpu = np.zeros((rows, cols), dtype=dtype)
    t_gpu = cp.zeros((rows, cols), dtype=dtype)
    csk.cs_accumulate(t_cpu, x, h, start=start)
    csk.cs_accumulate(t_gpu, cp.asarray(x), hd, start=start)
    tol = 1e-4 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(t_gpu.get(), t_cpu, rtol=tol, atol=tol)
    idx = np.array([5, 70000, 5, 1 << 20, (1 << 32) - 1], dtype=np.int64)
    vals = rng.standard_normal(idx.size).astype(dtype)
    csk.cs_accumulate_sparse(t_cpu, idx, vals, h)
    csk.cs_accumulate_sparse(t_gpu, cp.asarray(idx), cp.asarray(vals), hd)
    np.testing.assert_allclose(t_gpu.get(), t_cpu, rtol=tol, atol=tol)
    d = start + n
    q = cp.asarray(np.arange(start, d, dtype=np.int64))
    np.testing.assert_allclose(csk.cs_estimate(t_gpu, hd, d, how="median", idx=q).get(),
                               csk.cs_estimate(t_cpu, h, d, how="median")[start:], rtol=tol, atol=tol)
