"""Flush (TraceWriter.append) durations: no readers, three polling readers, one reader holding the file.
usage: python tests/reliability/measure_flush.py MODE SECONDS   (MODE: none | poll3 | hold)
Prints one JSON line: flushes, median and max wall ms, median writer CPU ms, reader errors, trace bytes.
A measurement for the README, not a test (pytest does not collect it: no test_ prefix)."""
import json, os, statistics, subprocess, sys, tempfile, time
import numpy as np
from hpcsketch.tracing.writer import TraceWriter

mode, seconds = sys.argv[1], float(sys.argv[2])
d = tempfile.mkdtemp(prefix="flushbench-")
path = os.path.join(d, "bench.h5")
w = TraceWriter(path)
w.create({"run_id": "bench", "writer_host": "elsewhere", "writer_pid": 1}, {"world_size": 4})
names = ["loss", "eval_loss", "bytes_uplink", "bytes_mpi", "bytes_downlink", "cum_bytes_uplink", "cum_bytes_mpi",
         "time", "clients", "grad_sparsity", "consensus_distance", "eval_gap", "eval_dist", "eval_grad_norm"]
step = 0
def flush(n=50):
    global step
    rows = [{"step": s, **{k: 1.0 / s for k in names}} for s in range(step + 1, step + n + 1)]
    t = {p: np.ones((n, 4)) for p in ("compute", "compress", "communicate", "decompress", "update", "total")}
    w.append(rows, t, np.arange(step + 1, step + n + 1), memory=(step + n, np.ones(4)))
    step += n
for _ in range(20):  # a trace of some size first
    flush()
POLL = """
import sys, os
from hpcsketch.tracing.reader import read_trace
n = 0
while not os.path.exists(sys.argv[2]):
    read_trace(sys.argv[1]); n += 1
print(n)
"""
HOLD = "import h5py, sys, time; f = h5py.File(sys.argv[1], 'r'); print('held', flush=True); time.sleep(float(sys.argv[2]))"
stop = os.path.join(d, "stop")
procs = []
if mode == "poll3":
    procs = [subprocess.Popen([sys.executable, "-c", POLL, path, stop], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    time.sleep(1.5)
elif mode == "hold":
    procs = [subprocess.Popen([sys.executable, "-c", HOLD, path, str(seconds + 5)], stdout=subprocess.PIPE, text=True)]
    assert procs[0].stdout.readline().startswith("held")
times, errors, cpu = [], [], []
t_end = time.monotonic() + seconds
while time.monotonic() < t_end:
    t0 = time.perf_counter(); c0 = time.process_time()
    try:
        flush()
        cpu.append(time.process_time() - c0)
    except Exception as e:
        errors.append(repr(e)[:200]); break
    times.append(time.perf_counter() - t0)
    time.sleep(0.1)
open(stop, "w").close()
reads = []
for p in procs:
    if mode == "poll3":
        reads.append(int(p.communicate(timeout=60)[0] or 0))
    else:
        p.kill(); p.wait()
w.finish("completed")
size = os.path.getsize(path)
print(json.dumps({"mode": mode, "flushes": len(times), "median_ms": round(1e3 * statistics.median(times), 2) if times else None,
                  "max_ms": round(1e3 * max(times), 2) if times else None, "cpu_median_ms": round(1e3 * statistics.median(cpu), 2) if cpu else None, "errors": errors, "reader_reads": reads,
                  "trace_bytes": size}))
