"""SQL kept as named blocks in ``aggregator/storage/sql/*.sql`` and looked up by name.

A block starts with ``-- name: verb_noun`` and runs until the next such line. Parameters are
asyncpg's ``$1``. Queries are loaded once; a missing name is a programming error caught at
import time by the repository modules' tests.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_blocks(text: str, origin: str = "<sql>") -> dict[str, str]:
    blocks: dict[str, str] = {}
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    for i in range(1, len(parts), 2):
        name, body = parts[i], parts[i + 1].strip()
        if name in blocks:
            raise ValueError(f"{origin}: query {name!r} defined twice")
        blocks[name] = body
    return blocks


@cache
def queries() -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in sorted(files("aggregator.storage.sql").iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".sql"):
            continue
        for name, body in parse_blocks(entry.read_text(encoding="utf-8"), entry.name).items():
            if name in found:
                raise ValueError(f"{entry.name}: query {name!r} already defined elsewhere")
            found[name] = body
    return found


def q(name: str) -> str:
    try:
        return queries()[name]
    except KeyError:
        raise KeyError(f"no SQL block named {name!r} in aggregator/storage/sql/") from None
