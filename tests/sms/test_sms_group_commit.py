"""Group commit of the SMS webhook (``aggregator/intake/group.py``): concurrent requests
share one intake transaction, each answered with its own outcome only after it committed;
a gateway's retry racing its first try is stored once; one bad request in a group gets its
own quarantine or error and the others are stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aggregator.intake import ingest
from aggregator.intake.group import GroupCommit
from aggregator.intake.pipeline import IngestResult
from aggregator.web.app import make_app
from aggregator.wiring.sources import build_source
from connectors.base import Batch, RawItem
from schemas.config import SourceConfig
from tests.sms.conftest import make_services
from tests.sms.kannel import free_port

SECRET = "s3kret-gateway"


def _source(services: Any) -> Any:
    return build_source(
        SourceConfig(name="sms-gw", kind="sms_http", options={"secret": SECRET, "timezone": "UTC"}),
        services,
    )


@pytest.fixture
async def webhook(pool: Any) -> AsyncIterator[tuple[Any, str, aiohttp.ClientSession]]:
    async with aiohttp.ClientSession() as http:
        services = make_services(pool, http=http)
        src = _source(services)
        port = free_port()
        runner = web.AppRunner(make_app(services, extra=[("/intake/sms-gw", src.routes())]))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield src, f"http://127.0.0.1:{port}/intake/sms-gw/webhook", http
        finally:
            await runner.cleanup()


async def _post(http: aiohttp.ClientSession, url: str, i: int, ref: str | None = None) -> int:
    body = {
        "id": ref or f"m-{i}",
        "from": f"0813{i:08d}",
        "text": f"Lampu jalan di gang Mawar nomor {i} padam sudah tiga malam",
    }
    async with http.post(url, json=body, headers={"X-Satukanal-Secret": SECRET}) as r:
        return r.status


async def test_concurrent_webhook_requests_share_transactions(webhook: Any, pool: Any) -> None:
    _, url, http = webhook
    # 40 SMS at once, and a gateway's retry of one racing its first try.
    statuses = await asyncio.gather(
        *(_post(http, url, i) for i in range(40)), _post(http, url, 7, ref="m-7")
    )
    assert statuses == [200] * 41
    async with pool.acquire() as conn:
        raw = await conn.fetch("SELECT source_ref, ingested_at FROM raw_items")
        complaints = await conn.fetchval("SELECT count(*) FROM complaints")
        pushes = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'push'")
    assert sorted(r["source_ref"] for r in raw) == sorted(f"webhook:m-{i}" for i in range(40))
    assert complaints == 40
    assert pushes == 40
    # now() is the transaction's start: fewer distinct values than requests, fewer
    # transactions.
    assert len({r["ingested_at"] for r in raw}) < 40


def _item(ref: str, payload: bytes) -> RawItem:
    return RawItem(
        source_ref=ref,
        payload=payload,
        received_at=dt.datetime.now(dt.UTC),
        meta={"gateway": "webhook", "reply_to": "+6281300000001"},
        content_type="application/json",
    )


def _sms(i: int) -> bytes:
    return json.dumps(
        {
            "gateway": "webhook",
            "sender": f"0813{i:08d}",
            "text": f"Sampah menumpuk di pasar blok {i}, sudah seminggu tidak diangkut",
        }
    ).encode()


async def test_each_request_gets_its_own_outcome(pool: Any) -> None:
    services = make_services(pool)
    src = _source(services)
    batches = [Batch(items=[_item(f"ok-{i}", _sms(i))], cursor=None) for i in range(5)]
    broken = Batch(items=[_item("broken", b"{not json")], cursor=None)
    again = Batch(items=[_item("ok-2", _sms(2))], cursor=None)
    outcomes = await asyncio.gather(*(src.context.ingest(b) for b in [*batches, broken, again]))
    for o in outcomes[:5]:
        assert len(o.complaint_ids) == 1 and not o.skipped and not o.quarantined
    assert len({o.complaint_ids[0] for o in outcomes[:5]}) == 5
    assert outcomes[5].quarantined == 1 and not outcomes[5].complaint_ids
    assert outcomes[6].skipped == 1 and not outcomes[6].complaint_ids  # stored once
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT source_ref, state::text, reason FROM raw_items")
    states = {r["source_ref"]: r["state"] for r in rows}
    assert states == {**{f"ok-{i}": "accepted" for i in range(5)}, "broken": "quarantined"}


async def test_a_group_that_fails_is_written_request_by_request(pool: Any) -> None:
    """A failure of the whole group (here: a write that cannot take the poison request) is
    retried one request at a time: the poison request gets the error, the others are
    stored."""
    services = make_services(pool)
    src = _source(services)
    sizes: list[int] = []

    async def write(batch: Batch) -> IngestResult:
        sizes.append(len(batch.items))
        if any(i.source_ref == "poison" for i in batch.items):
            raise RuntimeError("cannot write the poison request")
        return await ingest(services, src, batch)

    group = GroupCommit(write, source="sms-gw", window_s=0.005, max_items=100, timeout_s=10)
    batches = [Batch(items=[_item(f"g-{i}", _sms(i))], cursor=None) for i in range(4)]
    poison = Batch(items=[_item("poison", _sms(99))], cursor=None)
    results = await asyncio.gather(
        *(group(b) for b in [*batches[:2], poison, *batches[2:]]), return_exceptions=True
    )
    assert isinstance(results[2], RuntimeError)
    for r in [*results[:2], *results[3:]]:
        assert not isinstance(r, BaseException) and len(r.complaint_ids) == 1
    assert sizes[0] == 5  # tried together first
    async with pool.acquire() as conn:
        refs = await conn.fetch("SELECT source_ref FROM raw_items ORDER BY source_ref")
    assert [r["source_ref"] for r in refs] == [f"g-{i}" for i in range(4)]


async def test_group_max_items_bounds_a_transaction(pool: Any) -> None:
    services = make_services(pool)
    src = _source(services)
    sizes: list[int] = []

    async def write(batch: Batch) -> IngestResult:
        sizes.append(len(batch.items))
        return await ingest(services, src, batch)

    group = GroupCommit(write, source="sms-gw", window_s=0.005, max_items=3, timeout_s=10)
    outcomes = await asyncio.gather(
        *(group(Batch(items=[_item(f"b-{i}", _sms(i))], cursor=None)) for i in range(7))
    )
    assert all(len(o.complaint_ids) == 1 for o in outcomes)
    assert sizes == [3, 3, 1]
