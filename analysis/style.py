"""How the figures tell a sweep's runs apart: colour, marker and order.

A sweep has axes, and the figures encode them instead of giving every run a colour of
its own (a 29-run sweep repeated the 20 colours of tab20):

* colour is the **method**: the runs that make one line of the ratio plot (algorithm +
  compressor + the varied keys outside ``[compressor]``, or a bundle sweep's axes that do
  not set the compression level; :func:`tables.final_points`);
* marker shape is the **compression ratio** when it varies (one shape per ratio, hollow;
  past twelve ratios the shapes come back filled). Repeats of one (method, ratio) get the
  next shape, so no two runs share a colour and a marker;
* line style stays the **status**: completed runs solid, the others dashed with an x at
  their last finite point;
* runs are **ordered** by method, then ratio (numbers as numbers: ``d/b=5`` before
  ``d/b=10``), then label, in every legend and figure.

Nothing here imports matplotlib at module import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from hpcsketch.analysis.load import Results

#: marker shapes of the style values, in order (no "x": it marks where an unfinished run ends)
MARKERS = ("o", "s", "^", "D", "v", "P", "<", ">", "p", "h", "*", "d")
#: a figure legend lists every run up to this many runs; past it, one entry per colour and per marker
PER_RUN_LEGEND_MAX = 12


def natural_key(text: Any) -> tuple:
    """Sort key reading numbers as numbers: ``d/b=5`` < ``d/b=10``, ``lr=0.05`` < ``lr=0.1``."""
    parts = re.split(r"(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)", str(text))
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p != "")


@dataclass
class Encoding:
    """Colour, marker and order of every run of a Results (see the module's docstring)."""

    order: list[str]
    color: dict[str, Any]
    marker: dict[str, str]
    filled: dict[str, bool]
    group: dict[str, str]
    level: dict[str, str]
    groups: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    group_title: str = "method"
    level_title: str = ""
    level_marker: dict[str, tuple[str, bool]] = field(default_factory=dict)
    group_color: dict[str, Any] = field(default_factory=dict)

    def rank(self, run_id: str) -> int:
        return self._rank.get(run_id, len(self.order))

    def __post_init__(self) -> None:
        self._rank = {rid: i for i, rid in enumerate(self.order)}

    def marker_kw(self, run_id: str) -> dict[str, Any]:
        """Line2D keywords of the run's marker (hollow or filled, in the run's colour)."""
        c = self.color[run_id]
        return {"marker": self.marker[run_id], "markeredgecolor": c,
                "markerfacecolor": c if self.filled[run_id] else "none"}


def palette(n: int) -> list[Any]:
    """``n`` distinct colours: tab10, tab20, then evenly spaced on turbo."""
    from matplotlib import colormaps

    if n <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    if n <= 20:
        cmap = colormaps["tab20"]
        return [cmap(i) for i in range(n)]
    cmap = colormaps["turbo"]
    return [cmap(0.05 + 0.9 * i / (n - 1)) for i in range(n)]


def encode(results: "Results") -> Encoding:
    from hpcsketch.analysis import tables

    runs = results.runs
    if runs.empty:
        return Encoding([], {}, {}, {}, {}, {})
    labels = runs.set_index("run_id")["label"].astype(str) if "label" in runs else runs.set_index("run_id")["run_id"]
    ids = list(runs["run_id"])
    try:
        fp = tables.final_points(results, "loss").set_index("run_id")
        method = {rid: str(fp.at[rid, "method"]) for rid in ids}
        ratio = {rid: float(fp.at[rid, "compression_ratio"]) for rid in ids}
    except (KeyError, TypeError, ValueError):  # a runs table without the method's columns: a colour per run
        method = {rid: str(labels[rid]) for rid in ids}
        ratio = {rid: math.nan for rid in ids}
    finite = {r for r in ratio.values() if math.isfinite(r)}
    by_ratio = len(finite) > 1

    groups = sorted(set(method.values()), key=natural_key)
    colors = dict(zip(groups, palette(len(groups))))

    def ratio_key(rid: str) -> tuple:
        r = ratio[rid]
        return (0, r) if math.isfinite(r) else (1, 0.0)

    order = sorted(ids, key=lambda rid: (groups.index(method[rid]), ratio_key(rid) if by_ratio else (0, 0.0),
                                         natural_key(labels[rid]), rid))
    # style value of each run: its ratio, and a repeat count where (method, ratio) repeats
    style: dict[str, tuple] = {}
    seen: dict[tuple, int] = {}
    for rid in order:
        base = ratio_key(rid) if by_ratio else (0, 0.0)
        k = seen.get((method[rid], base), 0)
        seen[(method[rid], base)] = k + 1
        style[rid] = (base, k)
    values = sorted(set(style.values()))

    def text(v: tuple) -> str:
        (kind, r), k = v
        base = ("-" if kind else f"{r:g}") if by_ratio else "run"
        return base if k == 0 else f"{base} (#{k + 1})"

    level_marker = {}
    for i, v in enumerate(values):
        level_marker[text(v)] = (MARKERS[i % len(MARKERS)], (i // len(MARKERS)) % 2 == 1)
    level = {rid: text(style[rid]) for rid in ids}
    return Encoding(
        order=order,
        color={rid: colors[method[rid]] for rid in ids},
        marker={rid: level_marker[level[rid]][0] for rid in ids},
        filled={rid: level_marker[level[rid]][1] for rid in ids},
        group=method,
        level=level,
        groups=groups,
        levels=[text(v) for v in values],
        level_title="compression ratio" if by_ratio else "repeat",
        level_marker=level_marker,
        group_color=colors,
    )


def ordered(df: pd.DataFrame, enc: Encoding, column: str = "run_id") -> pd.DataFrame:
    """``df`` with its rows in the encoding's run order (stable within a run)."""
    if df.empty:
        return df
    rank = df[column].map(lambda r: enc.rank(r))
    return df.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")
