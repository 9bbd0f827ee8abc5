#!/usr/bin/env bash
# The GPU check, for a machine with one NVIDIA GPU (H100/H200) and nothing but this repository and pip.
# Sized for about 8 minutes. Every figure it prints goes with the device name it prints first.
#
#   bash tests/gpu/device_check.sh [OUT]      (OUT: where the benchmark files and run traces go)
#
# 1. the GPU test cases on real CuPy (pytest -m gpu), 2. kernel benchmarks at 2^20..2^28 against a
# device-to-device copy, 3. 4-rank CuPy runs of CS-SGD and FetchSGD sharing the one GPU (staged MPI:
# pip MPICH is not CUDA-aware), 4. the comm benchmark on device buffers.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-gpu-check}
mkdir -p "$OUT"
step() { echo; echo "=== $* ($(date +%T))"; }

step "set-up"
if [ ! -x .venv-gpu/bin/python ]; then
  python3 -m venv .venv-gpu
  .venv-gpu/bin/pip install -q -e '.[mpich,test,gpu]'
fi
. .venv-gpu/bin/activate
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python - <<'PY'
import cupy
p = cupy.cuda.runtime.getDeviceProperties(0)
print("device:", p["name"].decode(), "| CuPy", cupy.__version__, "| CUDA runtime", cupy.cuda.runtime.runtimeGetVersion())
PY
hpcsketch info

step "GPU test cases on real CuPy"
HPCSKETCH_FAKE_CUPY=0 timeout 240 python -m pytest -m gpu -q -x --timeout 120 \
  tests/kernels tests/compressors tests/recovery tests/gpu || echo "GPU TESTS FAILED (rc=$?)"

step "kernels: time over a device-to-device copy, 2^20..2^28"
timeout 150 hpcsketch bench kernels --backend cupy --sizes 20:28 --repeats 5 --out "$OUT/bench-kernels.h5" \
  || echo "BENCH KERNELS FAILED (rc=$?)"

for method in cs_sgd fetchsgd; do
  step "4 ranks, one GPU, $method (staged MPI)"
  compressor=$([ $method = cs_sgd ] && echo subsampled_wht || echo count_sketch)
  timeout 120 hpcsketch run jobs/quickstart.toml -n 4 --out "$OUT/runs" -q \
    --set run.backend='"cupy"' --set run.rounds=50 --set algorithm.kind="\"$method\"" \
    --set compressor.kind="\"$compressor\"" --set compressor.ratio=10 \
    || echo "RUN $method FAILED (rc=$?)"
done
hpcsketch analyze "$OUT/runs" --out "$OUT/analysis" || true

step "collectives on device buffers"
timeout 90 hpcsketch bench comm -n 4 --buffers device --out "$OUT/bench-comm.h5" || echo "BENCH COMM FAILED (rc=$?)"

step "done: $OUT"
