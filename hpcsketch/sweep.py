"""Sweeps: which grid points of a job already have a completed trace.

A point counts as finished when a trace in the output directory has the
point's run name and the same resolved job (every key, apart from where the
output goes and how progress is shown), and its status is completed or
diverged (a diverged point is a result, not something to retry).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hpcsketch.tracing.reader import open_for_reading

_IGNORED = {("run", "out"), ("run", "progress")}
FINAL = ("completed", "diverged")


def _comparable(resolved: dict[str, dict[str, Any]]) -> str:
    trimmed = {sec: {k: v for k, v in keys.items() if (sec, k) not in _IGNORED} for sec, keys in resolved.items()}
    return json.dumps(trimmed, sort_keys=True)


def finished_points(points: list[Any], out: str | None = None) -> set[int]:
    if not points:
        return set()
    directory = Path(out or points[0].run.out)
    if not directory.is_dir():
        return set()
    wanted: dict[tuple[str, str], int] = {}
    for p in points:
        wanted[(p.name, _comparable(p.resolved()))] = p.point_index if p.point_index is not None else 0
    done: set[int] = set()
    for path in directory.glob("*.h5"):
        try:
            with open_for_reading(path) as f:
                status = f.attrs.get("status", "")
                name = f.attrs.get("name", "")
                resolved = f.attrs.get("job_resolved", "{}")
        except (OSError, KeyError):
            continue  # unreadable files are the analysis's business, not a finished point
        status, name, resolved = (v.decode() if isinstance(v, bytes) else v for v in (status, name, resolved))
        if status not in FINAL:
            continue
        try:
            key = (name, _comparable(json.loads(resolved)))
        except (ValueError, AttributeError):
            continue
        if key in wanted:
            done.add(wanted[key])
    return done
