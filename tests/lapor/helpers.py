"""Helpers for the LAPOR! tests: a sandbox on a loopback port, Services, complaints."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from aggregator.lapor.http import HttpLaporAdapter
from aggregator.lapor.sandbox import Sandbox, SandboxConfig, create_app
from aggregator.wiring.services import Services
from schemas.config import LaporConfig, QueueConfig, Settings
from tests.support.ports import free_port
from tests.support.runtime import make_services as runtime

CLIENT = ("satukanal", "sandbox-secret")


@dataclass
class RunningSandbox:
    sb: Sandbox
    runner: web.AppRunner
    root: str  # http://127.0.0.1:P

    @property
    def base_url(self) -> str:
        return self.root + self.sb.cfg.base_path

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_sandbox(port: int | None = None, **kw: Any) -> RunningSandbox:
    port = port or free_port()
    kw.setdefault("life", "none")
    kw.setdefault("clients", {CLIENT[0]: CLIENT[1], "bare": "bare-secret"})
    cfg = SandboxConfig(public_url=f"http://127.0.0.1:{port}", **kw)
    sb = Sandbox(cfg)
    runner = web.AppRunner(create_app(sandbox=sb), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return RunningSandbox(sb, runner, f"http://127.0.0.1:{port}")


def lapor_config(base_url: str, **kw: Any) -> LaporConfig:
    values: dict[str, Any] = {
        "adapter": "http",
        "base_url": base_url,
        "client_id": CLIENT[0],
        "client_secret": CLIENT[1],
        "timeout_s": 2.0,
        "connect_timeout_s": 1.0,
        "rate_limit_per_s": 1000.0,
        "rate_burst": 2000,
        "breaker_failures": 1000,
        "breaker_reset_s": 0.5,
    }
    values.update(kw)
    return LaporConfig(**values)


def make_services(
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession | None,
    lapor: LaporConfig | None = None,
    **queue: Any,
) -> Services:
    qcfg = QueueConfig(
        **{
            "backoff_base_s": 0.05,
            "backoff_max_s": 0.3,
            "poll_s": 0.2,
            "max_attempts": 100,
            **queue,
        }
    )
    settings = Settings(demo=True, lapor=lapor or LaporConfig(sandbox=True), queue=qcfg)
    return runtime(pool, http, settings, owner=f"test:{uuid.uuid4().hex[:6]}")


def adapter(services: Services, **kw: Any) -> HttpLaporAdapter:
    return HttpLaporAdapter(services.settings.lapor, services.http, **kw)


async def insert_complaint(
    services: Services,
    *,
    content: str | None = None,
    title: str | None = "Jalan berlubang di Jl. RTA Milono km 5",
    phone: str | None = "+6281234567890",
    name: str | None = "Budi",
    anonymous: bool = False,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    enqueue: bool = True,
    status: str = "received",
    tracking_id: str | None = None,
    status_at: dt.datetime | None = None,
) -> uuid.UUID:
    """A complaint as intake would leave it, with its push job (before intake lands in tests)."""
    cid = uuid.uuid4()
    rid = uuid.uuid4()
    crypto = services.crypto
    content = content or (
        "Jalan berlubang besar di depan SDN 5 Menteng sudah dua minggu, "
        "sudah ada pengendara motor yang jatuh. Mohon segera diperbaiki."
    )
    async with services.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO reporters (id, key_id, name_enc, phone_enc) VALUES ($1, $2, $3, $4)",
            rid,
            crypto.current_id,
            crypto.encrypt("name", name),
            crypto.encrypt("phone", phone),
        )
        await conn.execute(
            """INSERT INTO complaints (id, source, channel, reporter_id, title, content,
                   anonymous, location, submitted_at, status, lapor_tracking_id, status_at)
               VALUES ($1, 'test-sms', 'sms', $2, $3, $4, $5, $6, $7, $8::complaint_status, $9,
                       coalesce($10, now()))""",
            cid,
            rid,
            title,
            content,
            anonymous,
            {"kecamatan": "Jekan Raya", "kelurahan": "Menteng"},
            dt.datetime(2026, 11, 1, 8, 15, tzinfo=dt.UTC),
            status,
            tracking_id,
            status_at,
        )
        for filename, ctype, data in attachments:
            digest = hashlib.sha256(data).digest()
            await conn.execute(
                "INSERT INTO attachments (sha256, content_type, size, data) VALUES ($1,$2,$3,$4)"
                " ON CONFLICT DO NOTHING",
                digest,
                ctype,
                len(data),
                data,
            )
            await conn.execute(
                "INSERT INTO complaint_attachments (complaint_id, sha256, filename) "
                "VALUES ($1, $2, $3)",
                cid,
                digest,
                filename,
            )
        if enqueue:
            await services.queue.enqueue(conn, "push", complaint_id=cid, dedup_key=f"push:{cid}")
    return cid


async def insert_many(pool: asyncpg.Pool, services: Services, n: int) -> list[uuid.UUID]:
    """``n`` complaints and their push jobs in one go (fast, for the fault test and benches)."""
    ids = [uuid.uuid4() for _ in range(n)]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO complaints (id, source, channel, title, content, submitted_at)
               VALUES ($1, 'test-sms', 'sms', $2, $3, now())""",
            [
                (
                    cid,
                    f"Laporan nomor {i}",
                    f"Laporan warga nomor {i}: lampu jalan padam di "
                    f"Jl. Tjilik Riwut km {i % 40}, sudah seminggu gelap.",
                )
                for i, cid in enumerate(ids)
            ],
        )
        await conn.executemany(
            "INSERT INTO jobs (kind, complaint_id, payload, dedup_key) "
            "VALUES ('push', $1, '{}', $2)",
            [(cid, f"push:{cid}") for cid in ids],
        )
    return ids


async def admin(
    http: aiohttp.ClientSession, root: str, method: str, path: str, body: Any = None
) -> Any:
    async with http.request(method, root + path, json=body) as resp:
        text = await resp.text()
        assert resp.status < 300, (resp.status, text)
        return json.loads(text) if text else None


def writable(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp
