"""Progress on rank 0: a bar with loss and rounds per second on a terminal,
periodic lines otherwise (batch logs), and a summary table at the end."""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Mapping


def _is_terminal() -> bool:
    # Under mpiexec the ranks' stderr is a pipe even when the user watches a
    # terminal; the launcher passes HPCSKETCH_TTY=1 in that case.
    if os.environ.get("HPCSKETCH_TTY") == "1":
        return True
    if os.environ.get("HPCSKETCH_TTY") == "0":
        return False
    return sys.stderr.isatty()


def _fmt(v: Any, spec: str = ".4g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def human_bytes(n: float) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return str(n)


class Progress:
    def __init__(self, title: str, total: int, enabled: bool = True, start: int = 0):
        self.title = title
        self.total = total
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.start_step = start
        self.step = start
        self.info: dict[str, Any] = {}
        self._bar = None
        self._task = None
        self._last_line = time.perf_counter()
        self._next_pct = 10
        if not enabled:
            return
        self.terminal = _is_terminal()
        if self.terminal:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True, force_terminal=True),
                refresh_per_second=4,
            )
            self._bar.start()
            self._task = self._bar.add_task(title, total=total, completed=start, info="")

    def rate(self) -> float:
        dt = time.perf_counter() - self.t0
        return (self.step - self.start_step) / dt if dt > 0 else 0.0

    def _info_text(self, eta: bool = False) -> str:
        """The latest round's loss, the latest evaluation (and its round), rounds/s and, on plain
        lines (a batch log has no bar), the time left."""
        parts = []
        if "loss" in self.info:
            parts.append(f"loss {_fmt(self.info['loss'])}")
        at = f" @{self.info['eval_step']}" if "eval_step" in self.info else ""
        if self.info.get("eval_accuracy") is not None and not math.isnan(self.info["eval_accuracy"]):
            parts.append(f"acc {self.info['eval_accuracy']:.3f}{at}")
        elif self.info.get("eval_loss") is not None and not math.isnan(self.info["eval_loss"]):
            parts.append(f"eval {_fmt(self.info['eval_loss'])}{at}")
        if "kappa" in self.info:
            parts.append(f"Hessian kappa {_fmt(self.info['kappa'])}")
        rate = self.rate()
        parts.append(f"{rate:.1f} rounds/s")
        if eta and rate > 0 and self.step < self.total:
            parts.append(f"ETA {_duration((self.total - self.step) / rate)}")
        return "  ".join(parts)

    def advance(self, step: int) -> None:
        self.step = step
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=step)
            return
        pct = 100.0 * step / max(self.total, 1)
        now = time.perf_counter()
        if pct >= self._next_pct or now - self._last_line > 60 or step == self.total:
            while self._next_pct <= pct:
                self._next_pct += 10
            self._last_line = now
            print(f"[{self.title}] round {step}/{self.total}  {self._info_text(eta=True)}", file=sys.stderr, flush=True)

    def update_info(self, values: Mapping[str, Any]) -> None:
        self.info.update({k: v for k, v in values.items() if v is not None})
        if self._bar is not None:
            self._bar.update(self._task, info=self._info_text())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def print_summary(rows: list[tuple[str, str]], title: str = "summary") -> None:
    """A two-column table on stdout (rich when it is a terminal, plain text otherwise)."""
    if _is_terminal() and os.environ.get("HPCSKETCH_PLAIN") != "1":
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_header=False)
        t.add_column("", style="bold")
        t.add_column("")
        for k, v in rows:
            t.add_row(k, v)
        Console(force_terminal=True).print(t)
        return
    width = max(len(k) for k, _ in rows)
    print(f"== {title} ==")
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    sys.stdout.flush()
