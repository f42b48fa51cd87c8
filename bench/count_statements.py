"""Run the daemon counting the SQL statements it sends, for bench/e2e.py's round-trip count.

    .venv/bin/python bench/count_statements.py OUT.json --config satukanal.toml run

Every connection of the daemon's pool gets asyncpg's query logger; at exit the statements
are written to OUT.json as ``{"total": N, "by_query": {text: count}}``. Each logged
statement is one round trip (BEGIN, COMMIT and the pool's reset on release included;
COPY is not logged by asyncpg and is not counted). A measuring aid only: not how the
daemon runs in production.
"""

# ruff: noqa: E402 - sys.path is fixed before the other imports
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import atexit
import json
from collections import Counter
from typing import Any

import asyncpg

from aggregator.storage import db

COUNTS: Counter[str] = Counter()
_init = db.init_connection


async def _counting_init(conn: asyncpg.Connection) -> None:
    await _init(conn)
    conn.add_query_logger(_count)


def _count(record: Any) -> None:
    COUNTS[" ".join(str(record.query).split())[:300]] += 1


def _dump(path: str) -> None:
    with open(path, "w") as fh:
        json.dump(
            {"total": sum(COUNTS.values()), "by_query": dict(COUNTS.most_common())}, fh, indent=1
        )


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    db.init_connection = _counting_init  # type: ignore[assignment]
    atexit.register(_dump, out)
    from aggregator.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
