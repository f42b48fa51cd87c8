"""``schema.sql``: the schema that migrating an empty database yields, in a stable form."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from urllib.parse import urlsplit

import asyncpg


def _pg_dump_binary() -> str:
    """pg_dump matching the server is best; the embedded server ships its own."""
    try:
        from pathlib import Path

        import pgserver

        candidate = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("pg_dump")
    if not found:
        raise RuntimeError("pg_dump not found")
    return found


async def dump_schema(dsn: str) -> str:
    """Tables, types, indexes and constraints as ``pg_dump --schema-only`` prints them, minus
    comments, SET lines and ownership, so the text depends on the schema alone."""
    conn = await asyncpg.connect(dsn)
    try:
        version = await conn.fetchval("SHOW server_version_num")
    finally:
        await conn.close()
    parts = urlsplit(dsn)
    cmd = [
        _pg_dump_binary(),
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--exclude-table=schema_migrations",
        "-d",
        dsn,
    ]
    out = await asyncio.to_thread(  # pg_dump may take a while on a big schema
        subprocess.run, cmd, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(
            f"pg_dump failed (server {version}, host {parts.hostname}): {out.stderr}"
        )
    return normalize_dump(out.stdout)


# Some PostgreSQL builds record a per-column version stamp that pg_dump prints as a column
# option; it says when a column was created, not what the schema is.
_ATTVER = re.compile(r"^ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \(pg_attver=\d+\);$")


def normalize_dump(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith(
            ("--", "SET ", "SELECT pg_catalog.set_config", "\\restrict", "\\unrestrict")
        ) or _ATTVER.match(line):
            continue
        lines.append(line.rstrip())
    body = "\n".join(lines)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return body + "\n"
