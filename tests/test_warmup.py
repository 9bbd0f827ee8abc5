"""The warm-up: one dry round on a copy of the method before round 1.

It must (1) leave results unchanged (the run's state is never touched) and (2) leave
nothing to compile for the timed rounds: no numba kernel gains a signature after it.
Checked for every method, with compressors covering every CPU kernel.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from mpi4py import MPI

from hpcsketch.config.job import load_job
from hpcsketch.runner import _shared_memo, build

PAIRS = [
    ("psgd", "none", ""), ("ef_sgd", "topk", ""), ("ef_sgd", "sign", ""), ("ef21", "topk", ""),
    ("compressed_sgd", "qsgd", ""), ("compressed_sgd", "randk", ""), ("sketch_dl", "count_sketch", ""),
    ("fetchsgd", "count_sketch", ""), ("cs_sgd", "subsampled_wht", ""), ("cs_sgd", "subsampled_dct", ""),
    ("local_sgd", "topk", "local_steps = 2"), ("scaffold", "none", "local_steps = 2"),
    ("fedavg_m", "none", "local_steps = 2"), ("dsgd", "none", ""), ("choco_sgd", "topk", ""), ("ist", "none", ""),
]


def _job(tmp_path, algorithm: str, compressor: str, extra: str):
    p = tmp_path / "w.toml"
    topology = '[topology]\nkind = "ring"\n' if algorithm in ("dsgd", "choco_sgd") else ""
    p.write_text(f"""
[run]
name = "w"
rounds = 3
[problem]
kind = "least_squares"
dim = 64
rows = 16
batch_size = 4
[clients]
count = 4
[algorithm]
kind = "{algorithm}"
lr = 0.05
{extra}
[compressor]
kind = "{compressor}"
k = 0.25
{topology}""")
    return load_job(str(p))


def _kernel_signatures() -> dict[str, int]:
    out = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("hpcsketch.kernels") and mod is not None:
            for attr, obj in vars(mod).items():
                if hasattr(obj, "signatures") and hasattr(obj, "py_func"):
                    out[f"{name}.{attr}"] = len(obj.signatures)
    return out


def _rounds(job, warm: bool) -> tuple[np.ndarray, dict[str, int], dict[str, int]]:
    import copy

    ctx, algo = build(job, MPI.COMM_SELF)
    algo.start()
    if warm:
        dry = copy.deepcopy(algo, memo=_shared_memo(algo, ctx))
        s = ctx.clients.sample(0)
        dry.round(0, s, ctx.clients.local_of(s))
    before = _kernel_signatures()
    for t in range(job.run.rounds):
        s = ctx.clients.sample(t)
        algo.round(t, s, ctx.clients.local_of(s))
    return np.array(ctx.backend.asnumpy(algo.model()), copy=True), before, _kernel_signatures()


def _check(tmp_path, algorithm: str, compressor: str, extra: str, mode: str = "warm") -> dict:
    """In a fresh process (nothing compiled yet): the warm run first, then the cold one."""
    job = _job(tmp_path, algorithm, compressor, extra).points()[0]
    warm, before, after = _rounds(job, warm=mode == "warm")
    cold, _, _ = _rounds(job, warm=False)
    grew = {k: (before.get(k, 0), v) for k, v in after.items() if v != before.get(k, 0)}
    return {"same": bool(np.array_equal(cold, warm)), "grew": grew, "kernels": sum(after.values())}


@pytest.mark.parametrize("algorithm,compressor,extra", PAIRS, ids=[f"{a}-{c}" for a, c, _ in PAIRS])
def test_the_warm_up_changes_no_result_and_leaves_nothing_to_compile(tmp_path, algorithm, compressor, extra):
    res = subprocess.run([sys.executable, __file__, str(tmp_path), algorithm, compressor, extra],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["same"], "the warm-up changed the results"
    assert not out["grew"], f"compiled during the timed rounds: {out['grew']}"
    if compressor in ("topk", "count_sketch", "subsampled_wht"):
        assert out["kernels"] > 0  # the check saw the compressor's numba kernels


def test_without_the_warm_up_the_timed_rounds_compile(tmp_path):
    """The check above has teeth: skip the warm-up and the first timed round compiles top-k."""
    res = subprocess.run([sys.executable, __file__, str(tmp_path), "ef_sgd", "topk", "", "cold"],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["grew"]


if __name__ == "__main__":
    from pathlib import Path

    print(json.dumps(_check(Path(sys.argv[1]), *sys.argv[2:])))
