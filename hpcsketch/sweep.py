"""Sweeps: which grid points of a job already have a completed trace.

A point counts as finished when a trace in the output directory has the
point's run name, the same values for every key the run reads (its effective
configuration; where output goes, progress and flush cadence do not count), and
status completed or diverged (a diverged point is a result, not something to
retry). A key the trace does not have at all (an option added since it was
written) matches when the point leaves it at its default, so upgrading the
harness does not make finished sweeps run again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hpcsketch.errors import BadInput
from hpcsketch.tracing.reader import read_trace

_IGNORED = {"run.out", "run.progress", "run.flush_every", "run.flush_seconds"}
FINAL = ("completed", "diverged")
_MISSING = object()


def _wanted(point: Any) -> dict[str, Any]:
    """The point's effective configuration, flat (``section.key``), without the plumbing keys."""
    from hpcsketch.config.job import effective_config

    flat = {f"{sec}.{k}": v for sec, keys in effective_config(point).items() for k, v in keys.items()}
    return {k: json.loads(json.dumps(v)) for k, v in flat.items() if k not in _IGNORED}


def _default(dotted: str) -> Any:
    from hpcsketch.config.schema import section_keys

    sec, key = dotted.split(".", 1)
    opt = section_keys(sec).get(key)
    return _MISSING if opt is None else json.loads(json.dumps(opt.default))


def _matches(wanted: dict[str, Any], resolved: dict[str, Any]) -> bool:
    for dotted, v in wanted.items():
        sec, key = dotted.split(".", 1)
        section = resolved.get(sec)
        have = section.get(key, _MISSING) if isinstance(section, dict) else _MISSING
        if have is _MISSING:
            if v != _default(dotted):
                return False
        elif have != v:
            return False
    return True


def finished_points(points: list[Any], out: str | None = None) -> set[int]:
    if not points:
        return set()
    directory = Path(out or points[0].run.out)
    if not directory.is_dir():
        return set()
    wanted: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for p in points:
        wanted.setdefault(p.name, []).append((p.point_index if p.point_index is not None else 0, _wanted(p)))
    done: set[int] = set()
    for path in directory.glob("*.h5"):
        try:  # the reader's checks: a damaged or hand-edited trace is not a finished point
            t = read_trace(path)
        except BadInput:
            continue  # unreadable files are the analysis's business, not a finished point
        name = t.attrs.get("name", "")
        if t.status not in FINAL or name not in wanted:
            continue
        resolved = t.job_resolved
        for index, want in wanted[name]:
            if _matches(want, resolved):
                done.add(index)
    return done
