"""Personal data beyond the reporters table: raw originals, reply addresses, notification
bodies and job addresses, re-encrypted under the newest key (and encrypted, when written
before encryption existed)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from aggregator.crypto import Crypto
from aggregator.intake.pii import phone_key
from aggregator.intake.sealing import (
    job_address,
    open_body,
    open_meta,
    open_payload,
    rotate_sealed,
    seal_body,
    seal_job_payload,
    seal_meta,
    seal_payload,
)
from aggregator.redact import redact_text
from aggregator.storage.db import allow_long_statements
from aggregator.storage.sqlfiles import q
from schemas.config import RetentionConfig


async def rotate_sealed_data(
    conn: asyncpg.Connection, crypto: Crypto, batch: int = 500
) -> dict[str, int]:
    """Re-encrypt every raw original, notification body and job address under the newest
    key; resumable, in batches (each its own transaction). Returns counts per kind."""
    done = {"raw_items": 0, "notifications": 0, "jobs": 0}
    after: Any = 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                q("raw_items_needing_rotation"), crypto.current_id, after, batch
            )
            for r in rows:
                payload = open_payload(crypto, r["payload"], r["payload_key"])
                meta = seal_meta(crypto, open_meta(crypto, r["meta"]))
                await conn.execute(
                    q("update_raw_item_sealed"),
                    r["id"],
                    seal_payload(crypto, payload),
                    crypto.current_id,
                    meta,
                    crypto.digest(payload),
                )
        done["raw_items"] += len(rows)
        if len(rows) < batch:
            break
        after = rows[-1]["id"]
    after = uuid.UUID(int=0)
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                q("notifications_needing_rotation"), crypto.current_id, after, batch
            )
            for r in rows:
                await conn.execute(
                    q("update_notification_body"),
                    r["id"],
                    seal_body(crypto, open_body(crypto, r)),
                    crypto.current_id,
                )
        done["notifications"] += len(rows)
        if len(rows) < batch:
            break
        after = rows[-1]["id"]
    after = 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(q("jobs_needing_rotation"), crypto.current_id, after, batch)
            for r in rows:
                p = dict(r["payload"])
                p["address"] = job_address(crypto, p)
                p.pop("address_enc", None)
                if p["address"] is None:
                    p.pop("address")
                await conn.execute(q("update_job_payload"), r["id"], seal_job_payload(crypto, p))
        done["jobs"] += len(rows)
        if len(rows) < batch:
            break
        after = rows[-1]["id"]
    done["complaints"] = 0
    after = uuid.UUID(int=0)
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                q("complaints_needing_rotation"), crypto.current_id, after, batch
            )
            for r in rows:
                origin = dict(r["origin"])
                origin["original_text"] = rotate_sealed(
                    crypto, "complaint.original_text", origin["original_text"]
                )
                await conn.execute(q("update_complaint_origin"), r["id"], origin)
        done["complaints"] += len(rows)
        if len(rows) < batch:
            break
        after = rows[-1]["id"]
    return done


async def link_quarantined_attachment(
    conn: asyncpg.Connection, source: str, attachment_ref: str, item_ref: str
) -> None:
    """The raw row of an attachment quarantined apart now names its item's complaint."""
    await conn.execute(q("link_quarantined_attachment"), source, attachment_ref, item_ref)


# -- retention ---------------------------------------------------------------------------------


def _count(status: str) -> int:
    return int(status.split()[-1])


async def purge(
    conn: asyncpg.Connection,
    retention: RetentionConfig,
    *,
    statement_timeout_s: float | None = None,
) -> dict[str, int]:
    """Apply the retention periods once (0 days = keep forever); counts per kind.

    Each step is one statement in its own transaction; the first purge of a large database
    (or one after a long pause) is long by nature, so with ``statement_timeout_s``
    (``database.long_statement_timeout_s``) each step may run that long."""
    steps = [
        ("raw_originals", "purge_final_raw_originals", retention.raw_originals_days),
        ("quarantined", "purge_unlinked_raw_items", retention.quarantined_days),
        ("notification_bodies", "purge_notification_bodies", retention.notification_bodies_days),
        ("jobs", "purge_finished_jobs", retention.channel_logs_days),
        ("sessions", "purge_dashboard_sessions", retention.channel_logs_days),
        ("access_log", "purge_access_log", retention.access_log_days),
    ]
    done: dict[str, int] = {}
    for kind, query, days in steps:
        if days <= 0:
            done[kind] = 0
            continue
        async with conn.transaction():
            if statement_timeout_s is not None:
                await allow_long_statements(conn, statement_timeout_s)
            done[kind] = _count(await conn.execute(q(query), days))
    return done


# -- erasure -----------------------------------------------------------------------------------

_ERASED = {"phone": "[telepon]", "nik": "[nik]", "email": "[email]"}.__getitem__


async def reporters_matching(
    conn: asyncpg.Connection, crypto: Crypto, value: str
) -> list[uuid.UUID]:
    """Reporters by id, or by a phone, e-mail or NIK they gave (matched by keyed hash)."""
    try:
        return [uuid.UUID(value)]
    except ValueError:
        pass
    rows = await conn.fetch(
        q("find_reporters_by_hashes"),
        crypto.match_hash("phone", phone_key(value)),
        crypto.match_hash("email", value),
        crypto.match_hash("nik", value.replace(" ", "").replace(".", "")),
    )
    return [r["id"] for r in rows]


async def forget(
    conn: asyncpg.Connection,
    crypto: Crypto,
    *,
    actor: str,
    reporter: str | None = None,
    complaint: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Erase a person's data: their reporter record, the raw originals, message texts, job
    addresses, replies, timeline texts and attachments of their complaints, and the
    personal data typed in those complaints' texts. The complaints themselves stay (status,
    agency, Tracking ID), and one access-log record per complaint says that (not whose) data
    was erased."""
    async with conn.transaction():
        reporter_ids: list[uuid.UUID] = []
        if reporter is not None:
            reporter_ids = await reporters_matching(conn, crypto, reporter)
            rows = await conn.fetch(q("complaints_of_reporters"), reporter_ids)
        else:
            assert complaint is not None
            rid = await conn.fetchval(q("find_reporter_of_complaint"), complaint)
            reporter_ids = [rid] if rid is not None else []
            rows = await conn.fetch(q("complaints_by_ids"), [complaint])
        ids = [r["id"] for r in rows]
        for r in rows:
            title = redact_text(r["title"], _ERASED) if r["title"] else r["title"]
            await conn.execute(
                q("erase_complaint"), r["id"], title, redact_text(r["content"], _ERASED)
            )
        counts = {
            "complaints": len(ids),
            "raw_items": _count(await conn.execute(q("erase_raw_items_of_complaints"), ids)),
            "notifications": _count(
                await conn.execute(q("erase_notifications_of_complaints"), ids)
            ),
            "jobs": _count(await conn.execute(q("erase_job_addresses_of_complaints"), ids)),
            "events": _count(await conn.execute(q("erase_event_texts_of_complaints"), ids)),
            "replies": _count(await conn.execute(q("erase_replies_of_complaints"), ids)),
            "attachments": _count(await conn.execute(q("erase_attachments_of_complaints"), ids)),
            "reporters": _count(await conn.execute(q("delete_reporters"), reporter_ids)),
        }
        for cid in ids:
            await conn.execute(
                q("insert_access_log"), None, actor, "erased", f"complaint:{cid}", counts
            )
        if not ids and reporter_ids:
            await conn.execute(q("insert_access_log"), None, actor, "erased", "reporter", counts)
    return counts
