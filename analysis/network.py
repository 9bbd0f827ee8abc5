"""A network model: predicted time-to-accuracy of measured runs on other links.

A link is a latency plus an uplink and a downlink bandwidth. For every round
that a trace records, the predicted round time is

    t_round = compute + 2 * latency + up_bytes / up_bw + down_bytes / down_bw

where

* ``compute`` is the measured time of the compute, compress, decompress and
  update phases of that round on the slowest rank (the slowest rank sets the
  pace of a synchronous round). A rank that simulates several clients in turn
  measures their work one after the other, so this is an upper bound on what
  one real client would need;
* ``up_bytes`` and ``down_bytes`` are the bytes per participating client of
  the round (``bytes_uplink / clients`` and ``bytes_downlink / clients``). In
  the federated view every client uploads over its own link in parallel with
  the others, so one client's bytes set the transfer time, not the sum;
* ``2 * latency`` is one upload message and one download message per round.

Summing ``t_round`` over the rounds gives a predicted time axis for every run
and link, and the first step reaching a target accuracy (or loss) on it is the
predicted time to accuracy.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from hpcsketch.errors import BadInput

#: phases that are computation on a client or the server (communication is what the model replaces)
COMPUTE_PHASES = ("compute", "compress", "decompress", "update")


@dataclass(frozen=True)
class Link:
    """A network link: latency in seconds, bandwidths in bytes per second."""

    name: str
    latency: float
    up: float
    down: float

    def describe(self) -> str:
        return f"{format_seconds(self.latency)} latency, {format_rate(self.up)} up, {format_rate(self.down)} down"


PRESETS: dict[str, Link] = {
    "datacenter": Link("datacenter", 10e-6, 100e9 / 8, 100e9 / 8),
    "cross-datacenter": Link("cross-datacenter", 30e-3, 1e9 / 8, 1e9 / 8),
    "federated": Link("federated", 50e-3, 10e6 / 8, 50e6 / 8),
}

_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_TIME_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_PREFIXES = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 2.0**10, "mi": 2.0**20, "gi": 2.0**30, "ti": 2.0**40}
_LINK_HELP = "expected NAME=LATENCY,UP[,DOWN] (e.g. lte=20ms,10Mbit,50Mbit) or a preset name (" + ", ".join(PRESETS) + ")"


def parse_seconds(text: str) -> float:
    """``20ms`` -> 0.02; units s, ms, us, ns (a bare number is seconds)."""
    m = re.fullmatch(r"\s*" + _NUMBER + r"\s*([a-zA-Zµ]*)\s*", text)
    if not m or m.group(2) not in _TIME_UNITS:
        raise ValueError(f"latency {text!r}: expected a number with unit s, ms, us or ns (e.g. 20ms)")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse_rate(text: str) -> float:
    """A bandwidth in bytes per second.

    ``bit``/``b``/``bps`` are bits and ``B`` bytes (``10Mbit`` = ``10Mb`` =
    ``10Mbps`` = 1.25e6 B/s, ``10MB`` = 1e7 B/s); prefixes k, M, G, T are
    decimal and Ki, Mi, Gi, Ti binary; ``/s`` is optional; a bare number is
    bytes per second.
    """
    m = re.fullmatch(r"\s*" + _NUMBER + r"\s*([a-zA-Z/]*)\s*", text)
    if not m:
        raise ValueError(f"bandwidth {text!r}: expected a number with a unit such as Mbit, Gbit or MB")
    value, unit = float(m.group(1)), m.group(2)
    if unit.endswith("/s"):
        unit = unit[:-2]
    elif unit.lower().endswith("ps"):
        unit = unit[:-2]
    if unit.endswith("bit"):
        prefix, per_byte = unit[:-3], 8.0
    elif unit.endswith("b"):
        prefix, per_byte = unit[:-1], 8.0
    elif unit.endswith("B"):
        prefix, per_byte = unit[:-1], 1.0
    elif unit == "":
        prefix, per_byte = "", 1.0
    else:
        prefix, per_byte = None, 1.0
    scale = _PREFIXES.get(prefix.lower()) if prefix is not None else None
    if scale is None:
        raise ValueError(f"bandwidth {text!r}: unknown unit {m.group(2)!r}; use bit/b (bits) or B (bytes) with k, M, G, T (e.g. 10Mbit, 1GB)")
    rate = value * scale / per_byte
    if not rate > 0:
        raise ValueError(f"bandwidth {text!r}: must be positive")
    return rate


def parse_link(spec: str) -> Link:
    """``NAME=LAT,UP[,DOWN]`` (DOWN defaults to UP), or the name of a preset."""
    if "=" not in spec:
        if spec in PRESETS:
            return PRESETS[spec]
        raise BadInput(f"{spec!r}: {_LINK_HELP}", field="--link")
    name, _, values = spec.partition("=")
    parts = [p for p in values.split(",")]
    if not name.strip() or len(parts) not in (2, 3):
        raise BadInput(f"{spec!r}: {_LINK_HELP}", field="--link")
    try:
        latency = parse_seconds(parts[0])
        up = parse_rate(parts[1])
        down = parse_rate(parts[2]) if len(parts) == 3 else up
    except ValueError as e:
        raise BadInput(f"{spec!r}: {e}", field="--link") from None
    return Link(name.strip(), latency, up, down)


def links_from_specs(specs: Iterable[str] | None) -> list[Link]:
    """The links to predict for: the given specs, or every preset when none is given."""
    links = [parse_link(s) for s in specs or []] or list(PRESETS.values())
    names = [link.name for link in links]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise BadInput(f"link name {dup[0]!r} is given twice; give each link its own name", field="--link")
    return links


def round_inputs(steps: pd.DataFrame, timing: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per run and recorded round: measured compute seconds and bytes per client.

    Columns: run_id, step, compute_seconds (slowest rank), up_bytes, down_bytes
    (per participating client). Step 0 (evaluation before training) has no
    round and costs nothing.
    """
    cols = ["run_id", "step", "compute_seconds", "up_bytes", "down_bytes"]
    if steps.empty:
        return pd.DataFrame(columns=cols)
    df = steps[["run_id", "step"]].copy()
    for name in ("bytes_uplink", "bytes_downlink", "clients"):
        df[name] = steps[name] if name in steps else np.nan
    # without a per-round client count, every logical client of the run took part
    df["clients"] = df["clients"].fillna(df["run_id"].map(runs.set_index("run_id")["clients"]))
    per_client = df["clients"].where(df["clients"] > 0)
    df["up_bytes"] = (df["bytes_uplink"] / per_client).fillna(0.0)
    df["down_bytes"] = (df["bytes_downlink"] / per_client).fillna(0.0)
    if not timing.empty:
        comp = timing[timing["phase"].isin(COMPUTE_PHASES)]
        per_rank = comp.groupby(["run_id", "step", "rank"], sort=False)["seconds"].sum()
        slowest = per_rank.groupby(level=["run_id", "step"]).max().rename("compute_seconds").reset_index()
        df = df.merge(slowest, on=["run_id", "step"], how="left")
    else:
        df["compute_seconds"] = np.nan
    df["compute_seconds"] = df["compute_seconds"].fillna(0.0)
    df = df[df["step"] > 0]
    return df[cols].reset_index(drop=True)


def predict(steps: pd.DataFrame, timing: pd.DataFrame, runs: pd.DataFrame, links: Iterable[Link]) -> pd.DataFrame:
    """Predicted round and cumulative times of every recorded step, per link.

    Columns: run_id, link, step, predicted_round_seconds, predicted_seconds
    (cumulative; 0 at step 0). Rows are in step order within each run.
    """
    cols = ["run_id", "link", "step", "predicted_round_seconds", "predicted_seconds"]
    base = round_inputs(steps, timing, runs)
    start = steps[["run_id", "step"]][steps["step"] == 0] if not steps.empty else pd.DataFrame(columns=["run_id", "step"])
    frames = []
    for link in links:
        t = base.copy()
        t["predicted_round_seconds"] = t["compute_seconds"] + 2 * link.latency + t["up_bytes"] / link.up + t["down_bytes"] / link.down
        t0 = start.copy()
        t0["predicted_round_seconds"] = 0.0
        t = pd.concat([t0, t], ignore_index=True).sort_values(["run_id", "step"], kind="stable")
        t["predicted_seconds"] = t.groupby("run_id", sort=False)["predicted_round_seconds"].cumsum()
        t["link"] = link.name
        frames.append(t[cols])
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)


def format_seconds(s: float) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(s) >= scale or unit == "us":
            return f"{s / scale:.3g} {unit}"
    return f"{s} s"


def format_rate(bytes_per_s: float) -> str:
    bits = bytes_per_s * 8
    for unit, scale in (("Tbit/s", 1e12), ("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= scale:
            return f"{bits / scale:.3g} {unit}"
    return f"{bits:.3g} bit/s"
