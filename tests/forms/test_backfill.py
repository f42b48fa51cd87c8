"""Backfill through the core intake: the policy decides what is pushed and what is history."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

from aggregator.intake.backfill import Policy, migration_report, run_backfill
from aggregator.wiring.sources import build_source
from tests.forms.helpers import form_source_config
from tests.forms.legacy import LegacyDb


async def test_backfill_imports_archive_with_policy(
    legacy: LegacyDb, uploads: Path, services: Any
) -> None:
    cfg = form_source_config(legacy, uploads)
    services = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"sources": [cfg]})
    )
    src = build_source(cfg, services)
    out = io.StringIO()
    try:
        s = await run_backfill(services, src, out=out, progress=False)
    finally:
        await src.close()
    assert s.finished and s.read == 15
    assert (s.imported, s.pushed, s.history, s.duplicates, s.quarantined) == (13, 9, 3, 1, 2)
    assert dict(s.decisions) == {
        "push:open_and_recent": 9,
        "history:date_unknown": 2,
        "history:closed_upstream": 1,
    }
    assert dict(s.quarantine_reasons) == {
        "isi laporan kosong": 1,
        "isi laporan hanya berisi HTML/skrip": 1,
    }
    assert "backfill form-pupr: 15/15 rows read" in out.getvalue()  # plain lines off a TTY

    async with services.pool.acquire() as conn:
        statuses = dict(await conn.fetch("SELECT origin->>'row_id', status::text FROM complaints"))
        pushes = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'push'")
        # Bulk lane: a backfill's pushes never go ahead of a live complaint's.
        push_lanes = await conn.fetchval(
            "SELECT array_agg(DISTINCT lane) FROM jobs WHERE kind = 'push'"
        )
        marked = await conn.fetchval(
            "SELECT bool_and(meta ? 'backfill') FROM raw_items WHERE source = 'form-pupr'"
        )
        flags = await conn.fetchval("SELECT flags FROM complaints WHERE origin->>'row_id' = '7'")
        photo = await conn.fetchval(
            "SELECT ca.filename FROM complaint_attachments ca JOIN complaints c "
            "ON c.id = ca.complaint_id WHERE c.origin->>'row_id' = '10'"
        )
        names = await conn.fetchval(
            "SELECT string_agg(encode(name_enc, 'escape'), '') FROM reporters"
        )
    assert statuses["15"] == "history" and statuses["5"] == "history"
    assert statuses["14"] == "history" and statuses["8"] == "duplicate"
    assert statuses["1"] == "received" and statuses["2"] == "received"
    assert pushes == 9 and marked and push_lanes == [1]
    assert "script_removed" in flags and photo == "pohon.jpg"
    assert "Budi" not in names  # identities are stored encrypted

    report = {r.source: r for r in await migration_report(services)}
    m = report["form-pupr"]
    assert (m.found, m.waiting, m.history, m.duplicates, m.quarantined) == (15, 9, 3, 1, 2)
    assert m.backfilled == 15 and m.live_recent == 0 and not m.still_arriving
    assert m.backfill_state.startswith("finished")


async def test_policy_decisions() -> None:
    import datetime as dt

    from schemas.complaint import Channel, ComplaintDraft

    now = dt.datetime(2025, 11, 20, tzinfo=dt.UTC)

    def draft(days_ago: int | None, status: str | None) -> ComplaintDraft:
        at = None if days_ago is None else now - dt.timedelta(days=days_ago)
        return ComplaintDraft(
            channel=Channel.WEB, content="x", submitted_at=at, legacy_status=status
        )

    p = Policy(push_if_open_newer_than_days=30)
    assert p.decide(draft(5, "received"), now) == ("push", "open_and_recent")
    assert p.decide(draft(45, "diproses"), now) == ("history", "older_than_30_days")
    assert p.decide(draft(5, "selesai"), now) == ("history", "closed_upstream")
    assert p.decide(draft(None, "received"), now) == ("history", "date_unknown")
    assert Policy(push_if_open_newer_than_days=None).decide(draft(900, "received"), now) == (
        "push",
        "policy_push_all",
    )
    assert (
        Policy(push_closed=True, push_if_open_newer_than_days=None).decide(
            draft(5, "selesai"), now
        )[0]
        == "push"
    )
    assert (
        Policy.from_options(
            {"backfill": {"push_if_open_newer_than_days": 7}}, push_closed=None
        ).push_if_open_newer_than_days
        == 7
    )
