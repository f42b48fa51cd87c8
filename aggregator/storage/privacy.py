"""Personal data beyond the reporters table: raw originals, reply addresses, notification
bodies and job addresses, re-encrypted under the newest key (and encrypted, when written
before encryption existed)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from aggregator.crypto import Crypto
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
from aggregator.storage.sqlfiles import q


async def rotate_sealed_data(conn: asyncpg.Connection, crypto: Crypto,
                             batch: int = 500) -> dict[str, int]:
    """Re-encrypt every raw original, notification body and job address under the newest
    key; resumable, in batches (each its own transaction). Returns counts per kind."""
    done = {"raw_items": 0, "notifications": 0, "jobs": 0}
    after: Any = 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(q("raw_items_needing_rotation"), crypto.current_id, after,
                                    batch)
            for r in rows:
                payload = open_payload(crypto, r["payload"], r["payload_key"])
                meta = seal_meta(crypto, open_meta(crypto, r["meta"]))
                await conn.execute(q("update_raw_item_sealed"), r["id"],
                                   seal_payload(crypto, payload), crypto.current_id,
                                   meta, crypto.digest(payload))
        done["raw_items"] += len(rows)
        if len(rows) < batch:
            break
        after = rows[-1]["id"]
    after = uuid.UUID(int=0)
    while True:
        async with conn.transaction():
            rows = await conn.fetch(q("notifications_needing_rotation"), crypto.current_id,
                                    after, batch)
            for r in rows:
                await conn.execute(q("update_notification_body"), r["id"],
                                   seal_body(crypto, open_body(crypto, r)), crypto.current_id)
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
            rows = await conn.fetch(q("complaints_needing_rotation"), crypto.current_id, after,
                                    batch)
            for r in rows:
                origin = dict(r["origin"])
                origin["original_text"] = rotate_sealed(crypto, "complaint.original_text",
                                                        origin["original_text"])
                await conn.execute(q("update_complaint_origin"), r["id"], origin)
        done["complaints"] += len(rows)
        if len(rows) < batch:
            break
        after = rows[-1]["id"]
    return done
