"""The round loop.

One run, on every rank::

    set-up (local)  -> agree (one allgather: any rank's error ends all ranks with it)
    start (collective: rank 0's initial model to all) -> evaluation at step 0
    for each round t:
        algorithm.round(t)      compute / compress / communicate / decompress / update
        record this rank's metrics and phase times (kept locally)
        control word            non-blocking MAX-allreduce of (stop signal, diverged,
                                flush request), started now and read one round later,
                                so every rank acts on it at the same round
        evaluate every eval_every rounds (the test set split over ranks)
        measure the loss Hessian at [hessian]'s rounds (hpcsketch.hessian; rank 0 writes /hessian)
        flush every flush_every rounds / flush_seconds: gather to rank 0, append to HDF5

Rank 0 writes the trace. Nothing in the loop is a barrier added for the
harness's sake: the control word rides along with the algorithm's own traffic.
"""

from __future__ import annotations

import copy
import glob
import json
import math
import os
import signal
import threading
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from mpi4py import MPI

from hpcsketch import __version__, environment
from hpcsketch.algorithms import REGISTRY as ALGORITHMS
from hpcsketch.algorithms.context import PHASES, PhaseTimer, RoundMetrics, RunContext, clocks_to_seconds, combine_metrics
from hpcsketch.backend import limit_cpu_threads, select_backend
from hpcsketch.clients import ClientLayout
from hpcsketch.comm.communicator import Communicator
from hpcsketch.control import DIVERGED, FLUSH, STOP, ControlWord
from hpcsketch.config.job import Job
from hpcsketch.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, BadInput, HpcsketchError, one_line
from hpcsketch.hessian.hook import HessianHook
from hpcsketch.problems import REGISTRY as PROBLEMS
from hpcsketch.progress import Progress, human_bytes, print_summary
from hpcsketch.faults import STALL_SECONDS, FaultSpec
from hpcsketch.tracing.paths import new_run_id, trace_path_for
from hpcsketch.tracing.writer import TraceWriter, prepare_out_dir

EXIT_INTERRUPTED = 3



@dataclass
class PendingRow:
    """One round's record on its rank until the next flush gathers it to rank 0."""

    step: int
    #: metric -> (value, count, reduce) as RoundMetrics.take gives it
    metrics: dict[str, tuple[float, int, str]]
    #: phase -> clock (device events or perf_counter spans), read at the flush
    clocks: dict[str, Any]
    #: the round's total-time clock
    total: Any
    #: perf_counter at the end of the round (the trace's time axis)
    t_end: float


@dataclass
class RunOptions:
    run_id: str | None = None
    out: str | None = None
    trace_path: str | None = None
    force: bool = False
    quiet: bool = False
    fault: FaultSpec | None = None
    launcher: str = ""
    #: continue the trace at ``trace_path`` from its checkpoint
    resume: bool = False


@dataclass
class _Summary:
    """Running totals on rank 0, so memory does not grow with the number of rounds."""

    last: dict[str, float] = field(default_factory=dict)
    best_eval_accuracy: float = float("nan")
    totals: dict[str, float] = field(default_factory=lambda: {"bytes_uplink": 0.0, "bytes_downlink": 0.0, "bytes_mpi": 0.0})
    phase_sums: dict[str, float] = field(default_factory=dict)
    phase_count: int = 0
    target: dict[str, float] = field(default_factory=dict)


class Runner:
    def __init__(self, job: Job, world: MPI.Comm, opts: RunOptions):
        self.job = job
        self.world = world
        self.opts = opts
        self.rank = world.Get_rank()
        self.size = world.Get_size()
        self.stop_signal = 0
        self.writer: TraceWriter | None = None
        self.trace_path: Path | None = None
        self.progress: Progress | None = None
        self._watchdog_stop = threading.Event()
        self._done = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._signal_thread: threading.Thread | None = None
        self._old_handlers: dict[int, Any] = {}
        self._wakeup: tuple[int, int] | None = None

    # ------------------------------------------------------------------ set-up
    def _setup_local(self) -> None:
        job = self.job
        limit_cpu_threads(job.run.threads)
        self.ctx, self.algo = build(job, self.world)
        self.backend, self.comm, self.layout = self.ctx.backend, self.ctx.comm, self.ctx.clients
        self.problem, self.timer = self.ctx.problem, self.ctx.timer
        self.cuda_aware_how = self.backend.cuda_aware_how
        self.checkpoint = None
        if self.opts.resume:
            from hpcsketch.tracing.reader import read_checkpoint

            self.trace_path = Path(self.opts.trace_path)
            self.checkpoint = read_checkpoint(self.trace_path, self.rank)
            if self.checkpoint.world_size != self.size:
                raise BadInput(
                    f"was checkpointed on {self.checkpoint.world_size} ranks; resume it on {self.checkpoint.world_size} "
                    f"(here {self.size}): per-client state lives on the rank that hosts the client",
                    source=str(self.trace_path),
                )
        elif self.rank == 0:
            path = Path(self.opts.trace_path) if self.opts.trace_path else trace_path_for(job, self.run_id, self.opts.out)
            prepare_out_dir(path.parent)
            self.trace_path = path
            if self.opts.force:
                # refused before the writer touches it: --force replaces only a trace no live run writes
                from hpcsketch.tracing.liveness import refuse_live_writer

                refuse_live_writer(path, "replace it with --force")
            writer = TraceWriter(path)
            writer.create(self._root_attrs(), {}, force=self.opts.force)
            self.writer = writer  # from here on the trace is this run's own: a failed set-up removes it

    def _agree(self, error: BaseException | None) -> None:
        """Every rank learns whether any rank failed its local set-up; all stop with the first error."""
        msg = None
        if _out_of_memory(error):
            # sizes the validator cannot bound (the node's memory, the ranks sharing it) are still bad input
            error = BadInput(f"the problem does not fit in this rank's memory ({str(error).splitlines()[0][:160]}); "
                             "use a smaller [problem] (dim, rows, samples, hidden, model) or fewer ranks per node",
                             field="[problem]")
        if error is not None:
            code = error.exit_code if isinstance(error, HpcsketchError) else EXIT_FAILURE
            text = str(error) if isinstance(error, HpcsketchError) else f"{type(error).__name__}: {error}"
            msg = (code, text, traceback.format_exc() if not isinstance(error, HpcsketchError) else "")
        results = self.world.allgather(msg)
        bad = [(r, m) for r, m in enumerate(results) if m is not None]
        if not bad:
            return
        r, (code, text, tb) = bad[0]
        if self.writer is not None and self.trace_path is not None and not self.opts.resume:
            # nothing ran: do not leave a trace of a run that never started. ``writer`` is set only
            # once this run created the file, so a refused path (an existing trace, notes.txt) stays
            try:
                self.trace_path.unlink()
            except OSError:
                pass
        raise _SetupFailed(code, text if self.size == 1 or r == 0 else f"rank {r}: {text}", tb)

    def _root_attrs(self) -> dict[str, Any]:
        job = self.job
        return {
            "run_id": self.run_id,
            "name": job.name,
            "rounds_planned": job.run.rounds,
            "job": job.text,
            "job_source": job.source,
            "job_overrides": json.dumps(job.overrides),
            "job_resolved": job.resolved_json(),
            "sweep_point": json.dumps(job.point),
            "sweep_point_keys": json.dumps(job.point_keys),
            "seed": job.run.seed,
            "algorithm": job.algorithm.kind,
            "compressor": job.compressor.kind,
            "problem": job.problem.kind,
            "model": job.problem.model or "",
            "dim": int(self.problem.dim),
            "world_size": self.size,
            "clients": job.clients.count,
            "hpcsketch_version": __version__,
            "git_commit": environment.git_commit(),
            **self._writer_attrs(),
            **self.algo.trace_attrs(),
        }

    @staticmethod
    def _writer_attrs() -> dict[str, Any]:
        """Who writes the trace: host and pid (a live writer's trace is never shared), and the
        launch's token (the launcher marks failed only traces that carry its own)."""
        return {"writer_host": environment.hostname(), "writer_pid": os.getpid(),
                "launch_token": os.environ.get("HPCSKETCH_LAUNCH_TOKEN", "")}

    def _env_attrs(self) -> dict[str, Any]:
        hosts = self.world.gather(environment.hostname(), root=0)
        devices = self.world.gather(environment.device_name(self.backend), root=0)
        if self.rank != 0:
            return {}
        v = environment.versions()
        return {
            "mpi_library": environment.mpi_library(),
            "mpi_vendor": environment.mpi_vendor(),
            "world_size": self.size,
            "hostnames": hosts,
            "backend": self.backend.name,
            "devices": devices,
            "cuda_aware_mpi": bool(self.backend.cuda_aware_mpi),
            "cuda_aware_detection": self.cuda_aware_how,
            "threads": self.job.run.threads,
            "launcher": self.opts.launcher or environment.launcher_name(),
            **v,
        }

    # ------------------------------------------------------------------ the run
    def run(self) -> int:
        self.run_id = self.world.bcast(self.opts.run_id or (new_run_id() if self.rank == 0 else None), root=0)
        err = None
        try:
            self._setup_local()
        except Exception as e:  # agreed on below: every rank stops with the first error
            err = e
        self._agree(err)
        if self.opts.resume:
            # only once every rank has read its checkpoint may rank 0 open the file for writing
            err = None
            if self.rank == 0:
                try:
                    self.writer = TraceWriter.reopen(self.trace_path, self.checkpoint.step)
                    # the trace's writer is now this process: liveness checks and the launcher's
                    # marking must see the resumed run, not the dead one
                    self.writer.set_attrs(None, self._writer_attrs())
                except Exception as e:
                    err = e
            self._agree(err)
        self.trace_path = Path(self.world.bcast(str(self.trace_path) if self.rank == 0 else None, root=0))
        env = self._env_attrs()
        if self.rank == 0 and self.writer is not None:
            self.writer.set_attrs("env", env)
            self._start_watchdog()
        self._install_signals()
        try:
            return self._loop()
        finally:
            self._done.set()
            self._restore_signals()
            self._watchdog_stop.set()
            # the watchdogs' closures may hold the last reference to the run (torch tensors): let them
            # end now, not during interpreter shutdown, where a thread freeing a torch tensor aborts
            if self._watchdog is not None:
                self._watchdog.join(timeout=5)
            if self.progress is not None:
                self.progress.close()

    def _loop(self) -> int:
        job, algo, comm = self.job, self.algo, self.comm
        rounds = job.run.rounds
        eval_every = job.run.eval_every
        flush_every = job.run.flush_every
        diag_every = job.run.diagnostics_every
        ctrl = ControlWord(self.world)
        algo.start()
        hessian = HessianHook.for_job(job, algo, self.ctx)  # None unless [hessian] schedules measurements
        self.summary = _Summary()
        self._pending_rows: list[PendingRow] = []
        self._pending_eval: dict[int, dict[str, float]] = {}
        self._cum = {"bytes_uplink": 0.0, "bytes_mpi": 0.0, "bytes_downlink": 0.0}
        self.t_start = time.perf_counter()
        self._last_flush = self.t_start
        self._flush_requested = False
        self._time_offset = 0.0
        start = 0
        if self.checkpoint is not None:
            start = self._restore(self.checkpoint)
        self._warm_up(start)
        if self.rank == 0:
            self.progress = Progress(job.name, rounds, enabled=job.run.progress and not self.opts.quiet, start=start)
        if start == 0:
            t_eval = time.perf_counter()
            self._pending_eval[0] = {**algo.evaluate(), "eval_seconds": time.perf_counter() - t_eval}
            if self.progress is not None:
                self.progress.update_info({**self._pending_eval[0], "eval_step": 0})
            self._flush(comm, 0)
        if hessian is not None and hessian.missing(start, self.trace_path):  # step 0, or one a stop skipped
            hessian.measure(start, self.writer, self.progress)
        ckpt_every = job.run.checkpoint_every

        pending_finite = None
        status, message = "completed", ""
        step = start
        fault = self.opts.fault if self.opts.fault and self.opts.fault.rank == self.rank else None
        for t in range(start, rounds):
            if fault is not None and fault.round == t:
                self._inject(fault)
            sampled = self.layout.sample(t)
            local = self.layout.local_of(sampled)
            total = self.backend.timer()
            total.start()
            algo.round(t, sampled, local)
            total.stop()
            step = t + 1
            if diag_every and step % diag_every == 0:
                with comm.category("diagnostic"):
                    algo.diagnostics(t)
            sent = comm.stats.take("train")
            self.ctx.metrics.add("bytes_mpi", float(sent.bytes))
            metrics = self.ctx.metrics.take()
            self._pending_rows.append(PendingRow(step, metrics, self.timer.take(), total, time.perf_counter()))
            if self.progress is not None and "loss" in metrics:
                # this round's loss over rank 0's clients, now: the global mean only exists at a flush
                self.progress.update_info({"loss": combine_metrics([metrics])["loss"]})

            # divergence: checked one round late so the device never waits for the host
            if pending_finite is not None and not _finite(pending_finite):
                ctrl.raise_flag(DIVERGED)
            pending_finite = algo.model().sum()
            if self.stop_signal:
                ctrl.raise_flag(STOP)
            # one request per interval: the flush it asks for happens a round later, and asking again
            # meanwhile gave two flushes in a row
            if self.rank == 0 and not self._flush_requested and time.perf_counter() - self._last_flush > job.run.flush_seconds:
                ctrl.raise_flag(FLUSH)
                self._flush_requested = True

            ctrl.exchange()
            stopping = ctrl.stop or ctrl.diverged
            # the evaluation schedule does not depend on when a run stops: a resumed run
            # then records exactly what an uninterrupted one would
            if (eval_every and step % eval_every == 0 or step == rounds) and not ctrl.diverged:
                t_eval = time.perf_counter()
                self._pending_eval[step] = {**algo.evaluate(), "eval_seconds": time.perf_counter() - t_eval}
                if self.progress is not None:  # every rank has it: the bar need not wait for a flush
                    self.progress.update_info({**self._pending_eval[step], "eval_step": step})
            if hessian is not None and hessian.due(step) and not stopping:
                hessian.measure(step, self.writer, self.progress)
            checkpoint = (stopping and not ctrl.diverged) or (ckpt_every and step % ckpt_every == 0 and step < rounds)
            if step % flush_every == 0 or step == rounds or stopping or ctrl.flush or checkpoint:
                self._flush(comm, step)
            if checkpoint:
                self._checkpoint(step)
            if self.progress is not None:
                self.progress.advance(step)
            if stopping:
                if ctrl.diverged:
                    status, message = "diverged", f"NaN or inf in the model by round {step}"
                else:
                    status, message = "interrupted", (f"stopped by signal at round {step}; "
                                                      f"continue with: hpcsketch run --resume {self.trace_path} -n {self.size}")
                break
        ctrl.close()
        if status == "completed" and pending_finite is not None and not _finite(pending_finite):
            status, message = "diverged", f"NaN or inf in the model by round {step}"
        self._finish(status, message, step)
        return {"completed": EXIT_OK, "diverged": EXIT_OK, "interrupted": EXIT_INTERRUPTED}[status]

    # ------------------------------------------------------------------ warm-up
    def _warm_up(self, t: int) -> None:
        """One dry round ``t`` on a copy of the algorithm, before the clock starts: numba kernels
        compile (or load from their cache), torch and MPI make their first-call set-up, so round 1
        measures a round, not one-time costs (top-k's first compress phase: 0.85-1.0 s without, 0.1-0.2 ms with).

        The copy shares what a round reads but does not own (problem, data, comm, backend,
        compressors, MPI objects); the run's own state is untouched, so results do not depend on
        the warm-up. Its seconds go to /summary ``warmup_seconds`` (slowest rank), its bytes to
        the ``warmup`` category, and its metrics and phase times are dropped.
        """
        t0 = time.perf_counter()
        if self.job.run.warmup and t < self.job.run.rounds:
            dry = copy.deepcopy(self.algo, memo=_shared_memo(self.algo, self.ctx))
            sampled = self.layout.sample(t)
            with self.comm.category("warmup"):
                dry.round(t, sampled, self.layout.local_of(sampled))
            del dry
            self.ctx.metrics.take()
            self.timer.take()
            self.comm.stats.take("warmup")
        seconds = time.perf_counter() - t0
        with self.comm.category("setup"):
            self.warmup_seconds = max(self.comm.allgather_object(seconds))

    # ------------------------------------------------------------------ flushing
    def _flush(self, comm: Communicator, step: int) -> None:
        rows = []
        for row in self._pending_rows:
            phases = clocks_to_seconds(row.clocks)
            phases["total"] = row.total.elapsed()
            rows.append((row.step, {k: (float(v), c, r) for k, (v, c, r) in row.metrics.items()}, phases, row.t_end))
        self._pending_rows = []
        with comm.category("trace"):
            gathered = comm.gather_object((rows, rss_mb()), root=0)
        now = time.perf_counter()
        self._last_flush = now
        self._flush_requested = False
        if self.rank != 0:
            self._pending_eval.clear()
            return
        assert gathered is not None and self.writer is not None
        memory = np.array([g[1] for g in gathered])
        gathered = [g[0] for g in gathered]
        out_rows: list[dict[str, float]] = []
        steps = [r[0] for r in gathered[0]]
        ends = {r[0]: r[3] for r in gathered[0]}
        timing = {p: np.zeros((len(steps), self.size)) for p in (*PHASES, "total")}
        for i, s in enumerate(steps):
            combined = combine_metrics([gathered[r][i][1] for r in range(self.size)])
            for r in range(self.size):
                for p, v in gathered[r][i][2].items():
                    if p in timing:
                        timing[p][i, r] = v
            out_rows.append(combined | {"step": s})
        evals = self._pending_eval
        self._pending_eval = {}
        # the step-0 row (and any evaluation not in a round row) gets a row of its own
        for s in sorted(evals):
            if s not in steps:
                out_rows.append({"step": s})
        out_rows.sort(key=lambda r: r["step"])
        for row in out_rows:
            elapsed = self._time_offset + ends.get(row["step"], now) - self.t_start
            row.update(evals.get(row["step"], {}))
            for k in ("bytes_uplink", "bytes_mpi", "bytes_downlink"):
                row.setdefault(k, 0.0)
                self._cum[k] += row[k]
            row["cum_bytes_uplink"] = self._cum["bytes_uplink"]
            row["cum_bytes_mpi"] = self._cum["bytes_mpi"]
            row["time"] = elapsed
            self._update_summary(row)
        if steps:
            for p in (*PHASES, "total"):
                self.summary.phase_sums[p] = self.summary.phase_sums.get(p, 0.0) + float(timing[p].sum())
            self.summary.phase_count += len(steps) * self.size
        self.writer.append(out_rows, timing, np.asarray(steps, dtype=np.int64), memory=(step, memory))
        if self.progress is not None:  # evaluations and Hessian values; the per-round loss is already newer
            self.progress.update_info({k: v for k, v in self.summary.last.items() if k != "loss"})

    def _checkpoint(self, step: int) -> None:
        """Every rank's algorithm state and rank 0's running totals go into a new checkpoint file
        beside the trace (atomic, checksummed; the trace records its step and SHA-256)."""
        state = {k: self.backend.asnumpy(v).copy() for k, v in self.algo.state_dict().items()}
        with self.comm.category("trace"):
            states = self.comm.gather_object(state, root=0)
        if self.rank != 0:
            return
        sm = self.summary
        runner_state = {
            "step": step,
            "cum": self._cum,
            "elapsed": self._time_offset + time.perf_counter() - self.t_start,
            "summary": {"last": sm.last, "best_eval_accuracy": sm.best_eval_accuracy, "totals": sm.totals,
                        "phase_sums": sm.phase_sums, "phase_count": sm.phase_count, "target": sm.target},
        }
        self.writer.write_checkpoint(step, runner_state, states)

    def _restore(self, ckpt: Any) -> int:
        """Load this rank's checkpointed state; returns the round to continue from."""
        self.algo.load_state_dict(ckpt.state)
        rs = ckpt.runner_state
        self._cum = {k: float(v) for k, v in rs["cum"].items()}
        self._time_offset = float(rs["elapsed"])
        sm = rs["summary"]
        self.summary = _Summary(last=sm["last"], best_eval_accuracy=float(sm["best_eval_accuracy"]), totals=sm["totals"],
                                phase_sums=sm["phase_sums"], phase_count=int(sm["phase_count"]), target=sm["target"])
        return int(ckpt.step)

    def _update_summary(self, row: dict[str, float]) -> None:
        sm = self.summary
        # final_* is each metric's latest value, NaN and inf included: skipping them made a diverged
        # run report an early finite evaluation as its final one, mixed with later values of others
        sm.last.update(row)
        for k in sm.totals:
            sm.totals[k] += row.get(k, 0.0)
        acc = row.get("eval_accuracy")
        # the best evaluation of training: the untrained model (step 0) does not count
        if acc is not None and row["step"] > 0 and not math.isnan(acc):
            sm.best_eval_accuracy = acc if math.isnan(sm.best_eval_accuracy) else max(sm.best_eval_accuracy, acc)
        if "rounds" in sm.target:
            return
        ta, tl = self.job.run.target_accuracy, self.job.run.target_loss
        reached = False
        if ta is not None and acc is not None and not math.isnan(acc) and acc >= ta:
            reached = True
        if tl is not None:
            el = row.get("eval_gap", row.get("eval_loss"))
            if el is not None and not math.isnan(el) and el <= tl:
                reached = True
        if reached:
            sm.target = {
                "rounds": row["step"],
                "bytes_uplink": self._cum["bytes_uplink"],
                "bytes_mpi": self._cum["bytes_mpi"],
                "seconds": row["time"],
            }

    def _finish(self, status: str, message: str, step: int) -> None:
        if self.rank != 0 or self.writer is None:
            return
        wall = self._time_offset + time.perf_counter() - self.t_start
        sm = self.summary
        summary: dict[str, Any] = {
            "rounds_done": step,
            "wall_seconds": wall,
            "rounds_per_second": step / wall if wall > 0 else 0.0,
            "best_eval_accuracy": sm.best_eval_accuracy,
            "warmup_seconds": self.warmup_seconds,
        }
        for k, v in sm.last.items():
            if k != "step":
                summary[f"final_{k}"] = v
        for k, v in sm.totals.items():
            summary[f"total_{k}"] = v
        for p, v in sm.phase_sums.items():
            summary[f"mean_{p}_seconds"] = v / sm.phase_count if sm.phase_count else 0.0
        for k in ("rounds", "bytes_uplink", "bytes_mpi", "seconds"):
            key = "rounds_to_target" if k == "rounds" else f"{k}_to_target"
            summary[key] = sm.target.get(k, -1)
        self.writer.finish(status, message, summary)
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        if not self.opts.quiet:
            try:
                self._print_summary(status, message, summary)
            except OSError:  # the terminal is gone (SIGHUP): the trace has it all
                pass

    def _print_summary(self, status: str, message: str, s: dict[str, Any]) -> None:
        rows = [("status", status + (f" ({message})" if message else "")), ("trace", str(self.trace_path))]
        rows.append(("rounds", f"{s['rounds_done']} in {s['wall_seconds']:.1f} s ({s['rounds_per_second']:.1f} rounds/s)"))
        for k, label in (("final_loss", "train loss"), ("final_eval_loss", "eval loss"), ("final_eval_accuracy", "eval accuracy"), ("final_eval_gap", "f(x) - f*")):
            if k in s:
                rows.append((label, f"{s[k]:.4g}"))
        rows.append(("uplink (clients)", human_bytes(s.get("total_bytes_uplink", 0.0))))
        rows.append(("through MPI", human_bytes(s.get("total_bytes_mpi", 0.0))))
        phases = "  ".join(f"{p} {1e3 * s.get(f'mean_{p}_seconds', 0.0):.2f}" for p in (*PHASES, "total"))
        rows.append(("ms per round", phases))
        if s.get("rounds_to_target", -1) >= 0:
            rows.append(("to target", f"{s['rounds_to_target']} rounds, {human_bytes(s['bytes_uplink_to_target'])} uplink, {s['seconds_to_target']:.1f} s"))
        print_summary(rows, title=self.job.name)

    # ------------------------------------------------------------------ faults and signals
    def _inject(self, fault: FaultSpec) -> None:
        if fault.kind == "raise":
            raise RuntimeError(f"injected fault on rank {self.rank} at round {fault.round}")
        if fault.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if fault.kind == "term":
            os.kill(os.getpid(), signal.SIGTERM)
        if fault.kind == "nan":
            self.algo.model()[...] = float("nan")
        if fault.kind == "stall":  # a rank stuck in a long computation: signal handlers wait for it
            end = time.monotonic() + STALL_SECONDS
            while time.monotonic() < end:
                time.sleep(end - time.monotonic())

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, frame: Any) -> None:
            if self.stop_signal and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.stop_signal = signum

        from hpcsketch.signals import install, take_early

        # SIGHUP: a closed terminal or ssh session stops the run cleanly (installed after MPI_Init,
        # so it replaces UCX's debug handler, which swallowed it)
        for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT, signal.SIGHUP):
            self._old_handlers[sig] = install(sig, handler)
        from hpcsketch.launch import watch_launcher

        # the launcher gone (kill -9): stop as for SIGTERM, which mpiexec's parent-death signal also sends
        watch_launcher(lambda: os.kill(os.getpid(), signal.SIGTERM))

        early = take_early()  # a signal that came while this rank was starting
        if early:
            self.stop_signal = early
        # The handler above runs only when the main thread comes back from MPI. If a peer
        # is dead it never does: the C-level handler still writes to this fd, and the
        # watchdog gives the ranks grace seconds to stop together before it ends this one.
        r, w = os.pipe()
        os.set_blocking(w, False)
        try:
            signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        except ValueError:
            os.close(r)
            os.close(w)
            return
        self._wakeup = (r, w)
        self._signal_thread = threading.Thread(target=self._signal_watchdog, args=(r,), name="hpcsketch-signal-watchdog",
                                               daemon=True)
        self._signal_thread.start()

    def _signal_watchdog(self, fd: int) -> None:
        try:
            data = os.read(fd, 1)
        except OSError:
            return
        if not data or self._done.is_set():
            return
        if self._done.wait(self.job.run.signal_grace):
            return
        if self.rank == 0 and self.writer is not None:
            try:
                self.writer.finish("interrupted", f"signal {data[0]}: the ranks did not stop together within "
                                   f"{self.job.run.signal_grace:g} s (a peer is gone?); no checkpoint was written")
            except Exception:
                pass
        os._exit(EXIT_INTERRUPTED)

    def _restore_signals(self) -> None:
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)
        self._old_handlers.clear()
        if self._wakeup is not None:
            signal.set_wakeup_fd(-1)
            r, w = self._wakeup
            os.close(w)  # the watchdog's read returns (end of file) and the thread ends
            if self._signal_thread is not None:
                self._signal_thread.join(timeout=5)
            os.close(r)
            self._wakeup = None

    def _start_watchdog(self) -> None:
        """Rank 0 marks the trace failed when another rank reports a fault (see report_fault)."""
        if self.size == 1 or self.trace_path is None:
            return
        pattern = str(self.trace_path) + ".fault-*.json"

        def watch() -> None:
            while not self._watchdog_stop.wait(0.2):
                for note in glob.glob(pattern):
                    try:
                        info = json.loads(Path(note).read_text())
                        if self.writer is not None:
                            self.writer.finish("failed", f"rank {info.get('rank')}: {info.get('error')}")
                        os.unlink(note)  # the acknowledgement the failing rank waits for
                    except (OSError, ValueError):
                        continue

        self._watchdog = threading.Thread(target=watch, name="hpcsketch-fault-watchdog", daemon=True)
        self._watchdog.start()


def build(job: Job, world: MPI.Comm) -> tuple[RunContext, Any]:
    """Backend, comm layer, clients, problem and algorithm of ``job`` on ``world`` (local work only).

    The runner calls this on every rank; tests call it to drive an algorithm
    round by round (``algo.start()`` first: it is collective).
    """
    rank, size = world.Get_rank(), world.Get_size()
    lrank, lsize = environment.local_rank_and_size(world)
    backend = select_backend(job.run.backend, lrank, lsize)
    if backend.is_gpu:
        backend.cuda_aware_mpi, how = environment.cuda_aware_mpi()
        backend.cuda_aware_how = how
    comm = Communicator(world, backend)
    layout = ClientLayout(job.clients.count, size, rank, job.clients.participation, job.run.seed)
    problem = PROBLEMS.get(job.problem.kind)(dict(job.problem), dict(job.clients), backend, job.run.seed)
    ctx = RunContext(job, backend, comm, problem, layout, job.run.seed, PhaseTimer(backend), RoundMetrics())
    return ctx, ALGORITHMS.get(job.algorithm.kind)(ctx)


class _SetupFailed(Exception):
    def __init__(self, code: int, text: str, tb: str):
        super().__init__(text)
        self.code = code
        self.text = text
        self.tb = tb


def _shared_memo(algo: Any, ctx: RunContext) -> dict[int, Any]:
    """A deepcopy memo that makes a copy of ``algo`` share, not copy, what it must not own twice:
    the run context's problem, data, comm, backend and compressors, modules, and MPI objects
    (which cannot be copied) wherever they sit in the algorithm's attributes."""
    shared: list[Any] = [ctx, ctx.problem, ctx.comm, ctx.backend, ctx.backend.xp, ctx.clients, ctx.timer, ctx.metrics,
                         ctx.job, *ctx.compressors]
    seen: set[int] = set()
    todo: list[Any] = [algo]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.ModuleType) or type(obj).__module__.startswith("mpi4py"):
            shared.append(obj)
        elif isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            todo.extend(obj)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            todo.extend(vars(obj).values())
    return {id(o): o for o in shared}


def rss_mb() -> float:
    """This process's resident memory (MB), from /proc where there is one."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _out_of_memory(error: BaseException | None) -> bool:
    """NumPy's MemoryError, or torch's allocator failing (a RuntimeError that says so)."""
    if isinstance(error, MemoryError):
        return True
    text = str(error) if isinstance(error, RuntimeError) else ""
    return "can't allocate memory" in text or "out of memory" in text.lower()


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def report_fault(trace_path: Path | None, rank: int, error: str, wait: float = 10.0) -> None:
    """A failing rank (not rank 0) leaves a note for rank 0's watchdog and waits for it to be taken.

    Rank 0 may be blocked in a collective that will never complete; its watchdog
    thread marks the trace failed, then this rank aborts the job.
    """
    if trace_path is None:
        return
    note = Path(str(trace_path) + f".fault-{rank}.json")
    try:
        tmp = note.with_suffix(".tmp")
        tmp.write_text(json.dumps({"rank": rank, "error": error}))
        os.replace(tmp, note)
    except OSError:
        return
    deadline = time.monotonic() + wait
    while note.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def _err_line(text: str) -> None:
    import sys

    print(f"hpcsketch: error: {one_line(text)}", file=sys.stderr, flush=True)


def run_job(job: Job, opts: RunOptions, world: MPI.Comm | None = None) -> int:
    """Run one job on ``world`` (default COMM_WORLD); returns the exit code.

    An unexpected exception on any rank marks the trace failed and aborts every
    rank (``python -m mpi4py`` semantics) instead of leaving the others hanging.
    """
    world = world or MPI.COMM_WORLD
    runner = Runner(job, world, opts)
    try:
        return runner.run()
    except _SetupFailed as e:
        if runner.rank == 0:
            _err_line(e.text)
            if e.tb and os.environ.get("HPCSKETCH_DEBUG"):
                print(e.tb, file=__import__("sys").stderr)
        return e.code
    except BadInput as e:  # during the run: the output file system filled up (rank 0 writes)
        _err_line(str(e))
        if runner.writer is not None:
            try:
                runner.writer.finish("failed", str(e))
            except Exception:
                pass
        if runner.size > 1:
            world.Abort(EXIT_BAD_INPUT)
        return EXIT_BAD_INPUT
    except BaseException as e:  # noqa: BLE001 - every failure must end the job, not hang it
        import sys

        text = f"{type(e).__name__}: {e}"
        tb = traceback.format_exc()
        oom = _out_of_memory(e)
        if oom:  # a size problem, not a bug: one line, no traceback
            text = f"out of memory ({str(e).splitlines()[0][:160]}); use a smaller [problem] or compressor, or fewer ranks per node"
            _err_line(f"rank {runner.rank}: {text}")
        else:
            print(f"hpcsketch: rank {runner.rank} failed: {text}\n{tb}", file=sys.stderr, flush=True)
        if runner.rank == 0 and runner.writer is not None:
            try:
                runner.writer.finish("failed", f"rank 0: {text}")
            except Exception:
                pass
        elif runner.size > 1:
            report_fault(runner.trace_path, runner.rank, text)
        code = EXIT_BAD_INPUT if oom else EXIT_FAILURE
        if runner.size > 1:
            world.Abort(code)
        return code
