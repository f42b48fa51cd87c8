"""The sandbox inside the daemon (``lapor.sandbox = true``): the demo needs no other process."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from aggregator.lapor.sandbox.app import create_app
from aggregator.lapor.sandbox.core import SandboxConfig

CLIENT_ID = "satukanal"
CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - the sandbox's own, loopback only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def embedded_sandbox(
    state_file: Path | None = None,
    *,
    life: str = "fast",
    port: int | None = None,
    life_unit_s: float | None = None,
    rate_per_s: float = 20.0,
    burst: int = 40,
    story: tuple[str, ...] | None = None,
) -> AsyncIterator[str]:
    """Run the sandbox on a loopback port; yields its base URL (client satukanal).
    ``story``: scripts the reports' lives play in turn (see ``life.DEMO_STORY``)."""
    port = port or free_port()
    cfg = SandboxConfig(
        life=life,  # type: ignore[arg-type]
        state_file=state_file,  # type: ignore[arg-type]
        life_unit_s=life_unit_s,
        rate_per_s=rate_per_s,
        burst=burst,
        clients={CLIENT_ID: CLIENT_SECRET},
        public_url=f"http://127.0.0.1:{port}",
        story=story,
    )
    runner = web.AppRunner(create_app(cfg), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}{cfg.base_path}"
    finally:
        await runner.cleanup()
