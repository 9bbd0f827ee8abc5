"""The HDF5 trace layout, in one place (the README's schema section is generated from it).

Bump ``SCHEMA_VERSION`` on any change a reader must know about; readers refuse
files with a newer version.
"""

from __future__ import annotations

#: 2: checkpoints in files of their own beside the trace, checksummed (1: in /checkpoint inside the trace;
#: still read, unverified)
SCHEMA_VERSION = 2

STATUSES = ("running", "completed", "diverged", "failed", "interrupted")

ROOT_ATTRS = {
    "schema_version": "integer, this layout's version",
    "run_id": "unique id of the run (also in the file name)",
    "status": "running | completed | diverged | failed | interrupted",
    "message": "why the run ended, when it did not complete",
    "started": "ISO 8601 start time (UTC)",
    "finished": "ISO 8601 end time (UTC); empty while running",
    "heartbeat": "ISO 8601 time of the last flush",
    "rounds_planned": "rounds the job asked for",
    "rounds_done": "rounds recorded so far",
    "job": "the job file's text, as written",
    "job_source": "the job file's path",
    "job_overrides": "JSON list of the --set overrides",
    "job_resolved": "JSON of every key after defaults and overrides",
    "sweep_point": "JSON of the sweep point this run is ({} outside a sweep): axis -> value (a bundle axis: its label)",
    "sweep_point_keys": "JSON: sweep axis -> the section.key names it sets at this point",
    "seed": "the job seed",
    "name": "the run name (with the sweep point label)",
    "algorithm": "algorithm kind",
    "compressor": "compressor kind",
    "problem": "problem kind",
    "model": "model name",
    "dim": "model dimension d",
    "world_size": "MPI ranks",
    "clients": "logical clients",
    "hpcsketch_version": "package version",
    "git_commit": "commit of the hpcsketch checkout ('' when not a git checkout)",
    "writer_host": "host of rank 0 (to tell a dead run from a live one)",
    "writer_pid": "pid of rank 0",
    "checkpoint_step": "round of the last checkpoint (absent when none was written)",
    "checkpoint_file": "name of the checkpoint file, in the trace's directory (`NAME.h5.ckpt-STEP`; absent when none was written)",
    "checkpoint_sha256": "SHA-256 of the whole checkpoint file; --resume refuses a file that does not match",
    "resumed": "how many times the run was resumed (absent when never)",
}

#: root attributes of runs of a decentralized method (dsgd, choco_sgd) only
DECENTRALIZED_ATTRS = {
    "topology": "[topology] kind",
    "topology_weights": "metropolis or uniform",
    "topology_period": "rounds before a time-varying graph repeats (1 for a static one)",
    "topology_min_degree, topology_max_degree": "node degrees (of the first graph of the period)",
    "spectral_gap": "1 - abs(lambda_2(W)) (time-varying: of the period's product W_{T-1} ... W_0)",
    "spectral_gaps_per_round": "1 - abs(lambda_2(W_t)) for each round of the period (time-varying only)",
}

ENV_ATTRS = {
    "mpi_library": "MPI library version string",
    "mpi_vendor": "MPI vendor and version",
    "world_size": "MPI ranks",
    "hostnames": "host of each rank",
    "backend": "numpy | cupy",
    "devices": "GPU names per rank ('' on CPU)",
    "cuda_aware_mpi": "whether device buffers go to MPI directly (else staged through host)",
    "threads": "compute threads per rank",
    "launcher": "how the ranks were started",
    "python": "Python version",
    "numpy, torch, cupy, mpi4py, h5py, scipy": "versions ('' when absent)",
}

#: /trace/<metric>: one row per recorded step; step 0 holds the evaluation before training
TRACE_METRICS = {
    "step": "rounds completed when the row was recorded (0: before training)",
    "time": "seconds since the start of training (rank 0's clock)",
    "loss": "mean training minibatch loss over the round's participating clients (at the model before the update)",
    "eval_loss": "held-out loss after the round's update (NaN in rows without evaluation)",
    "eval_accuracy": "held-out accuracy after the update (classification problems)",
    "eval_<key>": "other evaluation sums a problem reports (e.g. gap, dist, grad_norm for quadratics)",
    "clients": "clients that took part in the round",
    "bytes_uplink": "bytes the participating clients would upload in the round (the federated view: payload sizes)",
    "bytes_downlink": "bytes the participating clients would download (the model, or what the method broadcasts)",
    "bytes_mpi": "bytes all ranks handed to MPI collectives as send buffers in the round (an Allreduce of b bytes on P ranks counts P*b)",
    "cum_bytes_uplink": "running total of bytes_uplink",
    "cum_bytes_mpi": "running total of bytes_mpi",
    "consensus_distance": "decentralized: mean_i ||x_i - x_bar||^2 over the nodes after the round",
    "bytes_per_neighbor": "decentralized: bytes a node sent to each of its out-neighbours in the round (mean over nodes)",
    "eval_worst_loss, eval_worst_accuracy": "decentralized: the worst node's own model on the whole held-out set (eval_loss / eval_accuracy are the average model's)",
    "<metric>": "method-specific metrics (e.g. grad_sparsity, recovery_error)",
}

#: /timing/<phase>: (recorded rounds x ranks) seconds; /timing/step gives the round of each row
TIMING_PHASES = ("compute", "compress", "communicate", "decompress", "update", "total")

#: root attributes written only when they apply
OPTIONAL_ROOT_ATTRS = ("checkpoint_step", "checkpoint_file", "checkpoint_sha256", "resumed")

#: /memory: resident memory of every rank at each flush (soak runs show it stays flat)
MEMORY = {
    "step": "round of the flush (int64)",
    "rss_mb": "(flushes x ranks) resident set size in MB",
}

#: the checkpoint file NAME.h5.ckpt-STEP beside the trace: what --resume needs. Each checkpoint is a
#: new file (written aside, fsynced, renamed); the trace then records it and the previous file is deleted
CHECKPOINT = {
    "attrs": "format ('hpcsketch-checkpoint'), format_version (1), run_id, trace (the trace's file name), step, "
             "world_size, written, runner_state (JSON: running totals), runner_state_sha256",
    "rank<r>/<name>": "rank r's algorithm state arrays (model, residuals, momenta, control variates; '/' in names is '|'); "
                      "attribute sha256: SHA-256 of the array's dtype, shape and bytes",
    "(schema 1)": "the same attrs (without checksums) and rank<r> groups in /checkpoint inside the trace; still read, unverified",
}

#: /hessian: one row per loss-Hessian measurement ([hessian] in the job; also the file `hpcsketch hessian` writes)
HESSIAN = {
    "attrs": "the settings: lanczos_steps, probes, top, grid, sigma, batch, data; dim (d); "
             "files from `hpcsketch hessian` add trace, run_id, checkpoint_step, checkpoint_rank, checkpoint_world_size, world_size (of the measurement), problem, model, seed, hpcsketch_version, created",
    "step": "(m,) int64: rounds completed when measured (0: the initial model)",
    "eigenvalues": "(m x top) largest Ritz values, descending (NaN-padded)",
    "residuals": "(m x top) their residual bounds |beta s_last| (an eigenvalue lies within this of each)",
    "lambda_max, lambda_min": "(m,) largest Ritz value and smallest Gauss node over the probes",
    "grid": "(m x grid) the points the density is given at (each measurement spans its own spectrum)",
    "density": "(m x grid) SLQ spectral density, Gaussian-smoothed (sigma x span), integrating to 1 (times d: eigenvalues per unit)",
    "trace_norm, trace_norm_stderr": "(m,) SLQ estimate of sum_i |lambda_i| and its standard error over the probes",
    "kappa": "(m,) trace_norm / lambda_max",
    "hvps": "(m,) int64: Hessian-vector products the measurement cost (probes x Lanczos steps)",
    "seconds": "(m,) wall time of the measurement on rank 0 (not in /timing; it is in /trace/time)",
}

SUMMARY_ATTRS = {
    "rounds_done": "rounds completed",
    "wall_seconds": "seconds of training (rank 0)",
    "rounds_per_second": "rounds_done / wall_seconds",
    "final_<metric>": "last recorded value of each metric",
    "best_eval_accuracy": "highest eval accuracy seen",
    "total_bytes_uplink, total_bytes_mpi, total_bytes_downlink": "totals over the run",
    "mean_<phase>_seconds": "mean over rounds and ranks of each phase's time",
    "rounds_to_target, bytes_uplink_to_target, bytes_mpi_to_target, seconds_to_target": "first step reaching [run] target_accuracy / target_loss (-1 if never)",
}


def schema_markdown() -> str:
    def table(title: str, rows: dict[str, str]) -> list[str]:
        out = [f"**{title}**", "", "| name | meaning |", "|---|---|"]
        # a bare '|' in a cell would end it (GitHub tables)
        out += [f"| `{k}` | {v.replace('|', chr(92) + '|')} |" for k, v in rows.items()]
        return out + [""]

    lines = [f"Schema version {SCHEMA_VERSION}.", ""]
    lines += table("/ (root attributes)", ROOT_ATTRS)
    lines += table("/ (root attributes of decentralized runs)", DECENTRALIZED_ATTRS)
    lines += table("/env (attributes)", ENV_ATTRS)
    lines += table("/trace/<metric> (1-D float64 datasets, one row per step; `step` is int64)", TRACE_METRICS)
    lines += [
        "**/timing/<phase>** (2-D float64 datasets, rounds x ranks, seconds): "
        + ", ".join(f"`{p}`" for p in TIMING_PHASES)
        + "; `/timing/step` (int64) gives each row's round.",
        "",
    ]
    lines += table("/memory", MEMORY)
    lines += table("checkpoint file `NAME.h5.ckpt-STEP` (beside the trace; the trace's checkpoint_* attributes name it)",
                   CHECKPOINT)
    lines += table("/hessian (only when measured)", HESSIAN)
    lines += table("/summary (attributes)", SUMMARY_ATTRS)
    return "\n".join(lines)
