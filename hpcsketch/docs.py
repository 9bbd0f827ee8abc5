"""Keep the README's generated sections true: ``python -m hpcsketch.docs [--check] README.md``.

Blocks between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` are produced from
the code (the job-file keys, the trace schema); ``--check`` exits 1 when the
README differs from what the code says (the test suite runs it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable


def _keys() -> str:
    from hpcsketch.config.schema import keys_table_markdown

    return keys_table_markdown()


def _schema() -> str:
    from hpcsketch.tracing.schema import schema_markdown

    return schema_markdown()


BLOCKS: dict[str, Callable[[], str]] = {"keys": _keys, "schema": _schema}


def render(text: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README has no <!-- {name}:begin --> ... <!-- {name}:end --> block")
        text = pattern.sub(lambda m: m.group(1) + make().rstrip() + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"] or ["README.md"]
    status = 0
    for p in map(Path, paths):
        old = p.read_text()
        new = render(old)
        if new != old:
            if check:
                print(f"{p}: generated sections are out of date; run python -m hpcsketch.docs {p}")
                status = 1
            else:
                p.write_text(new)
                print(f"updated {p}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
