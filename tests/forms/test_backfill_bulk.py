"""The bulk path for history rows stores exactly what the general intake path stores."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import asyncpg

from aggregator.intake.backfill import Policy, reset_backfill, run_backfill
from aggregator.intake.sealing import open_meta, open_payload
from aggregator.wiring.sources import build_source
from tests.forms.helpers import form_source_config
from tests.forms.legacy import LegacyDb, fill

_VOLATILE = {
    "id",
    "raw_item_id",
    "reporter_id",
    "duplicate_of",
    "received_at",
    "status_at",
    "updated_at",
    "ingested_at",
    "complaint_id",
    "at",
    "created_at",
    "run_after",
}


async def _snapshot(conn: asyncpg.Connection, services: Any) -> dict[str, Any]:
    """Everything intake stored, keyed by the raw item's source_ref, without ids and clocks;
    reporters decrypted; links (duplicate_of, jobs, events) by source_ref too."""
    crypto = services.crypto
    refs = {
        r["id"]: r["source_ref"]
        for r in await conn.fetch(
            "SELECT c.id, r.source_ref FROM complaints c JOIN raw_items r ON r.id = c.raw_item_id"
        )
    }
    out: dict[str, Any] = {}
    for r in await conn.fetch("SELECT * FROM raw_items"):
        row = {k: v for k, v in dict(r).items() if k not in _VOLATILE}
        # Encrypted with a fresh nonce each time: compared as the original they hold.
        row["payload"] = open_payload(crypto, r["payload"], r["payload_key"])
        row["meta"] = open_meta(crypto, r["meta"])
        row["complaint"] = refs.get(r["complaint_id"])
        for cid, ref in refs.items():  # "same text as <complaint id>"
            if row["reason"]:
                row["reason"] = row["reason"].replace(str(cid), ref)
        out[r["source_ref"]] = {"raw": row}
    for c in await conn.fetch(
        "SELECT c.*, r.source_ref FROM complaints c JOIN raw_items r ON r.id = c.raw_item_id"
    ):
        row = {k: v for k, v in dict(c).items() if k not in _VOLATILE}
        row["duplicate_of"] = refs.get(c["duplicate_of"])
        rep = await conn.fetchrow("SELECT * FROM reporters WHERE id = $1", c["reporter_id"])
        if rep is not None:
            row["reporter"] = {
                **{
                    f: crypto.decrypt(f, rep[f"{f}_enc"]) for f in ("name", "email", "phone", "nik")
                },
                **{
                    k: rep[k]
                    for k in ("key_id", "email_hash", "phone_hash", "nik_hash", "nik_valid")
                },
            }
        row["events"] = [
            _by_ref(dict(e), refs)
            for e in await conn.fetch(
                "SELECT kind, actor, data FROM events WHERE complaint_id = $1 ORDER BY id", c["id"]
            )
        ]
        row["jobs"] = sorted(
            _by_ref(dict(j), refs)
            for j in await conn.fetch(
                "SELECT kind, state, payload FROM jobs WHERE complaint_id = $1", c["id"]
            )
        )
        out[c["source_ref"]]["complaint"] = row
    return out


def _by_ref(row: dict[str, Any], refs: dict[Any, str]) -> str:
    text = repr(row)
    for cid, ref in refs.items():
        text = text.replace(str(cid), ref)
    return text


async def _backfill(services: Any, legacy: LegacyDb, uploads: Path, *, bulk: bool) -> Any:
    cfg = form_source_config(legacy, uploads, batch_size=50)
    services = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"sources": [cfg]})
    )
    src = build_source(cfg, services)
    try:
        return await run_backfill(
            services,
            src,
            policy=Policy(push_if_open_newer_than_days=0),
            progress=False,
            out=io.StringIO(),
            bulk=bulk,
        )
    finally:
        await src.close()


async def test_bulk_history_stores_what_the_general_path_stores(
    legacy: LegacyDb, uploads: Path, services: Any
) -> None:
    # The awkward seeded rows (mojibake, orphans, empty and HTML-only text, a photo, a
    # double submission) plus 300 generated ones from 30 reporters (repeat identities).
    await fill(legacy, 300, people=30)
    general = await _backfill(services, legacy, uploads, bulk=False)
    async with services.pool.acquire() as conn:
        expected = await _snapshot(conn, services)
        await conn.execute(
            "TRUNCATE raw_items, complaints, reporters, events, jobs, "
            "backfill_runs, source_state CASCADE"
        )
    bulk = await _backfill(services, legacy, uploads, bulk=True)
    async with services.pool.acquire() as conn:
        got = await _snapshot(conn, services)
        ciphertexts = await conn.fetchval("SELECT count(DISTINCT name_enc) FROM reporters")
        reporters = await conn.fetchval("SELECT count(*) FROM reporters")
    assert bulk.to_json() == general.to_json()
    assert bulk.read == 315 and bulk.history >= 300 and bulk.quarantined == 2
    assert set(got) == set(expected)
    for ref in expected:
        for part in expected[ref]:
            want, have = expected[ref][part], got[ref][part]
            assert have == want, (
                ref,
                part,
                {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v},
            )
    # Repeated identities were sealed once: fewer distinct ciphertexts than reporter rows.
    assert ciphertexts < reporters


async def test_bulk_skips_rows_already_held(legacy: LegacyDb, uploads: Path, services: Any) -> None:
    await fill(legacy, 120, people=12)
    first = await _backfill(services, legacy, uploads, bulk=True)
    await reset_backfill(services, "form-pupr")  # forget the cursor: read it all again
    again = await _backfill(services, legacy, uploads, bulk=True)
    async with services.pool.acquire() as conn:
        complaints = await conn.fetchval("SELECT count(*) FROM complaints")
    assert again.imported == 0 and again.skipped["already_imported"] == again.read == 135
    assert complaints == first.imported
