"""Fault injection for the reliability tests: ``--inject-fault rank=R,round=T,kind=KIND``.

Parsed by the command line (the launcher parent checks it before starting ranks,
so it must stay light) and acted on by the runner on rank R before round T.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpcsketch.errors import BadInput

#: raise: an exception on one rank; kill: SIGKILL to itself; nan: NaN into the model;
#: term: SIGTERM to itself (as scancel would); stall: STALL_SECONDS in one long step (a rank stuck in
#: a long computation, which a signal handler cannot interrupt)
KINDS = ("raise", "kill", "nan", "term", "stall")
STALL_SECONDS = 60.0


@dataclass
class FaultSpec:
    rank: int
    round: int
    kind: str

    @classmethod
    def parse(cls, text: str) -> "FaultSpec":
        usage = f"expected rank=R,round=T,kind={'|'.join(KINDS)}, got {text!r}"
        fields = {}
        for part in text.split(","):
            k, eq, v = part.partition("=")
            if not eq:
                raise BadInput(usage, field="--inject-fault")
            fields[k.strip()] = v.strip()
        try:
            spec = cls(int(fields.get("rank", 0)), int(fields["round"]), fields.get("kind", "raise"))
        except (KeyError, ValueError):
            raise BadInput(usage, field="--inject-fault") from None
        if spec.kind not in KINDS:
            raise BadInput(f"kind must be one of {', '.join(KINDS)}, got {spec.kind!r}", field="--inject-fault")
        return spec
