"""[problem] keys shared by several problems, declared once so that a key has the
same type wherever it appears, and the helpers that read a problem's keys.

The harness core declares ``kind``, ``model`` and ``batch_size``; problems
declare only the extra keys they read (``options = (...)`` on the class).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

from hpcsketch.config.options import Option
from hpcsketch.errors import BadInput

#: the generated problems form their mean Hessian (d x d, float64) on every rank: 8 GiB at this d
MAX_DIM = 1 << 15
DIM = Option("dim", "int", 100, "dimension d of the parameter vector", min=1, max=MAX_DIM)
DTYPE = Option(
    "dtype", "str", "float64", "floating type of x, gradients and data on the device (generated in float64)",
    choices=("float32", "float64"),
)
NOISE = Option("noise", "float", 0.0, "standard deviation of additive Gaussian noise", min=0)
# hidden^2 weights between the MLP's two hidden layers: 2^28 (1 GiB of float32) at most
HIDDEN = Option("hidden", "int", 100, "hidden units in each of the MLP's two hidden layers (model = \"mlp\")", min=1,
                max=1 << 14)
DEFAULT_BATCH_SIZE = 32


def with_default(option: Option, default: Any, doc: str | None = None) -> Option:
    """The same key (same type and bounds) with a problem-specific default and text."""
    return replace(option, default=default, doc=doc if doc is not None else option.doc)


def read_options(options: Sequence[Option], opts: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``options`` in ``opts``, defaults filled in and validated.

    The config layer validates job files already; doing it again here keeps a
    problem built directly (tests, notebooks) from running on a bad value.
    """
    values: dict[str, Any] = {}
    for opt in options:
        raw = opts.get(opt.name)
        if raw is None:
            values[opt.name] = opt.default
            continue
        value, err = opt.validate(raw)
        if err:
            raise BadInput(err, field=f"[problem] {opt.name}")
        values[opt.name] = value
    return values


def batch_size(opts: Mapping[str, Any]) -> int:
    """``[problem] batch_size``: 0 means the client's whole data."""
    bs = opts.get("batch_size", DEFAULT_BATCH_SIZE)
    if isinstance(bs, bool) or not isinstance(bs, int) or bs < 0:
        raise BadInput(f"expected an integer >= 0 (0 = the client's whole data), got {bs!r}", field="[problem] batch_size")
    return bs


def model_name(kind: str, models: Sequence[str], opts: Mapping[str, Any]) -> str:
    """``[problem] model``, the first of ``models`` when unset."""
    name = opts.get("model") or models[0]
    if name not in models:
        raise BadInput(
            f"{name!r} is not a model of problem {kind!r}; expected one of {', '.join(map(repr, models))}",
            field="[problem] model",
        )
    return name
