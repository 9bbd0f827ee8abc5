"""Tables derived from the loaded traces: what the plots draw and the report lists.

Kept apart from the drawing so that the report, the CSV files and the tests
all see the same numbers as the figures.
"""

from __future__ import annotations

import json

import math
from typing import Iterable

import numpy as np
import pandas as pd

from hpcsketch.analysis.load import KEY_COLUMNS, Results, describe_runs, finite_float, fmt_value
from hpcsketch.analysis.network import Link

PHASES = ("compute", "compress", "communicate", "decompress", "update")
#: x axes of the metric curves: steps-table column -> axis label
X_AXES = {
    "step": "round",
    "cum_bytes_uplink": "uplink bytes, cumulative (all clients)",
    "cum_bytes_mpi": "MPI bytes, cumulative (all ranks)",
    "cum_seconds": "training time (s)",
}
#: what each x axis counts, for the figure's title
X_NOTES = {
    "step": "",
    "cum_bytes_uplink": " (bytes the participating clients upload: the federated view)",
    "cum_bytes_mpi": " (send buffers handed to MPI collectives by all ranks)",
    "cum_seconds": " (sum of the slowest rank's round times; evaluation not counted)",
}
DEFAULT_METRICS = ("loss", "eval_loss", "eval_accuracy")


def recorded(steps: pd.DataFrame, metric: str) -> bool:
    """Whether any run has a finite value of ``metric``."""
    return metric in steps and bool(np.isfinite(pd.to_numeric(steps[metric], errors="coerce")).any())


def curve_metrics(steps: pd.DataFrame, wanted: Iterable[str] | None = None) -> list[str]:
    """The metrics to draw against rounds/bytes/time: ``wanted``, or the default ones recorded."""
    return [m for m in (wanted or DEFAULT_METRICS) if recorded(steps, m)]


def quality_metric(steps: pd.DataFrame) -> str:
    """eval_accuracy where recorded, else the optimality gap (quadratics: f(x) - f* >= 0, where
    f(x) itself may be negative; loss targets use it too), else eval_loss, else loss."""
    for m in ("eval_accuracy", "eval_gap", "eval_loss"):
        if recorded(steps, m):
            return m
    return "loss"


def higher_is_better(metric: str) -> bool:
    return "accuracy" in metric


def curves(results: Results, x: str, metrics: Iterable[str]) -> pd.DataFrame:
    """Long table of (x, value) points per run and metric, finite values only.

    Columns: run_id, label, status, metric, x, value. Points with x <= 0 are
    left out for byte axes (they are drawn on a log scale; only step 0 has 0 bytes).
    """
    cols = ["run_id", "label", "status", "metric", "x", "value"]
    steps = results.steps
    if x not in steps:
        return pd.DataFrame(columns=cols)
    frames = []
    meta = results.runs.set_index("run_id")[["label", "status"]]
    for m in metrics:
        if m not in steps:
            continue
        d = steps[["run_id", x, m]].rename(columns={x: "x", m: "value"})
        d = d[np.isfinite(d["value"].astype(float)) & np.isfinite(d["x"].astype(float))]
        if x.startswith("cum_bytes"):
            d = d[d["x"] > 0]
        d = d.assign(metric=m)
        frames.append(d)
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    out = out.join(meta, on="run_id")
    return out[cols].reset_index(drop=True)


def phase_means(results: Results) -> pd.DataFrame:
    """Mean seconds per round of each phase (over rounds and ranks), one row per run.

    ``other`` is the round's total minus the timed phases (harness overhead,
    waiting); runs without timing rows get NaN and are listed, not dropped.
    """
    t = results.timing
    base = results.runs[["run_id", "label", "status"]].copy()
    if t.empty:
        for p in (*PHASES, "other"):
            base[p] = np.nan
        return base
    # every phase has one entry per (round, rank) (the writer fills untimed phases with 0),
    # so the mean of the total minus the phases' means is the mean of the untimed rest
    means = t.groupby(["run_id", "phase"])["seconds"].mean().unstack("phase")
    for p in (*PHASES, "total"):
        if p not in means:
            means[p] = 0.0
    means["other"] = means["total"] - means[list(PHASES)].sum(axis=1)
    return base.join(means[[*PHASES, "other"]], on="run_id")


def final_points(results: Results, metric: str) -> pd.DataFrame:
    """Final value of ``metric`` against the compression ratio, one row per run.

    Columns: run_id, label, method, status, compression_ratio, value. ``method``
    groups the runs that make one line: algorithm + compressor + the varied keys
    outside [compressor] (which set the ratio on the x axis).
    """
    runs = results.runs
    group_cols = ["algorithm", "compressor"] + [
        c for c in results.varied if c not in ("algorithm", "compressor") and not c.startswith("compressor.")
    ]
    method = describe_runs(runs, group_cols)
    # a sweep with bundle axes names its lines by the axes that do not set the compression
    # level: an axis that sets compressor keys but not compressor.kind moves along the x axis
    # (a "method" axis that picks the compressor makes lines)
    def sets_level(ks: list[str]) -> bool:
        return any(k.startswith("compressor.") for k in ks) and "compressor.kind" not in ks

    for i, (_, r) in enumerate(runs.iterrows()):
        keys = json.loads(r.get("sweep_axis_keys") or "{}") if isinstance(r.get("sweep_axis_keys"), str) else {}
        if keys and any("." not in a for a in keys):
            parts = [fmt_value(r.get(KEY_COLUMNS.get(a, a))) for a, ks in keys.items() if not sets_level(ks)]
            method[i] = " ".join(p for p in parts if p and p != "nan") or method[i]
    col = f"final_{metric}"
    return pd.DataFrame({
        "run_id": runs["run_id"],
        "label": runs["label"],
        "method": pd.Series(method, index=runs.index, dtype=object),
        "status": runs["status"],
        "compression_ratio": runs["compression_ratio"].astype(float),
        "value": runs[col].astype(float) if col in runs else np.nan,
    })


def scaling(results: Results) -> pd.DataFrame:
    """Runs that differ only in world_size: rounds per second and phase times per run.

    Columns: group, run_id, label, status, world_size, rounds_per_second,
    then one column per phase (mean seconds per round). Only groups with at
    least two world sizes are kept: a single point says nothing about scaling.
    """
    runs = results.runs
    cols = ["group", "run_id", "label", "status", "world_size", "rounds_per_second", *PHASES]
    if runs.empty or "world_size" not in runs:
        return pd.DataFrame(columns=cols)
    key_cols = [c for c in results.varied if c != "world_size"]
    # runs with the same resolved job apart from world_size share every varied value but world_size
    group = pd.Series(describe_runs(runs, key_cols), index=runs.index, dtype=object)
    phases = phase_means(results).set_index("run_id")[list(PHASES)]
    df = pd.DataFrame({
        "group": group,
        "run_id": runs["run_id"],
        "label": runs["label"],
        "status": runs["status"],
        "world_size": runs["world_size"],
        "rounds_per_second": runs["train_rounds_per_second"].astype(float),
    }).join(phases, on="run_id")
    sizes = df.groupby("group")["world_size"].nunique()
    df = df[df["group"].isin(sizes[sizes >= 2].index)]
    return df.sort_values(["group", "world_size"], kind="stable")[cols].reset_index(drop=True)


def target_for(run: pd.Series, steps: pd.DataFrame, target_accuracy: float | None, target_loss: float | None) -> tuple[str, float] | None:
    """The (metric, target) a run is measured against, or None.

    The command line's targets win over the job's [run] target_accuracy /
    target_loss. An accuracy target applies to runs that record eval_accuracy;
    a loss target is on eval_gap where the problem reports one (quadratics),
    else on eval_loss, as the runner does.
    """
    acc = target_accuracy if target_accuracy is not None else finite_float(run.get("target_accuracy"))
    loss = target_loss if target_loss is not None else finite_float(run.get("target_loss"))
    if acc is not None and recorded(steps, "eval_accuracy"):
        return "eval_accuracy", acc
    if loss is not None:
        for m in ("eval_gap", "eval_loss"):
            if recorded(steps, m):
                return m, loss
    return None


def first_reaching(steps: pd.DataFrame, metric: str, target: float) -> pd.Series | None:
    """The first step row where ``metric`` reaches ``target`` (>= for accuracy, <= otherwise)."""
    v = pd.to_numeric(steps[metric], errors="coerce")
    hit = (v >= target) if higher_is_better(metric) else (v <= target)
    hit &= np.isfinite(v)
    if not hit.any():
        return None
    return steps.sort_values("step", kind="stable").loc[hit[hit].index].iloc[0]


def targets(results: Results, target_accuracy: float | None = None, target_loss: float | None = None) -> pd.DataFrame:
    """Rounds, bytes and measured seconds to the target, one row per run.

    Columns: run_id, label, status, metric, target, reached, step,
    cum_bytes_uplink, cum_bytes_mpi, cum_seconds (NaN where not reached or
    where no target applies; metric is '' then).
    """
    rows = []
    for _, run in results.runs.iterrows():
        steps = results.steps_of(run["run_id"])
        row = {"run_id": run["run_id"], "label": run["label"], "status": run["status"], "metric": "",
               "target": np.nan, "reached": False, "step": np.nan,
               "cum_bytes_uplink": np.nan, "cum_bytes_mpi": np.nan, "cum_seconds": np.nan}
        t = target_for(run, steps, target_accuracy, target_loss)
        if t is not None:
            row["metric"], row["target"] = t
            hit = first_reaching(steps, *t)
            if hit is not None:
                row["reached"] = True
                for k in ("step", "cum_bytes_uplink", "cum_bytes_mpi", "cum_seconds"):
                    row[k] = float(hit[k]) if k in hit else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["run_id", "label", "status", "metric", "target", "reached", "step",
                                       "cum_bytes_uplink", "cum_bytes_mpi", "cum_seconds"])


def network_summary(results: Results, predictions: pd.DataFrame, links: Iterable[Link], goal: pd.DataFrame) -> pd.DataFrame:
    """Per run and link: predicted time for every recorded round, and to the target.

    Columns: run_id, label, status, link, rounds, predicted_seconds (all
    recorded rounds), target_step, predicted_seconds_to_target (NaN when the
    run has no target or never reached it).
    """
    rows = []
    goal = goal.set_index("run_id")
    for link in links:
        p = predictions[predictions["link"] == link.name]
        for _, run in results.runs.iterrows():
            rid = run["run_id"]
            mine = p[p["run_id"] == rid]
            last = mine.iloc[-1] if len(mine) else None
            step = goal.at[rid, "step"] if rid in goal.index else np.nan
            to_target = np.nan
            if isinstance(step, float) and math.isfinite(step):
                at = mine[mine["step"] == step]["predicted_seconds"]
                to_target = float(at.iloc[0]) if len(at) else np.nan
            rows.append({"run_id": rid, "label": run["label"], "status": run["status"], "link": link.name,
                         "rounds": int(last["step"]) if last is not None else 0,
                         "predicted_seconds": float(last["predicted_seconds"]) if last is not None else np.nan,
                         "target_step": step, "predicted_seconds_to_target": to_target})
    return pd.DataFrame(rows, columns=["run_id", "label", "status", "link", "rounds", "predicted_seconds",
                                       "target_step", "predicted_seconds_to_target"])
