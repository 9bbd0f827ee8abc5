"""``hpcsketch bench kernels``: time each kernel against a memory copy of the same bytes.

For each size d = 2^m: a copy of d floats (np.copyto into a preallocated array;
on GPU a device-to-device copy timed with CUDA events) is measured in the same
run, then each kernel; median and min over ``--repeats`` after a warm-up, GB/s
(d * 4 bytes / median time) and the ratio to the copy (the roofline). Prints a
table and writes HDF5 (one group per kernel: datasets size, median_s, min_s,
gbps, ratio_to_copy; attrs: backend, device, command).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from typing import Any, Callable

import numpy as np

from hpcsketch.bench import create_output, output_path
from hpcsketch.errors import BadInput

FIHT_LOG2 = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="auto", choices=("auto", "numpy", "cupy"))
    parser.add_argument("--sizes", default=None, help="log2 range lo:hi (default 10:24 on CPU, 10:28 on GPU)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per kernel and size (median reported)")
    parser.add_argument("--out", default=None, help="HDF5 file to write, never overwritten (default: results/bench-kernels-<time>.h5)")
    parser.add_argument("--rows", type=int, default=5, help="count sketch rows")
    parser.add_argument("--ratio", type=float, default=10.0, help="count sketch / sensing compression ratio")


def _parse_sizes(text: str | None, gpu: bool) -> list[int]:
    if text is None:
        return list(range(10, (28 if gpu else 24) + 1, 2))
    try:
        if ":" in text:
            lo, hi = (int(t) for t in text.split(":"))
            sizes = list(range(lo, hi + 1, 2 if hi - lo > 6 else 1))
            if sizes[-1] != hi:
                sizes.append(hi)
        else:
            sizes = [int(t) for t in text.split(",")]
    except ValueError:
        raise BadInput(f"--sizes {text!r}: expected lo:hi or a comma list of log2 sizes, e.g. 10:26") from None
    if not sizes or min(sizes) < 4 or max(sizes) > 30:
        raise BadInput(f"--sizes {text!r}: log2 sizes must lie in 4..30")
    return sizes


class _Timer:
    def __init__(self, backend: Any, repeats: int):
        self.backend = backend
        self.repeats = repeats

    def __call__(self, fn: Callable[[], Any]) -> tuple[float, float]:
        fn()  # warm-up (numba compile, CuPy kernel load, caches)
        times = []
        for _ in range(self.repeats):
            clock = self.backend.timer()
            self.backend.synchronize()
            clock.start()
            fn()
            clock.stop()
            times.append(clock.elapsed())
        return float(np.median(times)), float(np.min(times))


def _kernels(b: Any, d: int, args: argparse.Namespace) -> dict[str, Callable[[], Any]]:
    from hpcsketch.compressors.count_sketch import CountSketch
    from hpcsketch.compressors.subsampled_wht import SubsampledWHT
    from hpcsketch.kernels.count_sketch import cs_accumulate, cs_estimate
    from hpcsketch.kernels.dct import dct
    from hpcsketch.kernels.fwht import fwht
    from hpcsketch.kernels.quantize import qsgd_encode, sign_encode, uniform
    from hpcsketch.kernels.topk import topk

    xp = b.xp
    x = b.asarray(np.random.default_rng(d).standard_normal(d, dtype=np.float32))
    work = x.copy()
    cs = CountSketch(d, {"rows": args.rows, "ratio": args.ratio}, b, 1)
    table = cs.compress(x)
    k = max(1, d // 100)
    u = uniform(d, 1, xp)
    op = SubsampledWHT(d, {"ratio": args.ratio}, b, 1)
    y = op.forward(x)

    def cs_acc() -> None:
        table[...] = 0
        cs_accumulate(table, x, cs.hash)

    return {
        "fwht": lambda: fwht(work, normalized=True, inplace=True),
        "dct": lambda: dct(x),
        f"count_sketch_{args.rows}rows": cs_acc,
        "cs_median_estimate": lambda: cs_estimate(table, cs.hash, d, how="median"),
        "topk_1pct": lambda: topk(x, k),
        "qsgd_s16": lambda: qsgd_encode(x, 16, u),
        "sign": lambda: sign_encode(x),
        "swht_fwd_adj": lambda: op.adjoint(op.forward(x) + y),
    }


def _fiht_iteration(b: Any, timer: _Timer, log2d: int) -> tuple[float, float, float]:
    """(seconds per FIHT iteration, seconds per fwht, transforms' worth) at d = 2^log2d, K = d/100, Q = 12K."""
    from hpcsketch.compressors.subsampled_wht import SubsampledWHT
    from hpcsketch.kernels.fwht import fwht
    from hpcsketch.recovery.fiht import fiht

    d = 1 << log2d
    K = max(1, d // 100)
    Q = min(d, 12 * K)
    op = SubsampledWHT(d, {"ratio": d / Q}, b, 5)
    rng = np.random.default_rng(0)
    x = np.zeros(d, np.float32)
    x[rng.choice(d, K, replace=False)] = rng.standard_normal(K)
    z = op.forward(b.asarray(x))
    fixed = 10  # a fixed iteration count (no early stop) so the time per iteration is clean
    med, _ = timer(lambda: fiht(op, z, K, max_iter=fixed, tol=0.0, spread=-1.0))
    work = b.asarray(x.copy())
    t_fwht, _ = timer(lambda: fwht(work, normalized=True, inplace=True))
    per_it = med / fixed
    return per_it, t_fwht, per_it / t_fwht


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hpcsketch.backend import select_backend

    args.out = output_path(args.out, "kernels")
    b = select_backend(args.backend)
    sizes = _parse_sizes(args.sizes, b.is_gpu)
    timer = _Timer(b, max(1, args.repeats))
    console = Console(stderr=True)
    results: dict[str, dict[str, list[float]]] = {}
    device = _device(b)
    for m in sizes:
        d = 1 << m
        src = b.asarray(np.random.default_rng(m).standard_normal(d, dtype=np.float32))
        dst = b.xp.empty_like(src)
        copy_med, copy_min = timer(lambda: b.xp.copyto(dst, src))
        _record(results, "copy", m, copy_med, copy_min, d * 4, copy_med)
        console.print(f"[dim]2^{m}: copy {copy_med * 1e3:.3f} ms[/dim]")
        for name, fn in _kernels(b, d, args).items():
            med, mn = timer(fn)
            _record(results, name, m, med, mn, d * 4, copy_med)
            console.print(f"[dim]2^{m}: {name} {med * 1e3:.3f} ms ({med / copy_med:.1f}x copy)[/dim]")
        del src, dst
    log2 = min(FIHT_LOG2, max(sizes))
    fiht_it, fiht_fwht, fiht_transforms = _fiht_iteration(b, timer, log2)
    table = Table(title=f"hpcsketch kernels on {b.name} ({device}), float32, median of {timer.repeats}")
    for col in ("kernel", "log2 d", "median ms", "min ms", "GB/s", "x copy"):
        table.add_column(col, justify="right" if col != "kernel" else "left")
    for name, r in results.items():
        for i, m in enumerate(r["log2"]):
            table.add_row(name, str(int(m)), f"{r['median_s'][i] * 1e3:.3f}", f"{r['min_s'][i] * 1e3:.3f}",
                          f"{r['gbps'][i]:.1f}", f"{r['ratio'][i]:.2f}")
    out = Console()
    out.print(table)
    out.print(f"FIHT (d = 2^{log2}, K = d/100, Q = 12K): {fiht_it * 1e3:.2f} ms per iteration = "
              f"{fiht_transforms:.2f} FWHTs ({fiht_fwht * 1e3:.3f} ms each)")
    _write_h5(args.out, results, b, device, (log2, fiht_it, fiht_fwht, fiht_transforms))
    out.print(f"wrote {args.out}")
    return 0


def _record(results: dict, name: str, m: int, med: float, mn: float, nbytes: int, copy: float) -> None:
    r = results.setdefault(name, {"log2": [], "median_s": [], "min_s": [], "gbps": [], "ratio": []})
    r["log2"].append(m)
    r["median_s"].append(med)
    r["min_s"].append(mn)
    r["gbps"].append(nbytes / med / 1e9)
    r["ratio"].append(med / copy)


def _device(b: Any) -> str:
    if b.is_gpu:
        props = b.xp.cuda.runtime.getDeviceProperties(b.device or 0)
        return props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return platform.processor() or platform.machine()


def _write_h5(path: str, results: dict, b: Any, device: str, fiht_row: tuple) -> None:
    import h5py

    create_output(path)
    with h5py.File(path, "w-") as f:
        f.attrs.update(backend=b.name, device=device, command=" ".join(sys.argv), created=time.strftime("%Y-%m-%dT%H:%M:%S"))
        for name, r in results.items():
            g = f.create_group(name)
            g.create_dataset("size", data=np.left_shift(1, np.asarray(r["log2"], dtype=np.int64)))
            for key in ("median_s", "min_s", "gbps"):
                g.create_dataset(key, data=np.asarray(r[key]))
            g.create_dataset("ratio_to_copy", data=np.asarray(r["ratio"]))
        g = f.create_group("fiht_iteration")
        g.attrs.update(log2_d=fiht_row[0], seconds_per_iteration=fiht_row[1], fwht_seconds=fiht_row[2],
                       transforms_per_iteration=fiht_row[3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hpcsketch bench kernels", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
