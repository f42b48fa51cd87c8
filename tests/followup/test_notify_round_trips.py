"""What one message to a citizen costs the database: the statements a notify job sends,
counted with asyncpg's query logger (issue #18 item 5: each round trip is time on the hot
path of every acknowledgement)."""

from __future__ import annotations

import asyncio
from typing import Any

from aggregator.notify.handler import make_notify_handler
from aggregator.storage.db import create_pool
from schemas.complaint import Reporter
from tests.followup.helpers import Clock, RecordingSink, add_complaint, apply_events, event
from tests.followup.helpers import make_services as followup_services
from tests.followup.test_notify import T0

# Two transactions (the item stored, after the reporters of linked duplicates were looked up:
# a status change goes to them too; its batch fixed under the complaint's lock), the guards
# with the hand-over marker, the sent record with its event and the sink's health, and the
# pool's reset on release. It was 23.
MAX_STATEMENTS = 13


async def test_a_status_message_costs_at_most_thirteen_statements(db_dsn: str) -> None:
    # One connection: every statement of the job goes through it.
    pool = await create_pool(db_dsn, min_size=1, max_size=1)
    try:
        services = followup_services(pool, Clock(T0), notify={"merge_window_s": 0.0})
        sink = RecordingSink()
        for tracking, email in (("1916449", "w@example.org"), ("1916450", "v@example.org")):
            await add_complaint(services, tracking_id=tracking, reporter=Reporter(email=email))
            await apply_events(
                services, event(tracking, "status_changed", T0, status="terverifikasi")
            )
        handler = make_notify_handler(services, {"mail": sink})
        async with pool.acquire() as conn:
            warm, job = await services.queue.claim(conn, ["notify"], 10)
        await handler(warm)  # the connection's first use of each statement and type: asyncpg
        # prepares them and reads the types once; what is counted is every message after.
        seen: list[str] = []

        def count(record: Any) -> None:
            seen.append(" ".join(str(record.query).split())[:80])

        async with pool.acquire() as conn:
            conn.add_query_logger(count)  # stays with the connection through releases
        await asyncio.sleep(0.05)  # the logger is called soon after: this release's reset
        seen.clear()
        await handler(job)
        await asyncio.sleep(0.05)
        job_statements = list(seen)
        async with pool.acquire() as conn:
            conn.remove_query_logger(count)
        assert len(sink.sent) == 2
        assert 0 < len(job_statements) <= MAX_STATEMENTS, job_statements
    finally:
        await pool.close()
