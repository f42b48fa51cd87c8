"""``satukanal backfill`` as an operator runs it: killed mid-way, run again, no duplicates."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import asyncpg

from tests.forms.helpers import run_cli, write_operator_config
from tests.forms.legacy import LegacyDb, fill

ROWS = 3000


def write_config(tmp: Path, db_dsn: str, legacy: LegacyDb, sunset: bool = False) -> Path:
    return write_operator_config(
        tmp,
        db_dsn,
        f"""
[[sources]]
name = "form-arsip"
kind = "sql_table"
batch_size = 100
sunset = {str(sunset).lower()}
[sources.options]
url = "{legacy.url}"
table = "pengaduan"
[sources.options.backfill]
push_if_open_newer_than_days = 0
""",
    )


async def connect(db_dsn: str) -> asyncpg.Connection:
    from aggregator.storage.db import init_connection

    conn = await asyncpg.connect(db_dsn)
    await init_connection(conn)
    return conn


async def wait_for_progress(db_dsn: str, at_least: int) -> int:
    conn = await connect(db_dsn)
    try:
        for _ in range(600):
            n = await conn.fetchval(
                "SELECT coalesce((counts->>'read')::int, 0) "
                "FROM backfill_runs WHERE source = 'form-arsip'"
            )
            if n is not None and n >= at_least:
                return int(n)
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError("backfill made no progress")


async def test_backfill_killed_and_interrupted_resumes_without_duplicates(
    tmp_path: Path, db_dsn: str, legacy: LegacyDb
) -> None:
    await fill(legacy, ROWS - 15)  # plus the 15 awkward seeded rows
    cfg = write_config(tmp_path, db_dsn, legacy)

    # 1. Ctrl-C: a clean stop that says how to continue.
    proc = await run_cli(cfg, "backfill", "form-arsip")
    await wait_for_progress(db_dsn, 300)
    proc.send_signal(signal.SIGINT)
    _, err = await proc.communicate()
    assert proc.returncode == 130, err.decode()
    assert b"run the same command again" in err

    # 2. A crash: SIGKILL, no chance to clean up.
    proc = await run_cli(cfg, "backfill", "form-arsip")
    before = await wait_for_progress(db_dsn, 900)
    proc.kill()
    await proc.wait()

    # 3. Run to the end.
    proc = await run_cli(cfg, "backfill", "form-arsip", "--json")
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["read"] >= ROWS - before  # it resumed instead of starting over

    conn = await connect(db_dsn)
    try:
        raw = await conn.fetchval("SELECT count(*) FROM raw_items WHERE source = 'form-arsip'")
        refs = await conn.fetchval(
            "SELECT count(DISTINCT source_ref) FROM raw_items WHERE source = 'form-arsip'"
        )
        complaints = await conn.fetchval("SELECT count(*) FROM complaints")
        per_row = await conn.fetchval(
            "SELECT max(n) FROM (SELECT count(*) n FROM complaints GROUP BY origin->>'row_id') x"
        )
        quarantined = await conn.fetchval(
            "SELECT count(*) FROM raw_items WHERE state = 'quarantined'"
        )
        pushes = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'push'")
        history = await conn.fetchval("SELECT count(*) FROM complaints WHERE status = 'history'")
        run_row = await conn.fetchrow("SELECT finished_at, counts FROM backfill_runs")
        live_cursor = await conn.fetchval(
            "SELECT cursor FROM source_state WHERE source = 'form-arsip'"
        )
    finally:
        await conn.close()
    assert raw == refs == ROWS  # every row exactly once
    assert per_row == 1
    assert quarantined == 2  # the empty and the script-only complaint
    assert complaints == ROWS - 2
    assert pushes == 0 and history + 1 == complaints  # policy: push nothing; 1 double submission
    assert run_row["finished_at"] is not None
    assert run_row["counts"]["read"] == ROWS  # counted once across the three runs
    assert run_row["counts"]["quarantined"] == 2
    assert live_cursor["last_id"] == ROWS and "backfill" not in live_cursor

    # A second full run finds nothing new; the migration report tells the operator.
    proc = await run_cli(cfg, "backfill", "form-arsip", "--restart", "--json")
    out, err = await proc.communicate()
    again = json.loads(out.decode().strip().splitlines()[-1])
    assert again["imported"] == 0 and again["skipped"]["already_imported"] == ROWS
    proc = await run_cli(cfg, "report", "migration", "--json")
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    report: list[dict[str, Any]] = json.loads(out)
    (row,) = [r for r in report if r["source"] == "form-arsip"]
    assert row["found"] == ROWS and row["history"] == ROWS - 3 and row["quarantined"] == 2
    assert row["backfilled"] == ROWS and row["live_recent"] == 0
    assert row["still_arriving"] is False
    assert row["verdict"] == "not yet: items waiting or quarantined"


async def test_dry_run_stores_nothing(tmp_path: Path, db_dsn: str, legacy: LegacyDb) -> None:
    cfg = write_config(tmp_path, db_dsn, legacy)
    proc = await run_cli(
        cfg, "backfill", "form-arsip", "--dry-run", "--since", "2025-11-03", "--until", "2025-11-08"
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    text = out.decode() + err.decode()
    assert "dry run" in text and "outside_date_range" in text
    conn = await asyncpg.connect(db_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM raw_items") == 0
        assert await conn.fetchval("SELECT count(*) FROM backfill_runs") == 0
    finally:
        await conn.close()
    proc = await run_cli(cfg, "report", "migration")
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "form-arsip" in text and "never run" in text and "switch off?" in text
