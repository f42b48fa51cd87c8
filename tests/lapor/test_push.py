"""Push and reply_up jobs against the sandbox: exactly one report, whatever happens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from aggregator.lapor.http import HttpLaporAdapter
from aggregator.queue import Worker
from aggregator.wiring.services import Services
from tests.lapor.helpers import (
    RunningSandbox,
    admin,
    insert_complaint,
    lapor_config,
    make_services,
)
from tests.support.workers import push_worker


@pytest.fixture
async def services(
    pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> AsyncIterator[Services]:
    yield make_services(pool, http, lapor_config(sandbox.base_url))


def loop_for(services: Services) -> Worker:
    port = HttpLaporAdapter(services.settings.lapor, services.http)
    return push_worker(services, port, concurrency=4)


async def drain(loop: Worker, rounds: int = 40) -> None:
    import asyncio

    for _ in range(rounds):
        await loop.run_once()
        async with loop.queue.pool.acquire() as conn:
            left = await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE state IN ('queued', 'in_doubt', 'running') "
                "AND kind IN ('push', 'reply_up')"
            )
        if not left:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("jobs did not finish")


async def test_push_stores_tracking_id_status_and_event(
    services: Services, pool: asyncpg.Pool, sandbox: RunningSandbox
) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 2000
    cid = await insert_complaint(
        services,
        attachments=[
            ("lubang.jpg", "image/jpeg", photo),
            ("virus.exe", "application/x-dosexec", b"MZ"),
        ],
    )
    await drain(loop_for(services))
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM complaints WHERE id = $1", cid)
        kinds = [
            r["kind"]
            for r in await conn.fetch(
                "SELECT kind FROM events WHERE complaint_id = $1 ORDER BY id", cid
            )
        ]
        notify = await conn.fetchrow("SELECT payload, dedup_key FROM jobs WHERE kind = 'notify'")
        atts = await conn.fetch(
            "SELECT filename, lapor_attachment_id FROM complaint_attachments"
            " WHERE complaint_id = $1 ORDER BY filename",
            cid,
        )
    report = sandbox.sb.state["reports"][row["lapor_tracking_id"]]
    assert report["external_ref"] == str(cid)
    assert row["status"] == "belum_terverifikasi" and row["lapor_created_at"] is not None
    assert "lapor_pushed" in kinds and "lapor_attachment_refused" in kinds
    assert notify["payload"]["event"] == "lapor_pushed"
    assert notify["dedup_key"] == f"notify:pushed:{cid}"
    assert [a["lapor_attachment_id"] for a in atts] == [report["attachment_ids"][0], "refused"]
    assert report["reporter"]["phone"] == "+6281234567890"
    assert report["location"] == {"kecamatan": "Jekan Raya", "kelurahan": "Menteng"}


@pytest.mark.parametrize(("age_days", "how"), [(0, "replayed"), (40, "found_by_external_ref")])
async def test_in_doubt_push_is_sent_again_or_looked_up_past_the_key_memory(
    services: Services,
    pool: asyncpg.Pool,
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    age_days: int,
    how: str,
) -> None:
    """Within LAPOR!'s 30 days of key memory the same request under the same key is
    answered with the report the lost one created; past it, the job looks up first."""
    cids = [await insert_complaint(services) for _ in range(3)]
    await admin(
        http, sandbox.root, "POST", "/_sandbox/faults", {"timeout_after_create": 1, "hang_s": 5}
    )
    loop = loop_for(services)
    await loop.run_once()
    async with pool.acquire() as conn:
        states = [r["state"] for r in await conn.fetch("SELECT state FROM jobs")]
        await conn.execute(
            "UPDATE jobs SET created_at = created_at - make_interval(days => $1)", age_days
        )
    assert states == ["in_doubt"] * 3
    assert len(sandbox.sb.state["reports"]) == 3  # created, but the answers were lost
    await admin(http, sandbox.root, "POST", "/_sandbox/faults", {"reset": True})
    await drain(loop)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, lapor_tracking_id FROM complaints")
        hows = await conn.fetch("SELECT data->>'how' AS how FROM events WHERE kind='lapor_pushed'")
    assert len(sandbox.sb.state["reports"]) == 3
    by_ref = {r["external_ref"]: t for t, r in sandbox.sb.state["reports"].items()}
    assert {str(r["id"]): r["lapor_tracking_id"] for r in rows} == by_ref
    assert set(by_ref) == {str(c) for c in cids}
    assert {h["how"] for h in hows} == {how}


async def test_422_marks_the_complaint_for_operators(
    services: Services, pool: asyncpg.Pool
) -> None:
    cid = await insert_complaint(services, content="Jalan rusak.")
    await drain(loop_for(services))
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, lapor_errors FROM complaints WHERE id=$1", cid)
        job = await conn.fetchrow("SELECT state FROM jobs WHERE complaint_id = $1", cid)
    errors = row["lapor_errors"]
    errors = json.loads(errors) if isinstance(errors, str) else errors
    assert row["status"] == "rejected_by_lapor" and job["state"] == "done"
    assert errors["fields"][0]["field"] == "content"


async def test_duplicate_external_ref_is_adopted(
    services: Services, pool: asyncpg.Pool, sandbox: RunningSandbox
) -> None:
    cid = await insert_complaint(services)
    # Someone (an earlier installation) already created it under another key.
    _s, made = sandbox.sb.create_report(
        "satukanal",
        "other-key",
        {
            "external_ref": str(cid),
            "source_channel": "sms",
            "title": "Jalan",
            "content": "Jalan berlubang besar di depan SDN 5 Menteng.",
        },
    )
    await drain(loop_for(services))
    async with pool.acquire() as conn:
        tid = await conn.fetchval("SELECT lapor_tracking_id FROM complaints WHERE id=$1", cid)
        how = await conn.fetchval("SELECT data->>'how' FROM events WHERE kind='lapor_pushed'")
    assert tid == made["tracking_id"] and how == "duplicate_external_ref"
    assert len(sandbox.sb.state["reports"]) == 1


async def test_reply_goes_up_once_with_its_own_key(
    services: Services, pool: asyncpg.Pool, sandbox: RunningSandbox
) -> None:
    import uuid

    cid = await insert_complaint(services)
    loop = loop_for(services)
    await drain(loop)
    reply_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO reporter_replies (id, complaint_id, channel, text, resolved) "
            "VALUES ($1, $2, 'sms', 'Belum diperbaiki sampai hari ini', false)",
            reply_id,
            cid,
        )
        await services.queue.enqueue(
            conn,
            "reply_up",
            complaint_id=cid,
            payload={"reply_id": str(reply_id)},
            dedup_key=f"reply:{reply_id}",
        )
    await drain(loop)
    replies = sandbox.sb.state["replies"]
    assert len(replies) == 1 and replies[0]["idempotency_key"] == str(reply_id)
    assert replies[0]["resolved"] is False
    async with pool.acquire() as conn:
        lapor_reply = await conn.fetchval(
            "SELECT lapor_reply_id FROM reporter_replies WHERE id = $1", reply_id
        )
    assert lapor_reply == replies[0]["reply_id"]


async def test_reply_waits_for_the_push(services: Services, pool: asyncpg.Pool) -> None:
    import uuid

    cid = await insert_complaint(services, enqueue=False)
    reply_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO reporter_replies (id, complaint_id, channel, text) "
            "VALUES ($1, $2, 'sms', 'tambahan info')",
            reply_id,
            cid,
        )
        await services.queue.enqueue(
            conn, "reply_up", complaint_id=cid, payload={"reply_id": str(reply_id)}
        )
    await loop_for(services).run_once()
    async with pool.acquire() as conn:
        job = await conn.fetchrow("SELECT state, last_error FROM jobs WHERE kind='reply_up'")
    assert job["state"] == "queued" and "no Tracking ID yet" in job["last_error"]


async def test_the_acknowledgement_waits_in_its_push_jobs_lane_and_wakes_its_worker(
    services: Services, pool: asyncpg.Pool
) -> None:
    """A backfill's push leads to a bulk-lane notification, a live push to a live one; and
    the notify worker hears of it by NOTIFY, not at its next poll."""
    live = await insert_complaint(services)
    bulk = await insert_complaint(services, phone="+6281234567891")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET lane = 1 WHERE complaint_id = $1", bulk)
    heard: list[str] = []
    listener = await pool.acquire()
    try:

        def listener_cb(*args: object) -> None:
            heard.append(str(args[3]))

        await listener.add_listener("satukanal_jobs", listener_cb)
        await drain(loop_for(services))
        async with pool.acquire() as conn:
            lanes = dict(
                await conn.fetch("SELECT complaint_id, lane FROM jobs WHERE kind = 'notify'")
            )
        for _ in range(50):
            if "notify" in heard:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.remove_listener("satukanal_jobs", listener_cb)
        await pool.release(listener)
    assert lanes == {live: 0, bulk: 1}
    assert "notify" in heard


async def test_the_push_reads_its_complaints_by_id_among_a_million(
    services: Services, pool: asyncpg.Pool
) -> None:
    """With an imported archive's complaints and queued pushes, reading the complaints of
    the claimed push jobs is index look-ups: it once read every complaint for every push."""
    from aggregator.storage.sqlfiles import q

    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO complaints (id, source, channel, content)"
            " SELECT gen_random_uuid(), 'archive', 'web', 'x' FROM generate_series(1, 20000)"
        )
        await conn.execute(
            "INSERT INTO jobs (kind, complaint_id, payload, lane)"
            " SELECT 'push', id, '{}', 1 FROM complaints"
        )
        await conn.execute("ANALYZE")
        some = await conn.fetchval(
            "SELECT array_agg(id) FROM (SELECT id FROM complaints LIMIT 3) AS s"
        )
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) " + q("get_push_complaints"), some, "test", 100
        )
        rows = await conn.fetch(q("get_push_complaints"), some, "test", 100)

    def nodes(p: dict) -> list[dict]:  # type: ignore[type-arg]
        return [p, *[n for c in p.get("Plans", []) for n in nodes(c)]]

    doc = json.loads(plan) if isinstance(plan, str) else plan
    scans = {(n["Node Type"], n.get("Relation Name")) for n in nodes(doc[0]["Plan"])}
    assert ("Seq Scan", "complaints") not in scans, scans
    assert ("Seq Scan", "jobs") not in scans, scans
    assert sorted(r["id"] for r in rows) == sorted(some)
