"""Every GPU kernel compiles for sm_80 and sm_90 without a GPU (NVRTC; NVVM + ptxas)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from hpcsketch.testing import cuda_compile

nvrtc = pytest.mark.skipif(not cuda_compile.nvrtc_available(),
                           reason="NVRTC wheel missing: pip install nvidia-cuda-nvrtc-cu12 (the test extra)")

GOOD = r"""
template <typename T>
__device__ void axpy_impl(T* y, const T* x, T a, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}
extern "C" __global__ void axpy_f32(float* y, const float* x, float a, long long n) { axpy_impl<float>(y, x, a, n); }
"""
BROKEN = GOOD.replace("y[i] += a * x[i];", "y[i] += a * undeclared_value;")


@nvrtc
@pytest.mark.parametrize("arch", ["compute_80", "compute_90", "sm_80", "sm_90"])
def test_nvrtc_compiles_a_kernel(arch):
    out = cuda_compile.nvrtc_compile(GOOD, arch, options=("-std=c++14",))
    if arch.startswith("compute_"):
        assert f".target sm_{arch[-2:]}" in out.decode(errors="replace")
    else:
        assert out[:4] == b"\x7fELF"  # a cubin


@nvrtc
def test_nvrtc_rejects_a_broken_kernel_with_its_log():
    with pytest.raises(cuda_compile.CompileError) as e:
        cuda_compile.nvrtc_compile(BROKEN, "compute_80", name="broken.cu")
    assert "undeclared_value" in e.value.log and "broken.cu" in str(e.value)


@nvrtc
@pytest.mark.parametrize("arch", ["compute_80", "compute_90", "sm_80", "sm_90"])
def test_every_cuda_c_source_compiles(arch):
    """kernels/cuda/*.cu and literal RawKernel/RawModule sources in kernels/ and hpcsketch/
    (today there are none: the GPU kernels are numba-cuda; this keeps any that come back honest)."""
    for label, kind, code in cuda_compile.cuda_c_sources():
        if kind in ("ElementwiseKernel", "ReductionKernel"):
            pytest.fail(f"{label}: {kind} fragments are not compiled by this check yet; teach cuda_compile to wrap them")
        if kind != "file" and not code:
            continue  # the source is not a literal (e.g. read from kernels/cuda/*.cu, compiled as a file)
        cuda_compile.nvrtc_compile(code, arch, name=label, options=("-std=c++14",))


def test_source_scan_finds_raw_kernels(tmp_path):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "hpcsketch").mkdir()
    (tmp_path / "kernels" / "k.cu").write_text(GOOD)
    (tmp_path / "hpcsketch" / "m.py").write_text(
        "import cupy\nK = cupy.RawKernel(r'''extern \"C\" __global__ void f(float* x) { x[0] = 1; }''', 'f')\n")
    kinds = sorted(k for _, k, _ in cuda_compile.cuda_c_sources(tmp_path))
    assert kinds == ["RawKernel", "file"]


BROKEN_NUMBA = textwrap.dedent('''
    from numba import float32, void
    cuda = None

    def _bad(x):
        i = cuda.threadIdx.x
        x[i] = x[i] + "one"   # a type error the simulator would not notice

    KERNELS = (("bad", _bad, void(float32[::1])),)

    def bind(m):
        global cuda
        cuda = m
''')


@pytest.mark.skipif(cuda_compile._ptxas() is None, reason="nvidia-cuda-nvcc-cu12 (libnvvm, ptxas) missing")
def test_numba_kernels_compile_for_sm80_sm90_and_a_broken_one_fails(tmp_path, monkeypatch):
    recs = cuda_compile.compile_numba_kernels_subprocess()
    assert recs and all(r["ok"] for r in recs), [r for r in recs if not r["ok"]]
    assert {r["arch"] for r in recs} == {"80", "90"}
    assert all(r["ptx_target"] == f"sm_{r['arch']}" and r["cubin_bytes"] > 0 for r in recs)
    import importlib

    listed = {k[0] for m in cuda_compile.GPU_KERNEL_MODULES for k in importlib.import_module(m).KERNELS}
    assert {r["kernel"] for r in recs} == listed and {"fwht_shared_f32", "cs_accumulate_f32"} <= listed

    (tmp_path / "broken_gpu_kernels.py").write_text(BROKEN_NUMBA)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + ":" + ":".join(sys.path))
    with pytest.raises(cuda_compile.CompileError) as e:
        cuda_compile.compile_numba_kernels_subprocess(modules=("broken_gpu_kernels",), archs=("80",))
    assert "TypingError" in str(e.value)
