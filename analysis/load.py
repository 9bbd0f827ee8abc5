"""Many traces into tables: runs (one row per trace), steps, timing, and for runs that
measured the loss Hessian ([hessian]) hessian and hessian_density.

Every file that is found is accounted for: a readable trace becomes a row of
the runs table whatever its status, and a file that ``read_trace`` refuses is
listed in ``Results.unreadable`` with its one-line reason.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from hpcsketch.errors import BadInput
from hpcsketch.tracing.reader import Trace, read_trace

#: resolved job keys that say nothing about the method (bookkeeping), never "varied"
IGNORED_KEYS = frozenset({"run.name", "run.out", "run.progress", "run.flush_every", "run.flush_seconds"})
#: resolved job keys that the runs table already holds under a root attribute's name
KEY_COLUMNS = {
    "algorithm.kind": "algorithm",
    "compressor.kind": "compressor",
    "problem.kind": "problem",
    "problem.model": "model",
    "clients.count": "clients",
    "run.target_accuracy": "target_accuracy",
    "run.target_loss": "target_loss",
}
ROOT_COLUMNS = ("name", "algorithm", "compressor", "problem", "model", "dim", "world_size", "clients", "seed",
                "rounds_planned", "started", "finished", "git_commit", "hpcsketch_version")
#: bytes per coordinate of a dense payload (compressors work in float32)
DENSE_ITEMSIZE = 4
#: what turning one trace into table rows may raise (a value read_trace let through); the trace is
#: then listed as unreadable and the others analysed
ANALYSIS_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, ZeroDivisionError, AttributeError)
#: runs-table columns a sweep point's axis may not overwrite
OWN_COLUMNS = frozenset({"run_id", "label", "path", "status", "message", "rounds_done", "sweep_axes",
                         "sweep_axis_keys", "job_name"})
#: statuses drawn as complete; everything else is drawn dashed with its status
COMPLETE = "completed"
#: /hessian datasets with one number per measurement (the hessian table's columns besides run_id, step, dim)
HESSIAN_SCALARS = ("lambda_max", "lambda_min", "trace_norm", "trace_norm_stderr", "kappa", "hvps", "seconds")
HESSIAN_COLUMNS = ("run_id", "step", "dim", *HESSIAN_SCALARS, "kappa_over_d")
DENSITY_COLUMNS = ("run_id", "step", "t", "density")


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


@dataclass
class Unreadable:
    path: str
    reason: str


@dataclass
class Results:
    """The loaded traces.

    runs: one row per readable trace (see :func:`load` for the columns).
    steps: one row per (run_id, step) with every /trace metric as a column,
      plus round_seconds (the slowest rank's total for the round) and
      cum_seconds (their running sum: training time without evaluation).
    timing: one row per (run_id, step, rank, phase) with seconds.
    unreadable: files found that are not readable traces, with the reason.
    varied: runs-table columns whose values differ between runs (the sweep's
      varied keys, found from the resolved jobs).
    hessian: one row per (run_id, step) of a loss-Hessian measurement: dim,
      lambda_max, lambda_min, trace_norm (sum |lambda_i|), trace_norm_stderr,
      kappa, hvps, seconds and kappa_over_d (empty when no run measured).
    hessian_density: one row per (run_id, step, t): the smoothed spectral
      density on the measurement's grid.
    """

    runs: pd.DataFrame
    steps: pd.DataFrame
    timing: pd.DataFrame
    unreadable: list[Unreadable] = field(default_factory=list)
    varied: list[str] = field(default_factory=list)
    hessian: pd.DataFrame = field(default_factory=lambda: _empty(HESSIAN_COLUMNS))
    hessian_density: pd.DataFrame = field(default_factory=lambda: _empty(DENSITY_COLUMNS))

    def run(self, run_id: str) -> pd.Series:
        return self.runs.set_index("run_id").loc[run_id]

    def steps_of(self, run_id: str) -> pd.DataFrame:
        return self.steps[self.steps["run_id"] == run_id]


def find_traces(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named on the command line, and every ``*.h5`` under named directories.

    A path that does not exist is bad input; the same file named twice is read once.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        if not p.exists():
            raise BadInput("no such file or directory", source=str(p))
        files = sorted(q for q in p.rglob("*.h5") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                found.append(f)
    return found


def load(paths: Iterable[str | os.PathLike[str]]) -> Results:
    """Read every trace under ``paths`` into :class:`Results`.

    runs columns: run_id, label, path, status, message, rounds_done and the
    root attributes (name, algorithm, compressor, problem, model, dim,
    world_size, clients, seed, rounds_planned, ...), the sweep point's keys and
    the varied resolved keys (dotted, e.g. ``compressor.ratio``), ratio_nominal,
    ratio_measured, compression_ratio, final_<metric> (last finite value),
    best_eval_accuracy, total_bytes_{uplink,downlink,mpi}, train_seconds,
    train_rounds_per_second, and the /summary attributes not computed here
    (wall_seconds, rounds_per_second, mean_<phase>_seconds, *_to_target, ...).
    """
    traces: list[Trace] = []
    unreadable: list[Unreadable] = []
    for path in find_traces(paths):
        try:
            traces.append(read_trace(path))
        except BadInput as e:
            unreadable.append(Unreadable(str(path), e.detail))
    return tables_from_traces(traces, unreadable)


def tables_from_traces(traces: list[Trace], unreadable: list[Unreadable] | None = None) -> Results:
    unreadable = list(unreadable or [])
    ids = _unique_ids(traces)
    resolved: list[dict[str, Any]] = []
    step_frames, timing_frames, rows, hessian_frames, density_frames = [], [], [], [], []
    for t, rid in zip(traces, ids):
        # read_trace has checked every part a table is made from; should a trace still not go into
        # the tables, it is listed like an unreadable file, and the others are analysed
        try:
            flat = _flatten(t.job_resolved)
            steps = _steps_frame(t, rid)
            timing = _timing_frame(t, rid)
            steps = _add_round_seconds(steps, timing)
            row = _run_row(t, rid, flat, steps)
            frames = _hessian_frames(t, rid) if t.hessian.get("step") is not None and len(t.hessian["step"]) else None
        except ANALYSIS_ERRORS as e:
            text = str(e).splitlines()[0] if str(e) else ""
            reason = f"cannot be analysed ({type(e).__name__}: {text})".encode("utf-8", "backslashreplace").decode()
            unreadable.append(Unreadable(str(t.path), reason))
            continue
        resolved.append(flat)
        step_frames.append(steps)
        timing_frames.append(timing)
        rows.append(row)
        if frames is not None:
            hessian_frames.append(frames[0])
            density_frames.append(frames[1])
    runs = pd.DataFrame(rows)
    varied = _varied_columns(runs, resolved)
    for col in varied:
        if col not in ROOT_COLUMNS:  # root attributes are the run's own record; keep them
            runs[col] = [_used_value(flat, _dotted(col)) for flat in resolved]
    if not runs.empty:
        runs.insert(1, "label", make_labels(runs, varied))
        runs = _sorted(runs, varied)
    steps = pd.concat(step_frames, ignore_index=True) if step_frames else pd.DataFrame(columns=["run_id", "step"])
    timing = pd.concat(timing_frames, ignore_index=True) if timing_frames else _empty_timing()
    hessian = pd.concat(hessian_frames, ignore_index=True) if hessian_frames else _empty(HESSIAN_COLUMNS)
    density = pd.concat(density_frames, ignore_index=True) if density_frames else _empty(DENSITY_COLUMNS)
    return Results(runs, steps, timing, unreadable, varied, hessian, density)


# ---------------------------------------------------------------- one trace


def _steps_frame(t: Trace, rid: str) -> pd.DataFrame:
    metrics = t.metrics
    n = max((len(v) for v in metrics.values()), default=0)
    data: dict[str, Any] = {"run_id": np.full(n, rid, dtype=object)}
    for name in sorted(metrics):
        v = np.asarray(metrics[name])
        if len(v) < n:  # defensive: the writer keeps every column the same length
            v = np.concatenate([v.astype(np.float64), np.full(n - len(v), np.nan)])
        data[name] = v
    df = pd.DataFrame(data)
    if "step" not in df:
        df["step"] = np.arange(n, dtype=np.int64)
    for per_round, cum in (("bytes_uplink", "cum_bytes_uplink"), ("bytes_mpi", "cum_bytes_mpi"), ("bytes_downlink", "cum_bytes_downlink")):
        if per_round in df and cum not in df:
            df[cum] = df[per_round].fillna(0.0).cumsum()
    return df


def _hessian_frames(t: Trace, rid: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trace's /hessian rows: (one row per measurement, the densities in long form)."""
    rows = t.hessian
    steps = np.asarray(rows["step"], dtype=np.int64)
    n = len(steps)
    dim = float(t.hessian_attrs.get("dim", t.attrs.get("dim", math.nan)))
    data: dict[str, Any] = {"run_id": np.full(n, rid, dtype=object), "step": steps, "dim": np.full(n, dim)}
    for name in HESSIAN_SCALARS:
        data[name] = np.asarray(rows[name], dtype=np.float64) if name in rows else np.full(n, math.nan)
    scalars = pd.DataFrame(data)
    scalars["kappa_over_d"] = scalars["kappa"] / scalars["dim"]
    grid, dens = np.asarray(rows.get("grid", np.empty((n, 0)))), np.asarray(rows.get("density", np.empty((n, 0))))
    density = pd.DataFrame({"run_id": np.full(grid.size, rid, dtype=object), "step": np.repeat(steps, grid.shape[1]),
                            "t": grid.ravel().astype(np.float64), "density": dens.ravel().astype(np.float64)})
    return scalars, density


def _timing_frame(t: Trace, rid: str) -> pd.DataFrame:
    steps = np.asarray(t.timing.get("step", []), dtype=np.int64)
    frames = []
    for phase, arr in t.timing.items():
        if phase == "step":
            continue
        arr = np.asarray(arr, dtype=np.float64)
        if arr.ndim != 2:
            continue
        rows = min(len(steps), arr.shape[0])
        ranks = arr.shape[1]
        frames.append(pd.DataFrame({
            "run_id": rid,
            "step": np.repeat(steps[:rows], ranks),
            "rank": np.tile(np.arange(ranks), rows),
            "phase": phase,
            "seconds": arr[:rows].ravel(),
        }))
    return pd.concat(frames, ignore_index=True) if frames else _empty_timing()


def _empty_timing() -> pd.DataFrame:
    return pd.DataFrame({"run_id": pd.Series(dtype=object), "step": pd.Series(dtype=np.int64),
                         "rank": pd.Series(dtype=np.int64), "phase": pd.Series(dtype=object),
                         "seconds": pd.Series(dtype=np.float64)})


def _add_round_seconds(steps: pd.DataFrame, timing: pd.DataFrame) -> pd.DataFrame:
    """round_seconds: the slowest rank's total for the round; cum_seconds: their running sum."""
    total = timing[timing["phase"] == "total"]
    if total.empty:
        steps["round_seconds"] = np.nan
        steps["cum_seconds"] = np.nan
        return steps
    slowest = total.groupby("step")["seconds"].max()
    steps["round_seconds"] = steps["step"].map(slowest)
    # step 0 (before training) and rows without a timed round add no time
    steps["cum_seconds"] = steps["round_seconds"].fillna(0.0).cumsum()
    return steps


def _run_row(t: Trace, rid: str, flat: dict[str, Any], steps: pd.DataFrame) -> dict[str, Any]:
    a = t.attrs
    # a file name that is not UTF-8 (lone surrogates) could not be written to the CSV files: escaped
    path = str(t.path).encode("utf-8", "backslashreplace").decode("utf-8")
    row: dict[str, Any] = {"run_id": rid, "path": path, "status": t.status, "message": a.get("message", "")}
    if t.status != a.get("status") and not row["message"]:
        row["message"] = "writer process is gone but the trace says running (the run died)"
    done = int(steps["step"].max()) if len(steps) else 0
    row["rounds_done"] = int(a.get("rounds_done", done) or done)
    for k in ROOT_COLUMNS:
        row[k] = a.get(k, np.nan)
    if pd.isna(row["world_size"]):
        row["world_size"] = t.env.get("world_size", np.nan)
    for dotted in ("run.target_accuracy", "run.target_loss"):
        row[KEY_COLUMNS[dotted]] = _scalar(flat.get(dotted))
    for k, v in t.sweep_point.items():
        if KEY_COLUMNS.get(k, k) not in OWN_COLUMNS:
            row[KEY_COLUMNS.get(k, k)] = _scalar(v)
    row["sweep_axes"] = json.dumps(list(t.sweep_point))
    row["sweep_axis_keys"] = t.attrs.get("sweep_point_keys", "{}") or "{}"
    row["job_name"] = str(flat.get("run.name", ""))
    row.update(_final_values(steps))
    row.update(_ratios(t, flat, steps))
    rounds = steps["round_seconds"].notna().sum() if "round_seconds" in steps else 0
    row["train_seconds"] = float(steps["round_seconds"].sum()) if rounds else np.nan
    row["train_rounds_per_second"] = rounds / row["train_seconds"] if rounds and row["train_seconds"] > 0 else np.nan
    for k, v in t.summary.items():
        row.setdefault(k, _scalar(v))
    return row


def _final_values(steps: pd.DataFrame) -> dict[str, float]:
    """Last finite value of every metric (as the runner's summary does), plus totals."""
    out: dict[str, float] = {}
    skip = {"run_id", "step", "round_seconds", "cum_seconds"}
    for name in steps.columns:
        if name in skip or name.startswith("cum_"):
            continue
        v = pd.to_numeric(steps[name], errors="coerce").to_numpy(dtype=np.float64)
        finite = v[np.isfinite(v)]
        out[f"final_{name}"] = float(finite[-1]) if len(finite) else np.nan
    if "eval_accuracy" in steps:
        acc = steps["eval_accuracy"].to_numpy(dtype=np.float64)
        out["best_eval_accuracy"] = float(np.nanmax(acc)) if np.isfinite(acc).any() else np.nan
    for k in ("bytes_uplink", "bytes_downlink", "bytes_mpi"):
        out[f"total_{k}"] = float(steps[k].sum()) if k in steps else np.nan
    return out


def _ratios(t: Trace, flat: dict[str, Any], steps: pd.DataFrame) -> dict[str, float]:
    """Nominal ratio (the job's ``compressor.ratio`` where the compressor reads it)
    and measured ratio (dense bytes per client / measured uplink bytes per client)."""
    comp = t.attrs.get("compressor", flat.get("compressor.kind"))
    nominal = np.nan
    reads = reads_key("compressor.ratio", comp)
    if "dense_bytes_uplink" in steps and "bytes_uplink" in steps:
        # the method compresses without a [compressor] (IST's blocks) and records what dense
        # data parallelism would upload: the ratio is measured against that, in the model's dtype
        sent = steps["bytes_uplink"].sum()
        ratio = float(steps["dense_bytes_uplink"].sum() / sent) if sent > 0 else np.nan
        return {"ratio_nominal": np.nan, "ratio_measured": ratio, "compression_ratio": ratio}
    if comp == "none":
        nominal = 1.0
    elif reads or (reads is None and "compressor.ratio" in t.sweep_point):
        v = flat.get("compressor.ratio")
        nominal = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan
    measured = np.nan
    dim = t.attrs.get("dim")
    if dim and {"bytes_uplink", "clients"} <= set(steps.columns):
        rounds = steps[(steps["clients"] > 0) & steps["bytes_uplink"].notna()]
        sent = rounds["bytes_uplink"].sum() / rounds["clients"].sum() if len(rounds) else 0.0
        if sent > 0:
            measured = float(dim) * DENSE_ITEMSIZE / sent
    ratio = nominal if math.isfinite(nominal) else measured
    return {"ratio_nominal": nominal, "ratio_measured": measured, "compression_ratio": ratio}


def reads_key(dotted: str, kind: Any) -> bool | None:
    """Whether this install's ``kind`` of the key's section reads ``section.key``.

    None when this install cannot tell (no registry for the section, or a kind
    it does not know). Every resolved job holds every key of a section with its
    default, so a key's presence does not say that the method used it.
    """
    section, _, key = dotted.partition(".")
    if not isinstance(kind, str):
        return None
    try:
        from hpcsketch.config.schema import key_owners, registry_for

        reg = registry_for(section)
        if reg is None or kind not in reg:
            return None
        owners = key_owners(section).get(key)
    except Exception:  # a registry that cannot import here: unknown, keep the key
        return None
    if owners is None:
        return False
    parts = [o.strip() for o in owners.split(",")]
    return "(common)" in parts or kind in parts


# ---------------------------------------------------------------- across traces


def _unique_ids(traces: list[Trace]) -> list[str]:
    """run_id, made unique (a copied trace keeps its id; the file stem stands in for a missing one)."""
    ids, seen = [], {}
    for t in traces:
        rid = str(t.attrs.get("run_id") or t.path.stem)
        n = seen.get(rid, 0)
        seen[rid] = n + 1
        ids.append(rid if n == 0 else f"{rid}#{n + 1}")
    return ids


def _flatten(resolved: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for sec, values in resolved.items():
        if isinstance(values, dict):
            for k, v in values.items():
                out[f"{sec}.{k}"] = v
    return out


def _dotted(col: str) -> str:
    for dotted, name in KEY_COLUMNS.items():
        if name == col:
            return dotted
    return col


def _scalar(v: Any) -> Any:
    """Table cells hold scalars; lists and tables go in as JSON text."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return np.nan if v is None else v


def _used_value(flat: dict[str, Any], dotted: str) -> Any:
    """The resolved value, or NaN where the run's method does not read the key (it holds a default)."""
    section = dotted.partition(".")[0]
    if section in ("algorithm", "compressor", "problem") and reads_key(dotted, flat.get(f"{section}.kind")) is False:
        return np.nan
    return _scalar(flat.get(dotted))


def _sorted(runs: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """Runs ordered by method, then by the varied keys (numbers as numbers), so legends read in order."""
    keys = [c for c in ("algorithm", "compressor", *varied, "run_id") if c in runs]
    keys = list(dict.fromkeys(keys))
    try:
        out = runs.sort_values(keys, kind="stable", na_position="last")
    except TypeError:  # a column mixing numbers and text: fall back to the labels
        out = runs.sort_values(["label", "run_id"], kind="stable")
    return out.reset_index(drop=True)


def _varied_columns(runs: pd.DataFrame, resolved: list[dict[str, Any]]) -> list[str]:
    """Runs-table columns that differ between runs: resolved job keys, then world_size."""
    if len(resolved) < 2:
        return []
    keys = sorted(set().union(*resolved) - IGNORED_KEYS)
    varied = []
    for k in keys:
        values = {json.dumps(flat.get(k), sort_keys=True, default=str) for flat in resolved}
        if len(values) > 1:
            varied.append(KEY_COLUMNS.get(k, k))
    if "world_size" in runs and runs["world_size"].nunique(dropna=False) > 1:
        varied.append("world_size")
    return varied


def describe_runs(runs: pd.DataFrame, cols: Iterable[str]) -> list[str]:
    """``algorithm+compressor key=value ...`` for each run over ``cols`` (short key names).

    Keys without a value for a run (NaN: unset, or not read by its method) are left out.
    """
    extra = [c for c in cols if c not in ("algorithm", "compressor")]
    short = {c: c.rsplit(".", 1)[-1] for c in extra}
    clash = {s for s in short.values() if list(short.values()).count(s) > 1}
    short = {c: (c if s in clash else s) for c, s in short.items()}
    if "world_size" in short:
        short["world_size"] = "P"
    out = []
    for _, r in runs.iterrows():
        parts = [f"{r.get('algorithm', '?')}+{r.get('compressor', '?')}"]
        # NaN: the run's method does not read the key (or it is unset)
        parts += [f"{short[c]}={fmt_value(r.get(c))}" for c in extra if not _isnan(r.get(c))]
        out.append(" ".join(parts))
    return out


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def make_labels(runs: pd.DataFrame, varied: list[str]) -> list[str]:
    """Short legend labels.

    A run from a sweep is named by its grid point, the way the job file names it
    (a bundle axis by its label: ``cs_sgd d/Q=5 iid``; a plain axis as ``ratio=5``),
    prefixed by the job's name when several jobs are compared. Other runs get
    method + compressor + the keys that vary between the runs (``ratio=10 lr=0.1``).
    """
    labels = describe_runs(runs, varied)
    if "sweep_axes" in runs:
        several_jobs = runs.get("job_name", pd.Series(dtype=object)).nunique() > 1
        for i, (_, r) in enumerate(runs.iterrows()):
            axes = json.loads(r["sweep_axes"]) if isinstance(r["sweep_axes"], str) else []
            if not any("." not in a for a in axes):
                continue  # plain "section.key" axes only: the varied-keys label says it best
            parts = []
            for a in axes:
                v = r.get(KEY_COLUMNS.get(a, a))
                if not _isnan(v):
                    parts.append(fmt_value(v) if "." not in a else f"{a.rsplit('.', 1)[-1]}={fmt_value(v)}")
            labels[i] = (f"{r.get('job_name')}: " if several_jobs else "") + " ".join(parts)
    # identical configurations (repeats) are told apart by run id
    counts = pd.Series(labels).value_counts()
    return [lab if counts[lab] == 1 else f"{lab} ({rid})" for lab, rid in zip(labels, runs["run_id"])]


def finite_float(v: Any) -> float | None:
    """``v`` as a finite float, or None (missing, NaN, inf, not a number)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:g}"
    return str(v)
