"""The dashboard's statements read what they show through an index, never the whole table.

Twenty thousand complaints (analysed) are enough for the planner to price a sequential scan
of ``complaints`` above an index; at a million (bench/dashboard.py) the same plans hold.
Counts must not touch ``complaints`` at all: they come from the counters.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from aggregator.storage.sqlfiles import q

N = 20_000
NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _plan(conn: asyncpg.Connection, sql: str, *args: object) -> list[dict[str, Any]]:
    async with conn.transaction():
        await conn.execute(q("dashboard_custom_plans"))
        out = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    doc = json.loads(out) if isinstance(out, str) else out
    return list(_nodes(doc[0]["Plan"]))


@pytest.fixture
async def seeded(pool: asyncpg.Pool) -> asyncpg.Pool:
    async with pool.acquire() as conn:
        # Loaded as a restore would be: triggers off, counters rebuilt after.
        await conn.execute("ALTER TABLE complaints DISABLE TRIGGER USER")
        await conn.execute("ALTER TABLE followups DISABLE TRIGGER USER")
        await conn.execute(  # the three clusters a thousandth of the complaints belong to
            "INSERT INTO complaint_clusters (id, category, place)"
            " SELECT md5('k' || g)::uuid, 'banjir_drainase', 'jl. g. obos ' || g"
            " FROM generate_series(0, 2) g"
        )
        await conn.execute(
            """
            INSERT INTO complaints (id, source, channel, title, content, agency_id,
                source_agency, received_at, status, lapor_tracking_id, lapor_created_at, origin,
                cluster_id)
            SELECT md5('c' || g)::uuid, 's' || g % 4,
                   (ARRAY['sms', 'email', 'web', 'whatsapp'])[1 + g % 4],
                   'Jalan rusak ' || g, 'jalan berlubang di depan pasar nomor ' || g
                     || CASE WHEN g % 5000 = 0 THEN ' longsor' ELSE '' END,
                   (45 + g % 30)::text, 'OPD' || (45 + g % 30),
                   $2::timestamptz - make_interval(mins => g),
                   (ARRAY['selesai', 'selesai', 'selesai', 'diproses', 'terdisposisi',
                          'received'])[1 + g % 6]::complaint_status,
                   (1000000 + g)::text, $2::timestamptz - make_interval(mins => g),
                   CASE WHEN g % 4 = 2 THEN jsonb_build_object('receipt_code', 'AB' || g)
                        ELSE '{}' END,
                   CASE WHEN g % 1000 = 0 THEN md5('k' || g % 3)::uuid END
            FROM generate_series(1, $1) g""",
            N,
            NOW,
        )
        await conn.execute("""
            INSERT INTO sla_clocks (complaint_id, clock, started_at, due_at, met_at, agency_id)
            SELECT id, 'first_response', received_at, received_at + interval '7 days',
                   CASE WHEN status = 'selesai' THEN received_at + interval '2 days' END,
                   agency_id
            FROM complaints""")
        await conn.execute("""
            INSERT INTO followups (complaint_id, at, text, label)
            SELECT id, received_at + interval '1 day', 'ok',
                   CASE WHEN random() < 0.05 THEN 'info_request' ELSE 'substantive'
                   END::followup_label
            FROM complaints WHERE status = 'selesai'""")
        await conn.execute(
            """
            INSERT INTO raw_items (source, source_ref, payload, state, reason)
            SELECT 's1', 'r' || g, 'x', CASE WHEN g % 50 = 0 THEN 'quarantined'
                                            ELSE 'accepted' END::raw_state, 'rusak'
            FROM generate_series(1, $1) g""",
            N,
        )
        await conn.execute("ALTER TABLE complaints ENABLE TRIGGER USER")
        await conn.execute("ALTER TABLE followups ENABLE TRIGGER USER")
        await conn.execute("SELECT dashboard_counts_rebuild()")
        # As autovacuum would: statistics, and the text index's pending list merged.
        await conn.execute("VACUUM ANALYZE")
    return pool


def worklist_args(**kw: Any) -> list[Any]:
    names = [
        "agencies",
        "status",
        "channel",
        "agency",
        "text",
        "tracking",
        "receipt",
        "reporters",
        "cluster",
        "label",
        "sla",
        "at",
        "id",
    ]
    return [kw.get(n) for n in names] + [50, kw.get("ids")]


BIG = {"complaints", "sla_clocks", "raw_items", "followups"}


def whole_reads(nodes: list[dict[str, Any]]) -> list[str]:
    """Sorts of a whole set and sequential scans of a big table (a lookup table of agency
    names may be scanned; an incremental sort of rows already in index order is cheap)."""
    return [
        f"{n['Node Type']} {n.get('Relation Name', '')}"
        for n in nodes
        if n["Node Type"] == "Sort"
        or (n["Node Type"] == "Seq Scan" and n.get("Relation Name") in BIG)
    ]


async def test_work_lists_read_through_their_index(seeded: asyncpg.Pool) -> None:
    cases = {
        "no filter": ({}, {"complaints_received_idx"}),
        # A common status: newest first, filtered, stops at 50 (or the status index).
        "status": ({"status": "diproses"}, set()),
        "rare status": ({"status": "received", "channel": "sms"}, set()),
        "channel": ({"channel": "whatsapp"}, set()),
        "tracking id": ({"tracking": "1000123"}, {"complaints_lapor_tracking_id_key"}),
        "cluster": (
            {"cluster": "8f14e45f-ceea-167a-5a36-dedd4bea2543"},
            {"complaints_cluster_idx"},
        ),
        "page two": (
            {"at": NOW - dt.timedelta(days=3), "id": "00000000-0000-0000-0000-000000000000"},
            {"complaints_received_idx"},
        ),
    }
    async with seeded.acquire() as conn:
        for name, (kw, indexes) in cases.items():
            nodes = await _plan(conn, q("worklist_complaints"), *worklist_args(**kw))
            used = {n.get("Index Name") for n in nodes}
            # A lookup by a (nearly) unique key may sort the few rows it found.
            few = name in ("tracking id", "cluster")
            assert [w for w in whole_reads(nodes) if not (few and w == "Sort ")] == [], (
                name,
                nodes,
            )
            assert indexes <= used, (name, used)


async def test_receipt_and_rare_words_are_looked_up_in_their_index(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        for sql, args, index in (
            (q("receipt_hits"), ("ab1002",), "complaints_receipt_upper_idx"),
            (q("text_hits"), ("longsor", 2000), "complaints_text_idx"),
            (q("text_hits"), ("tidakadakatainii", 2000), "complaints_text_idx"),
        ):
            nodes = await _plan(conn, sql, *args)
            assert index in {n.get("Index Name") for n in nodes}, (sql, nodes)
        ids = [r["id"] for r in await conn.fetch(q("text_hits"), "longsor", 2000)]
        assert len(ids) == N // 5000
        nodes = await _plan(conn, q("worklist_complaints"), *worklist_args(ids=ids))
        assert "complaints_pkey" in {n.get("Index Name") for n in nodes}
        assert [w for w in whole_reads(nodes) if w != "Sort "] == [], nodes


async def test_text_search_uses_the_text_index_when_the_word_is_rare(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        nodes = await _plan(conn, q("worklist_complaints"), *worklist_args(text="longsor"))
        assert "complaints_text_idx" in {n.get("Index Name") for n in nodes}, nodes
        assert [w for w in whole_reads(nodes) if w != "Sort "] == [], nodes
        # A word in every complaint: walk the newest first and stop at 50.
        common = await _plan(conn, q("worklist_complaints"), *worklist_args(text="jalan"))
        assert whole_reads(common) == [], common


async def test_agency_scope_reads_only_that_agency(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        nodes = await _plan(
            conn, q("worklist_complaints"), *worklist_args(agencies=["46", "OPD46"])
        )
        assert [w for w in whole_reads(nodes) if w != "Sort "] == [], nodes
        sla = await _plan(conn, q("worklist_sla"), ["46", "OPD46"], None, None, None, 50)
        assert whole_reads(sla) == [], sla


async def test_sla_and_quarantine_lists_walk_their_partial_index(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        sla = await _plan(conn, q("worklist_sla"), None, None, None, None, 50)
        assert whole_reads(sla) == [], sla
        assert "sla_clocks_open_idx" in {n.get("Index Name") for n in sla}
        qu = await _plan(conn, q("worklist_quarantine"), None, None, 50)
        assert whole_reads(qu) == [], qu
        assert "raw_items_quarantined_idx" in {n.get("Index Name") for n in qu}


async def test_counts_never_touch_the_complaints_table(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        for sql, args in (
            (q("dashboard_counts"), (None,)),
            (q("dashboard_counts"), (["46"],)),
            (q("complaint_status_counts"), ()),
            (q("dashboard_daily"), (NOW - dt.timedelta(days=30), "Asia/Jakarta")),
            (q("dashboard_daily_scoped"), (["46"], NOW - dt.timedelta(days=30), "Asia/Jakarta")),
        ):
            nodes = await _plan(conn, sql, *args)
            assert "complaints" not in {n.get("Relation Name") for n in nodes}, (sql, nodes)
        total = await conn.fetchval("SELECT sum(n) FROM complaint_counts")
        assert total == N
