"""``hpcsketch bench overhead``: the harness's PSGD round against a bare mpi4py + torch loop.

Both do the same work on the same ranks: for each of the rank's clients a
forward/backward on a minibatch of ``batch_size`` from that client's data,
gradients summed into one flat float32 buffer, one in-place Allreduce, an SGD
step. The bare loop is what a user would write by hand (``torch.randint``
minibatches, ``torch.cat`` of the ``.grad`` tensors, ``mpi4py`` on the NumPy
view). The harness run is the real thing: job validation done, then the
round loop with its timers, metrics, control word, trace flushes and
evaluation (evaluation time is subtracted: the bare loop has none).

Runs alternate (harness, bare, harness, bare, ...) so drift on a shared
machine hits both. Three estimators of the ratio are printed (see ``ratios``):
of minimums, median of per-pair ratios, and of medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

from hpcsketch.errors import BadInput


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("job", nargs="?", default=None, help="a PSGD job (default: jobs/quickstart.toml's problem with momentum 0)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--rounds", type=int, default=200, help="rounds per repetition (default 200)")
    p.add_argument("--repeats", type=int, default=3, help="harness/bare pairs (default 3)")
    p.add_argument("-n", "--ranks", type=int, default=None, help="outside a launcher: start this many ranks with mpiexec")


DEFAULT_JOB = """
[run]
name = "overhead"
eval_every = 0
progress = false
[problem]
kind = "mnist1d"
model = "mlp"
batch_size = 32
[clients]
count = 16
[algorithm]
kind = "psgd"
lr = 0.05
"""


def run(args: argparse.Namespace) -> int:
    from hpcsketch import launch

    if args.rounds < 1 or args.repeats < 1:
        raise BadInput("--rounds and --repeats must be >= 1", field="--rounds")
    if args.ranks is not None and args.ranks > 1 and not launch.inside_launcher():
        rank_args = ["bench", "overhead", *([args.job] if args.job else []), "--rounds", str(args.rounds),
                     "--repeats", str(args.repeats), *sum((["--set", o] for o in args.overrides), [])]
        return launch.spawn(args.ranks, rank_args)
    return _run_ranks(args)


def _load(args: argparse.Namespace, world_size: int) -> Any:
    from hpcsketch.config.job import load_job, parse_job

    overrides = [f"run.rounds={args.rounds}", "run.eval_every=0", "run.progress=false", *args.overrides]
    job = load_job(args.job, overrides, world_size=world_size) if args.job else parse_job(DEFAULT_JOB, "<overhead>", overrides, world_size=world_size)
    if job.algorithm.kind != "psgd" or job.compressor.kind != "none":
        raise BadInput("the overhead benchmark compares PSGD without compression; set algorithm.kind = \"psgd\"", field="[algorithm] kind")
    if not hasattr(job.problem, "kind") or job.problem.kind in ("quadratic", "least_squares", "topk_counterexample"):
        raise BadInput("the overhead benchmark needs a torch problem (mnist1d, digits, breast_cancer, cifar10)", field="[problem] kind")
    return job


def bare_loop(problem: Any, comm: Any, local: np.ndarray, n_clients: int, rounds: int, lr: float, batch: int, seed: int) -> float:
    """What a user writes by hand; returns seconds for ``rounds`` rounds (after a barrier)."""
    import torch
    from mpi4py import MPI
    from torch.nn import functional as F

    model = problem.model
    params = [p for p in model.parameters()]
    d = sum(p.numel() for p in params)
    data = [problem.client_data(int(c)) for c in local]
    g = np.zeros(d, dtype=np.float32)
    gen = torch.Generator().manual_seed(seed + comm.Get_rank())
    comm.Barrier()
    t0 = time.perf_counter()
    for _ in range(rounds):
        g.fill(0)
        for xs, ys in data:
            idx = torch.randint(len(ys), (min(batch, len(ys)),), generator=gen)
            model.zero_grad(set_to_none=False)
            loss = F.cross_entropy(model(xs[idx]), ys[idx])
            loss.backward()
            g += torch.cat([p.grad.reshape(-1) for p in params]).numpy()
        comm.Allreduce(MPI.IN_PLACE, g)
        with torch.no_grad():
            flat = torch.from_numpy(g)
            offset = 0
            for p in params:
                n = p.numel()
                p.sub_(flat[offset : offset + n].view_as(p), alpha=lr / n_clients)
                offset += n
        _ = loss.item()  # a user logs the loss
    return time.perf_counter() - t0


def ratios(harness: list[float], bare: list[float]) -> dict[str, float]:
    """Three estimators of harness / bare from interleaved pairs of per-round times.

    On shared, oversubscribed cores the noise is one-sided (other work only ever
    adds time), so the ratio of the fastest runs is the steadiest; the median of
    per-pair ratios compares runs that were neighbours in time.
    """
    pairs = [h / b for h, b in zip(harness, bare)]
    return {"ratio_of_medians": statistics.median(harness) / statistics.median(bare),
            "median_pair_ratio": statistics.median(pairs),
            "ratio_of_minimums": min(harness) / min(bare),
            "pair_min": min(pairs), "pair_max": max(pairs)}


def report(job: Any, size: int, args: argparse.Namespace, harness: list[float], bare: list[float]) -> str:
    r = ratios(harness, bare)
    ms = lambda v: ", ".join(f"{x * 1e3:.3f}" for x in v)  # noqa: E731
    return "\n".join([
        f"hpcsketch bench overhead: {job.problem.kind}/{job.problem.model}, PSGD, {size} ranks, "
        f"{job.clients.count} clients, batch {job.problem.batch_size}, {job.run.rounds} rounds x {args.repeats} pairs",
        f"  harness round (ms): median {statistics.median(harness) * 1e3:.3f}  min {min(harness) * 1e3:.3f}  (runs: {ms(harness)})",
        f"  bare loop (ms):     median {statistics.median(bare) * 1e3:.3f}  min {min(bare) * 1e3:.3f}  (runs: {ms(bare)})",
        f"  harness / bare: ratio of minimums {r['ratio_of_minimums']:.3f}, median of pair ratios "
        f"{r['median_pair_ratio']:.3f}, ratio of medians {r['ratio_of_medians']:.3f} "
        f"(pairs {r['pair_min']:.3f} .. {r['pair_max']:.3f})",
    ])


def _run_ranks(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from hpcsketch.runner import Runner, RunOptions
    from hpcsketch.tracing.reader import read_trace

    world = MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    job = _load(args, size)
    tmp = world.bcast(tempfile.mkdtemp(prefix="hpcsketch-overhead-") if rank == 0 else None, root=0)
    harness, bare = [], []
    for rep in range(args.repeats):
        r = Runner(job, world, RunOptions(out=tmp, quiet=True, run_id=f"rep{rep}"))
        if r.run() != 0:
            return 1
        if rank == 0:
            t = read_trace(r.trace_path)
            evals = np.nansum(t.metrics.get("eval_seconds", np.zeros(1)))
            harness.append((float(t.summary["wall_seconds"]) - float(evals)) / job.run.rounds)
        local = r.layout.local
        secs = bare_loop(r.problem, world, local, job.clients.count, job.run.rounds, job.algorithm.lr,
                         job.problem.batch_size, job.run.seed + rep)
        secs = world.allreduce(secs, op=MPI.MAX)
        bare.append(secs / job.run.rounds)
    if rank == 0:
        print(report(job, size, args, harness, bare))
        sys.stdout.flush()
    return 0
