"""Load, override, validate and expand job files.

Every problem is reported as one line ``FILE: [section] key = value: what is
wrong; what would be valid`` through :class:`~hpcsketch.errors.JobError`, so
the CLI can exit with code 2 before any rank starts work.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from hpcsketch.config.schema import ALIASES, SECTIONS, SPECIAL_SECTIONS, registry_for, section_keys
from hpcsketch.errors import JobError

MAX_JOB_BYTES = 1 << 20  # a job file is a few hundred bytes; refuse anything absurd
MAX_SWEEP_POINTS = 100_000


class Section(dict):
    """A validated section: a dict whose keys also read as attributes."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


@dataclass
class Job:
    """A validated job: every section filled with defaults, plus where it came from."""

    source: str
    text: str
    sections: dict[str, Section]
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    point: dict[str, Any] = field(default_factory=dict)  # the sweep point this job is, if any
    point_index: int | None = None
    #: section.key -> value set by --set: they win over the [sweep] axes
    pinned: dict[str, Any] = field(default_factory=dict)
    #: sweep axis -> the keys it sets at this point (a bundle axis sets several)
    point_keys: dict[str, list[str]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Section:
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(name)

    def get(self, dotted: str) -> Any:
        sec, _, key = dotted.partition(".")
        return self.sections[sec][key]

    def resolved(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict of every key (JSON-serialisable)."""
        return {name: dict(sec) for name, sec in self.sections.items()}

    def resolved_json(self) -> str:
        return json.dumps(self.resolved(), sort_keys=True)

    @property
    def name(self) -> str:
        base = self.sections["run"]["name"]
        if self.point:
            base += "__" + point_label(self.point)
        return base

    def points(self) -> list["Job"]:
        """One job per grid point of ``[sweep]`` (just this job when there is none)."""
        if not self.sweep:
            return [self]
        return expand_sweep(self)


def point_label(point: Mapping[str, Any]) -> str:
    """A file-name-safe label for a sweep point, e.g. ``compressor.ratio=5,algorithm.kind=cs_sgd``."""
    parts = []
    for k, v in point.items():
        text = v if isinstance(v, str) else _as_text(v)
        parts.append(f"{k}={text}")
    label = ",".join(parts)
    return "".join(c if c.isalnum() or c in "._=,+-" else "_" for c in label)[:200]


# -- loading --------------------------------------------------------------------


def load_job(path: str | os.PathLike[str], overrides: Iterable[str] = (), *, world_size: int | None = None) -> Job:
    """Read, override and validate a job file. Raises JobError with one line on any problem."""
    src = str(path)
    p = Path(path)
    if not p.exists():
        raise JobError("no such file (give the path of a TOML job file, e.g. jobs/quickstart.toml)", source=src)
    if p.is_dir():
        raise JobError("is a directory, not a TOML job file", source=src)
    try:
        size = p.stat().st_size
        if size > MAX_JOB_BYTES:
            raise JobError(f"is {size} bytes; a job file is at most {MAX_JOB_BYTES} bytes of TOML", source=src)
        raw = p.read_bytes()
    except PermissionError:
        raise JobError("cannot be read (permission denied)", source=src) from None
    except OSError as e:
        raise JobError(f"cannot be read ({e.strerror or e})", source=src) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JobError(f"is not UTF-8 text (byte {e.start}); a job file is TOML", source=src) from None
    return parse_job(text, src, overrides, default_name=p.stem, world_size=world_size)


def parse_job(
    text: str,
    source: str = "<job>",
    overrides: Iterable[str] = (),
    *,
    default_name: str = "job",
    world_size: int | None = None,
) -> Job:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise JobError(f"is not valid TOML: {e}", source=source) from None
    except RecursionError:
        raise JobError("is not valid TOML: nested too deeply", source=source) from None
    overrides = list(overrides)
    for ov in overrides:
        apply_override(data, ov)
    pinned = {}
    for ov in overrides:
        key, _, raw = ov.partition("=")
        if not key.strip().startswith("sweep."):
            pinned[key.strip()] = parse_override_value(raw.strip())
    try:
        job = validate(data, source, default_name=default_name, world_size=world_size, pinned=pinned)
    except JobError as e:
        # an error in an overridden value names the --set that put it there
        for ov in overrides:
            key = ov.partition("=")[0].strip()
            sec, _, name = key.partition(".")
            if e.field and (e.field.startswith(f"[{sec}] {name} ") or e.field == f"[{sec}] {name}"):
                raise JobError(e.detail, source=f"{source} (--set {ov})", field=e.field) from None
        raise
    job.text = text
    job.overrides = overrides
    return job


def parse_override_value(raw: str) -> Any:
    """``--set`` values are TOML literals (``0.1``, ``true``, ``[2, 5]``, ``"x"``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_override(data: dict[str, Any], override: str) -> None:
    src = f"--set {override}"
    key, eq, raw = override.partition("=")
    key = key.strip()
    if not eq or "." not in key:
        raise JobError("expected SECTION.KEY=VALUE, e.g. --set algorithm.lr=0.1", source=src)
    section, _, name = key.partition(".")
    if section == "sweep":
        value = parse_override_value(raw.strip())
        data.setdefault("sweep", {})[name] = value
        return
    if section not in SECTIONS:
        raise JobError(f"unknown section [{section}]{_suggest(section, SECTIONS)}; sections: {', '.join(SECTIONS)}", source=src)
    if not name or "." in name:
        raise JobError("expected SECTION.KEY=VALUE with a single key name", source=src)
    sec = data.setdefault(section, {})
    if not isinstance(sec, dict):
        raise JobError(f"[{section}] is not a table in the job file", source=src)
    sec[name] = parse_override_value(raw.strip())


# -- validation -----------------------------------------------------------------


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_text(value: Any) -> str:
    """A value as the job file spells it, near enough for a message (TOML dates and times have no JSON form)."""
    if isinstance(value, (dict, list)):
        return repr(value)
    return json.dumps(value, default=str)


def _where(section: str, key: str, value: Any = None, show_value: bool = True) -> str:
    if not show_value:
        return f"[{section}] {key}"
    text = _as_text(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"[{section}] {key} = {text}"


def validate(data: Mapping[str, Any], source: str, *, default_name: str = "job", world_size: int | None = None,
             pinned: Mapping[str, Any] | None = None) -> Job:
    data = copy.deepcopy(dict(data))
    for top, value in data.items():
        if top in SPECIAL_SECTIONS:
            continue
        if top not in SECTIONS:
            raise JobError(
                f"unknown section [{top}]{_suggest(top, list(SECTIONS) + list(SPECIAL_SECTIONS))}; "
                f"sections: {', '.join(list(SECTIONS) + list(SPECIAL_SECTIONS))}",
                source=source,
            )
        if not isinstance(value, dict):
            raise JobError(f"[{top}] must be a table ([{top}] followed by key = value lines), not a {type(value).__name__}", source=source)

    sections: dict[str, Section] = {}
    for name in SECTIONS:
        sections[name] = _validate_section(name, data.get(name, {}), source)
    if sections["run"]["name"] is None:
        sections["run"]["name"] = _safe_name(default_name)

    sweep = _validate_sweep(data.get("sweep", {}), source)
    job = Job(source=source, text="", sections=sections, sweep=sweep)
    for dotted in pinned or {}:
        sec, _, key = dotted.partition(".")
        job.pinned[dotted] = sections[sec][key]  # the validated value
    if not sweep:
        check_combination(job, world_size=world_size)
    else:
        n = 1
        for values in sweep.values():
            n *= len(values)
        if n > MAX_SWEEP_POINTS:
            raise JobError(f"[sweep] has {n} grid points; at most {MAX_SWEEP_POINTS}", source=source)
        for point in expand_sweep(job):
            check_combination(point, world_size=world_size)
    return job


def _safe_name(stem: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "_" for c in stem).strip("._-")
    return cleaned[:100] or "job"


def _validate_section(name: str, raw: Mapping[str, Any], source: str) -> Section:
    keys = section_keys(name)
    aliases = ALIASES.get(name, {})
    out = Section()
    for key, value in raw.items():
        key = aliases.get(key, key)
        opt = keys.get(key)
        if opt is None:
            raise JobError(
                f"unknown key{_suggest(key, keys)}; keys of [{name}]: {', '.join(keys)}",
                source=source,
                field=_where(name, key, show_value=False),
            )
        norm, err = opt.validate(value)
        if err:
            raise JobError(err, source=source, field=_where(name, key, value))
        out[key] = norm
    given = set(out)
    for key, opt in keys.items():
        if key not in out:
            out[key] = opt.default
    # kinds are checked against their registry (lazy import of the chosen class only)
    reg = registry_for(name)
    if reg is not None and "kind" in out:
        if out["kind"] not in reg:
            raise JobError(
                f"unknown {name} kind{_suggest(out['kind'], reg.names())}; expected one of {', '.join(reg.names())}",
                source=source,
                field=_where(name, "kind", out["kind"]),
            )
        # a key two kinds share may default differently for each: the chosen kind's default wins
        for opt in getattr(reg.get(out["kind"]), "options", ()):
            if opt.name not in given:
                out[opt.name] = opt.default
    return out


def _check_swept_value(dotted: str, v: Any, source: str, where: str) -> tuple[str, Any]:
    """Validate one value of a swept key; returns the canonical ``section.key`` and the value."""
    sec, _, key = dotted.partition(".")
    if sec not in SECTIONS or not key:
        raise JobError(
            f"swept key must be \"section.key\" with section one of {', '.join(SECTIONS)}",
            source=source,
            field=where,
        )
    if sec == "run" and key in ("out",):
        raise JobError("the output directory cannot be swept", source=source, field=where)
    opt = section_keys(sec).get(ALIASES.get(sec, {}).get(key, key))
    if opt is None:
        raise JobError(
            f"unknown key{_suggest(key, section_keys(sec))}; keys of [{sec}]: {', '.join(section_keys(sec))}",
            source=source,
            field=where,
        )
    norm, err = opt.validate(v)
    if err:
        raise JobError(err, source=source, field=f"{where} value {_as_text(v)}")
    return f"{sec}.{opt.name}", norm


def _validate_sweep(raw: Any, source: str) -> dict[str, list[Any]]:
    """Sweep axes. ``"section.key" = [values]`` is a plain axis; ``name = [{...}, {...}]``
    (a name without a dot, a list of inline tables of ``"section.key" = value`` and an
    optional ``label``) is a bundle axis that sets several keys together, e.g. a method
    (algorithm and its compressor) or a compression level (sketch ratio and top-k k)."""
    if not isinstance(raw, dict):
        raise JobError("[sweep] must be a table of \"section.key\" = [values]", source=source)
    sweep: dict[str, list[Any]] = {}
    for axis, values in raw.items():
        where = f"[sweep] \"{axis}\""
        if isinstance(values, dict):
            # `[sweep.compressor] ratio = [...]` or an unquoted dotted key: flatten one level
            for k, v in values.items():
                sweep.update(_validate_sweep({f"{axis}.{k}": v}, source))
            continue
        if not isinstance(values, list) or not values:
            raise JobError("expected a non-empty list of values", source=source, field=where)
        if "." not in axis:
            bundles = []
            for i, b in enumerate(values):
                if not isinstance(b, dict) or not b:
                    raise JobError(
                        "a bundle axis (a name without a dot) takes a list of inline tables "
                        "{ \"section.key\" = value, ..., label = \"...\" }",
                        source=source, field=f"{where} item {i}",
                    )
                checked: dict[str, Any] = {}
                for dotted, v in b.items():
                    if dotted == "label":
                        if not isinstance(v, str) or not v:
                            raise JobError("label must be a non-empty string", source=source, field=f"{where} item {i}")
                        continue
                    key, norm = _check_swept_value(dotted, v, source, f"{where} item {i} \"{dotted}\"")
                    checked[key] = norm
                if not checked:
                    raise JobError("a bundle needs at least one \"section.key\" = value", source=source, field=f"{where} item {i}")
                label = b.get("label") or "+".join(str(v) for v in checked.values())
                bundles.append(Bundle(label, checked))
            labels = [x.label for x in bundles]
            if len(set(labels)) != len(labels):
                raise JobError(f"bundle labels must differ, got {labels}", source=source, field=where)
            sweep[axis] = bundles
            continue
        checked_values = []
        key = axis
        for v in values:
            key, norm = _check_swept_value(axis, v, source, where)
            checked_values.append(norm)
        sweep[key] = checked_values
    return sweep


@dataclass(frozen=True)
class Bundle:
    """One value of a bundle axis: several keys set together under one label."""

    label: str
    values: dict[str, Any]

    def __str__(self) -> str:
        return self.label


def expand_sweep(job: Job) -> list[Job]:
    """Every grid point, in order; points that resolve to the same run (differing only in
    keys the chosen methods do not read) are kept once, and indices stay 0..M-1."""
    axes = list(job.sweep)
    jobs: list[Job] = []
    seen: set[str] = set()
    for combo in itertools.product(*(job.sweep[a] for a in axes)):
        sections = {name: Section(sec) for name, sec in job.sections.items()}
        point: dict[str, Any] = {}
        setting: dict[str, dict[str, Any]] = {}
        for axis, v in zip(axes, combo):
            pairs = v.values if isinstance(v, Bundle) else {axis: v}
            for dotted, value in pairs.items():
                sec, _, key = dotted.partition(".")
                sections[sec][key] = value
            point[axis] = v.label if isinstance(v, Bundle) else v
            setting[axis] = {k: x for k, x in pairs.items() if k not in job.pinned}
        for dotted, value in job.pinned.items():  # the command line wins over the file's sweep
            sec, _, key = dotted.partition(".")
            sections[sec][key] = value
        candidate = Job(source=job.source, text=job.text, sections=sections, sweep={}, overrides=job.overrides, point=point,
                        pinned=job.pinned)
        used = used_keys(candidate)
        # a swept key the point's methods do not read says nothing about the run: drop it from the label
        candidate.point = {a: p for a, p in point.items() if any(k in used for k in setting[a])}
        candidate.point_keys = {a: sorted(setting[a]) for a in candidate.point}
        fingerprint = json.dumps(effective_config(candidate, used), sort_keys=True, default=str)
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        candidate.point_index = len(jobs)
        jobs.append(candidate)
    return jobs


def used_keys(job: Job) -> set[str]:
    """``section.key`` names the job's chosen problem, algorithm, compressor and topology read."""
    used: set[str] = set()
    s = job.sections
    algo_cls = registry_for("algorithm").get(s["algorithm"]["kind"])
    for sec in SECTIONS:
        common = {o.name for o in SECTIONS[sec].options}
        reg = registry_for(sec)
        own: set[str] = set(common)
        if reg is not None and s[sec].get("kind") in reg:
            cls = reg.get(s[sec]["kind"])
            own |= {o.name for o in getattr(cls, "options", ())}
            used |= set(getattr(cls, "reads", ()))
        if sec == "topology" and not getattr(algo_cls, "decentralized", False):
            continue
        if sec == "clients":
            part = s["clients"]["partition"]
            own -= {"alpha"} if part != "dirichlet" else set()
            own -= {"shards"} if part != "shards" else set()
        used |= {f"{sec}.{k}" for k in own}
    return used


def effective_config(job: Job, used: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """The resolved job restricted to the keys it reads: two jobs with the same are the same run."""
    used = used_keys(job) if used is None else used
    out: dict[str, dict[str, Any]] = {}
    for sec, values in job.resolved().items():
        kept = {k: v for k, v in values.items() if f"{sec}.{k}" in used}
        if kept:
            out[sec] = kept
    return out


def check_combination(job: Job, *, world_size: int | None = None) -> None:
    """Checks that span keys or sections (the per-key checks are done by then)."""
    src = job.source
    where = f" (sweep point {point_label(job.point)})" if job.point else ""
    s = job.sections

    def fail(field: str, msg: str) -> None:
        raise JobError(msg + where, source=src, field=field)

    # problem and model
    prob_cls = registry_for("problem").get(s["problem"]["kind"])
    models = tuple(getattr(prob_cls, "models", ("",)))
    model = s["problem"]["model"]
    if model is None:
        s["problem"]["model"] = models[0] if models and models[0] else None
    elif models == ("",):
        fail(_where("problem", "model", model), f"problem {s['problem']['kind']!r} has no model to choose; remove the key")
    elif model not in models:
        fail(
            _where("problem", "model", model),
            f"is not a model of problem {s['problem']['kind']!r}{_suggest(model, models)}; expected one of {', '.join(models)}",
        )
    _check_declared_keys("problem", s["problem"], prob_cls, job, fail)

    # algorithm and compressor
    algo_cls = registry_for("algorithm").get(s["algorithm"]["kind"])
    comp_kind = s["compressor"]["kind"]
    comp_cls = registry_for("compressor").get(comp_kind)
    allowed = getattr(algo_cls, "compressors", None)
    if allowed is not None and comp_kind not in allowed:
        fail(
            _where("compressor", "kind", comp_kind),
            f"algorithm {s['algorithm']['kind']!r} does not work with this compressor; expected one of {', '.join(allowed)}",
        )
    need = getattr(algo_cls, "compressor_requires", None)
    if need:
        for attr in need:
            if not getattr(comp_cls, attr, False):
                fail(
                    _where("compressor", "kind", comp_kind),
                    f"algorithm {s['algorithm']['kind']!r} needs a {attr} compressor and {comp_kind!r} is not",
                )
    _check_declared_keys("algorithm", s["algorithm"], algo_cls, job, fail)
    _check_declared_keys("compressor", s["compressor"], comp_cls, job, fail)

    # clients over ranks
    n = s["clients"]["count"]
    if world_size is not None and n < world_size:
        fail(_where("clients", "count", n), f"fewer clients than the {world_size} ranks; each rank hosts at least one client")
    if s["clients"]["partition"] == "shards" and s["clients"]["shards"] < 1:
        fail(_where("clients", "shards", s["clients"]["shards"]), "expected at least one shard per client")
    decentralized = getattr(algo_cls, "decentralized", False)
    if decentralized and s["clients"]["participation"] < 1.0:
        fail(
            _where("clients", "participation", s["clients"]["participation"]),
            f"decentralized algorithm {s['algorithm']['kind']!r} has every node take part each round; expected 1.0",
        )
    if decentralized and world_size is not None:
        from hpcsketch.topology.network import node_problem

        problem = node_problem(s["topology"]["kind"], world_size, s["topology"])
        if problem:
            key, msg = problem
            fail(_where("topology", key, s["topology"][key]), msg)
    run = s["run"]
    if run["eval_every"] > run["rounds"]:
        run["eval_every"] = run["rounds"]
    _check_hessian(s, prob_cls, fail)
    _check_setup(s, fail)
    _check_memory(s, world_size, fail)


def _check_setup(s: Mapping[str, Any], fail: Any) -> None:
    """The checks the problem, its data and the compressor make when they are built, mirrored here
    (from the keys alone: no torch, no MPI, no data read) so that validate refuses what run refuses."""
    from hpcsketch.config import memory

    p, c, a = s["problem"], s["compressor"], s["algorithm"]
    if p["kind"] == "cifar10":
        path = p.get("data_path")
        if not path:
            fail(_where("problem", "data_path", show_value=False),
                 'required for kind = "cifar10"; expected the path of the cifar-10-batches-bin folder '
                 "(data_batch_1.bin .. data_batch_5.bin, test_batch.bin)")
        if not Path(path).expanduser().is_dir():
            fail(_where("problem", "data_path", path), "not a directory; expected the cifar-10-batches-bin folder "
                 "holding data_batch_1.bin .. data_batch_5.bin and test_batch.bin")
    try:
        d = memory.problem_dim(s)
    except (ValueError, KeyError):
        return
    if p["kind"] in memory.TORCH_PROBLEMS:
        _, _, train, _ = memory.dataset_shape(p)
        n, cl = s["clients"]["count"], s["clients"]
        parts = n * cl["shards"] if cl["partition"] == "shards" else n
        if parts > train:
            what = f"shards ({n} clients x {cl['shards']})" if cl["partition"] == "shards" else "clients"
            fail(_where("clients", "count", n), f"{parts} {what} need at least as many training samples, but "
                 f"problem {p['kind']!r} has {train}")
    ck = c["kind"]
    if ck in ("topk", "randk") or a["kind"] in ("fetchsgd", "cs_sgd"):
        k = memory._count(c.get("k"), d)
        if k > d:
            fail(_where("compressor", "k", c.get("k")), f"gives {k} coordinates; need 1..{d} (or a fraction) for d = {d}")
    if ck == "gaussian":
        b = max(1, min(d, int(round(d / float(c["ratio"])))))
        if b * d > 1 << 27:
            fail(_where("compressor", "ratio", c["ratio"]),
                 f"a dense Gaussian sketch of {b} x {d} = {b * d} entries is over the 2^27 limit; raise ratio, "
                 "or use subsampled_wht or count_sketch for this d")
    if ck == "perm_q" and c.get("blocks") is not None and c["blocks"] > d:
        fail(_where("compressor", "blocks", c["blocks"]), f"blocks = {c['blocks']} is more than d = {d}; need 1..{d}")
    if a["kind"] == "ist":
        sketch = a.get("sketch") or "perm_q"
        if sketch == "rand_q" and a.get("q") is not None:
            q = memory._count(a["q"], d)
            if q > d:
                fail(_where("algorithm", "q", a["q"]), f"{q} coordinates per client but d = {d}; need a count in 1..{d} or a fraction")
        n = s["clients"]["count"]
        per_round = n if s["clients"]["participation"] >= 1.0 else max(1, int(round(s["clients"]["participation"] * n)))
        width = int(p.get("hidden") or 100) if sketch == "neurons" else d
        if per_round > width:
            what = (f"the narrowest hidden layer has {width} units: each client needs at least one unit of every hidden layer"
                    if sketch == "neurons" else f"d = {d}: {sketch} needs at most d clients per round")
            fail(_where("algorithm", "sketch", sketch), f"{per_round} clients per round but {what}")


def _check_memory(s: Mapping[str, Any], world_size: int | None, fail: Any) -> None:
    """Refuse a job that does not fit the memory this node's ranks share (see hpcsketch.config.memory)."""
    from hpcsketch.config import memory

    try:
        problem = memory.check(s, world_size)
    except (ValueError, KeyError):  # a kind the estimate does not know: nothing to say about it
        return
    if problem:
        key, msg = problem
        sec, _, name = key.partition(".")
        fail(_where(sec, name, s[sec].get(name)), msg)


def _check_hessian(s: Mapping[str, Any], prob_cls: Any, fail: Any) -> None:
    h, rounds = s["hessian"], s["run"]["rounds"]
    late = [r for r in h["rounds"] if r > rounds]
    if late:
        fail(_where("hessian", "rounds", h["rounds"]), f"round {late[0]} is after the last round ({rounds})")
    from hpcsketch.hessian.measure import Settings

    conflict = Settings.from_section(h).conflict()
    if conflict:
        fail(_where("hessian", conflict[0], h[conflict[0]]), conflict[1])
    if (h["rounds"] or h["every"]) and not getattr(prob_cls, "has_hvp", False):
        fail(_where("hessian", "rounds" if h["rounds"] else "every", h["rounds"] or h["every"]),
             f"problem {s['problem']['kind']!r} has no Hessian-vector product to measure with")


def _check_declared_keys(section: str, values: Section, cls: Any, job: Job, fail: Any) -> None:
    """Class-level cross checks (``check(job) -> str | None`` on the class)."""
    check = getattr(cls, "check_job", None)
    if check is not None:
        result = check(job)
        if result:
            field, msg = result if isinstance(result, tuple) else (f"[{section}]", result)
            fail(field, msg)


def job_from_trace(path: str | os.PathLike[str]) -> Job:
    """The exact job a trace ran (every resolved key, its sweep point), for ``--resume``."""
    from hpcsketch.tracing.reader import read_trace

    t = read_trace(path)
    try:
        resolved = json.loads(t.attrs["job_resolved"])
        point = json.loads(t.attrs.get("sweep_point", "{}") or "{}")
        overrides = json.loads(t.attrs.get("job_overrides", "[]") or "[]")
    except (KeyError, ValueError):
        raise JobError("does not record the job it ran (job_resolved); it cannot be resumed", source=str(path)) from None
    # unset optional keys are stored as null; leaving them out gives the same defaults back
    resolved = {sec: {k: v for k, v in keys.items() if v is not None} for sec, keys in resolved.items()}
    job = validate(resolved, str(path))
    job.point, job.text, job.overrides = point, t.attrs.get("job", ""), overrides
    job.point_keys = json.loads(t.attrs.get("sweep_point_keys", "{}") or "{}")
    job.source = t.attrs.get("job_source", str(path))
    return job
