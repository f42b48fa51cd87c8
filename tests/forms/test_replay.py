"""``satukanal quarantine replay`` of a form re-scan update, after the fix it waited for."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from aggregator.intake import Intake
from aggregator.intake.loop import IngestLoop
from aggregator.intake.replay import ReplayOutcome, replay, replay_item
from connectors.base import Batch, RawItem
from connectors.forms.rows import encode_row
from tests.forms.helpers import form_source_config, run_cli, write_operator_config
from tests.forms.legacy import JOIN_QUERY, LegacyDb

START = dt.datetime(2025, 11, 20, 3, 0, tzinfo=dt.UTC)


def update_item(ref: str, status: bytes) -> RawItem:
    """What the re-scan yields when staff change row 1's status in the old admin."""
    payload = encode_row(
        "pengaduan",
        "1",
        {"id_pengaduan": 1, "status": status},
        [],
        None,
        kind="update",
        reason="legacy_update",
    )
    return RawItem(
        source_ref=ref,
        payload=payload,
        received_at=START,
        meta={"kind": "legacy_update", "row_id": "1"},
        content_type="application/x-satukanal-form-row+json",
    )


def write_config(tmp: Path, db_dsn: str, legacy: LegacyDb) -> Path:
    """The same source as ``form_source_config``, as an operator's file."""
    return write_operator_config(
        tmp,
        db_dsn,
        f"""
[[sources]]
name = "form-pupr"
kind = "sql_table"
[sources.options]
url = "{legacy.url}"
query = "{JOIN_QUERY}"
[sources.options.fields]
name = "nama"
phone = "telp"
orphan_check = "m_nik"
[sources.options.write_back]
enabled = true
tracking_column = "lapor_tracking_id"
staff_id = 1
""",
    )


async def replay_cli(cfg: Path, raw_id: int) -> str:
    proc = await run_cli(cfg, "quarantine", "replay", str(raw_id))
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


async def test_a_replayed_update_reaches_its_complaint(
    tmp_path: Path, db_dsn: str, legacy: LegacyDb, services: Any
) -> None:
    cfg = form_source_config(legacy)
    services = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"sources": [cfg]})
    )
    src = services.sources[cfg.name]  # the runtime's own, as the replay uses it
    try:
        # Two re-scan updates of row 1 while the row had no complaint (its own import had
        # failed): quarantined, to be replayed once the row is imported.
        early = [update_item("upd:1:a@1", b"proses"), update_item("upd:1:b@1", b"proses")]
        # No cursor: intake keeps the stored one (none yet), as a replay does.
        first = await Intake(services).ingest(src, Batch(items=early, cursor=None))  # type: ignore[arg-type]
        assert (first.quarantined, first.updates) == (2, 0)
        async with services.pool.acquire() as conn:
            held = await conn.fetch(
                "SELECT id, reason FROM raw_items WHERE source_ref LIKE 'upd:%' ORDER BY source_ref"
            )
        assert [r["reason"] for r in held] == ["baris formulir lama 1 belum pernah diimpor"] * 2

        assert await IngestLoop(services, src).run_once() == 15  # the import, fixed
        async with services.pool.acquire() as conn:
            cid = await conn.fetchval(
                "SELECT id FROM complaints WHERE 'form-row:pengaduan:1' = ANY(thread_keys)"
            )

        # The operator's command: applied, and it says to which complaint.
        out = await replay_cli(write_config(tmp_path, db_dsn, legacy), held[0]["id"])
        assert out == f"diterima sebagai pembaruan pengaduan {cid}"
        # The second is the same change: the complaint holds it already, and says so.
        again = await replay_item(services, held[1]["id"])
        assert again == f"diterima sebagai pembaruan pengaduan {cid} (tidak ada perubahan baru)"
        # Nothing left to replay: said in Indonesian, with the stable code beside the sentence.
        # (A replay moves the bytes to a new row: the old id is gone, the new one accepted.)
        assert await replay(services, held[1]["id"]) == ReplayOutcome(
            "not_found", f"item {held[1]['id']} tidak ada"
        )
        async with services.pool.acquire() as conn:
            now_id = await conn.fetchval(
                "SELECT id FROM raw_items WHERE source_ref = $1", "upd:1:b@1"
            )
        assert await replay(services, now_id) == ReplayOutcome(
            "not_quarantined", f"item {now_id} tidak dikarantina (sudah diterima)"
        )
    finally:
        await src.close()
    async with services.pool.acquire() as conn:
        items = await conn.fetch(
            "SELECT state::text AS state, complaint_id FROM raw_items "
            "WHERE source_ref LIKE 'upd:%' ORDER BY source_ref"
        )
        events = await conn.fetch(
            "SELECT kind, data FROM events WHERE complaint_id = $1 AND kind LIKE 'legacy%'", cid
        )
        legacy_status = await conn.fetchval(
            "SELECT legacy_status FROM complaints WHERE id = $1", cid
        )
    assert [(i["state"], i["complaint_id"]) for i in items] == [("accepted", cid)] * 2
    assert [(e["kind"], e["data"]["status_after"]) for e in events] == [
        ("legacy_form_updated", "proses")
    ]
    assert legacy_status == "diproses"
