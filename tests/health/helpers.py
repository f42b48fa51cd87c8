"""Helpers for health tests: a hand-set clock, a chat webhook on a loopback port."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.ports import free_port


class Clock:
    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Webhook:
    """A chat tool's incoming webhook: records every JSON body posted to it."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    runner: web.AppRunner | None = None

    async def start(self) -> Webhook:
        async def handle(request: web.Request) -> web.Response:
            self.received.append(await request.json())
            return web.json_response({"ok": True}, status=self.status)

        app = web.Application()
        app.router.add_post("/hooks/satukanal", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/hooks/satukanal"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        # The outcome is written by another task, into the database: poll it there.
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
