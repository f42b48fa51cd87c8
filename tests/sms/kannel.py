"""A real Kannel (bearerbox + smsbox, Debian ``kannel``) on loopback, with a fake SMSC.

Debian's package has no ``fakesmsc``, so the SMSC is Kannel's own HTTP SMSC driver
(``system-type = kannel``) talking to a small aiohttp app: messages Kannel sends arrive
there, and messages from "phones" are injected by calling bearerbox's HTTP SMSC port the
way an upstream Kannel or aggregator would. Everything between — bearerbox routing,
smsbox's sms-service get-url with its escapes, sendsms, concatenation, coding, DLRs — is
the real Kannel.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.ports import free_port


@dataclass
class FakeSmsc:
    """The network side: records what Kannel sends, can report delivery back."""

    port: int = field(default_factory=free_port)
    sent: list[dict[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/send", self._send)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def _send(self, request: web.Request) -> web.Response:
        data = dict(request.query)
        if request.method == "POST":
            data.update(dict(await request.post()))  # type: ignore[arg-type]
        self.sent.append({k: str(v) for k, v in data.items()})
        return web.Response(status=202, text="Sent.")

    async def report_delivery(self, http: Any, index: int, status: int, answer: str = "ok") -> int:
        """What the operator's SMSC does later: call the message's dlr-url (%d = status)."""
        url = self.sent[index]["dlr-url"].replace("%d", str(status)).replace("%A", answer)
        async with http.get(url) as resp:
            return int(resp.status)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@dataclass
class Kannel:
    root: Path
    smsc: FakeSmsc
    get_url: str
    admin_port: int = field(default_factory=free_port)
    smsbox_port: int = field(default_factory=free_port)
    sendsms_port: int = field(default_factory=free_port)
    mo_port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    username: str = "satukanal"
    password: str = "kirim-rahasia"

    def conf(self) -> str:
        r = self.root
        return f"""
group = core
admin-port = {self.admin_port}
admin-password = admin
admin-interface = 127.0.0.1
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
admin-allow-ip = 127.0.0.1
log-file = "{r}/bearerbox.log"
log-level = 0
access-log = "{r}/access.log"
store-type = spool
store-location = "{r}/spool"
dlr-storage = internal

group = smsc
smsc = http
smsc-id = fake
system-type = kannel
port = {self.mo_port}
connect-allow-ip = 127.0.0.1
send-url = "http://127.0.0.1:{self.smsc.port}/send"
smsc-username = upstream
smsc-password = upstream-pw

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{r}/smsbox.log"
log-level = 0
mo-recode = false
global-sender = 1708

group = sendsms-user
username = {self.username}
password = {self.password}
max-messages = 5
concatenation = true

group = sms-service
keyword = default
catch-all = true
get-url = "{self.get_url}"
max-messages = 0
omit-empty = true
"""

    def start(self) -> None:
        (self.root / "spool").mkdir(parents=True, exist_ok=True)
        conf = self.root / "kannel.conf"
        conf.write_text(self.conf())
        for exe in ("/usr/sbin/bearerbox", "/usr/sbin/smsbox"):
            self.procs.append(
                subprocess.Popen(
                    [exe, "-v", "4", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=(self.root / f"{Path(exe).name}.stderr").open("wb"),
                )
            )
            port = self.smsbox_port if exe.endswith("bearerbox") else self.sendsms_port
            _wait_port(port, self.procs[-1], self.root)
        _wait_port(self.mo_port, self.procs[0], self.root)

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.procs.clear()

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def log_tail(self) -> str:
        out = []
        for name in ("bearerbox.log", "smsbox.log"):
            f = self.root / name
            if f.exists():
                out.append(
                    f"--- {name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-25:])
                )
        return "\n".join(out)


def _wait_port(port: int, proc: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"Kannel did not open port {port}; logs in {root}")


async def wait_until(pred: Any, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        v = pred()
        if asyncio.iscoroutine(v):
            v = await v
        if v:
            return v
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")
