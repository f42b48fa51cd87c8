"""Simulated citizens for the demo, and the stand-ins for what a demo machine lacks.

They write through the daemon's own public intakes exactly as real gateways and browsers
would (the SMS gateway webhook, the old web form) and drop e-mail into the Maildir a mail
server would deliver to. SMS answers leave through the real Kannel sink to a stand-in
``sendsms`` endpoint that records them, so the demo shows each citizen's phone; e-mail answers
are written by the real Maildir outbox sink into ``maildir/terkirim/new``, where the e-mail
citizens read them and answer in the same thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog
from aiohttp import web

from aggregator.demo import story
from aggregator.demo.whatsapp_cloud import CloudSandbox, SandboxState

if TYPE_CHECKING:
    from aggregator.wiring.assemble import Components
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

# (channel, who, text). Realistic for Kota Palangka Raya; any resemblance is intended.
SCRIPT: list[tuple[str, str, str]] = [
    (
        "sms",
        "+6281234500001",
        "Jalan di Jl. RTA Milono km 5 berlubang besar dekat SPBU, sudah "
        "dua motor jatuh minggu ini. Mohon segera diperbaiki.",
    ),
    (
        "web",
        "Siti Rahmah",
        "Lampu jalan di Jl. Yos Sudarso depan gang Sepakat mati sejak "
        "seminggu, malam hari sangat gelap dan rawan begal.",
    ),
    (
        "email",
        "budi.santoso@contoh.id",
        "Sampah di TPS Pasar Kahayan tidak diangkut sejak "
        "Senin, baunya sampai ke rumah warga dan banyak lalat.",
    ),
    (
        "sms",
        "+6281234500002",
        "ANONIM Ada pungutan liar saat mengurus KTP di kantor kelurahan "
        "Panarung, diminta Rp 50.000 supaya cepat selesai.",
    ),
    (
        "web",
        "Yohanes Dambung",
        "Saluran drainase di Jl. Tjilik Riwut km 2 tersumbat, setiap "
        "hujan air meluap ke jalan dan rumah warga RT 03.",
    ),
    (
        "email",
        "rina.w@contoh.id",
        "Antrean di Puskesmas Kayon sangat panjang, loket pendaftaran "
        "hanya buka satu padahal pasien puluhan setiap pagi.",
    ),
    (
        "sms",
        "+6281234500003",
        "Angkot jurusan Pasar Besar - Bukit Hindu sering ngetem lama di "
        "bundaran, bikin macet jam pulang sekolah.",
    ),
    (
        "web",
        "Hj. Masnah",
        "Jembatan kayu di Jl. Mendawai ujung sudah lapuk dan berlubang, "
        "anak-anak sekolah tiap hari lewat situ.",
    ),
    (
        "whatsapp",
        "6281234500004",
        "Assalamualaikum pak, air PDAM di Jl. Rajawali RT 02 sdh 3 hari tdk mengalir, "
        "warga terpaksa beli air galon. Mohon dibantu 🙏",
    ),
    (
        "whatsapp",
        "6281234500005",
        "Pohon besar di depan SDN 2 Langkai miring hampir tumbang ke jalan, bahaya "
        "kalau angin kencang. Tlg segera dipangkas.",
    ),
]
REPLIES = {
    "sms": "LAPOR {tracking} Terima kasih infonya. Lubangnya makin besar setelah hujan kemarin.",
    "whatsapp": "Terima kasih pak, ditunggu petugasnya. Foto terbaru menyusul.",
    "email": "Terima kasih atas balasannya. Sampai hari ini sampah masih menumpuk.",
}


DLR_DELAY_S = 1.0  # how long the stand-in SMSC takes to confirm a delivery


class DemoKannel:
    """Stands in for Kannel's sendsms: records what the daemon sends to citizens' phones and,
    as Kannel does once the SMSC confirms, calls the message's delivery-report URL."""

    def __init__(self, log_file: Path, http: aiohttp.ClientSession | None = None) -> None:
        self.sent: list[dict[str, str]] = []
        self.log_file = log_file
        self.http = http
        self._reports: set[asyncio.Task[None]] = set()

    async def sendsms(self, request: web.Request) -> web.Response:
        q = request.query
        msg = {
            "to": q.get("to", ""),
            "text": q.get("text", ""),
            "at": dt.datetime.now().isoformat(),
        }
        self.sent.append(msg)
        with self.log_file.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(msg, ensure_ascii=False) + "\n")
        dlr_url = q.get("dlr-url")
        if dlr_url and self.http is not None:
            task = asyncio.create_task(self._report_delivery(dlr_url))
            self._reports.add(task)
            task.add_done_callback(self._reports.discard)
        return web.Response(text="0: Accepted for delivery", status=202)

    async def _report_delivery(self, dlr_url: str) -> None:
        assert self.http is not None
        await asyncio.sleep(DLR_DELAY_S)
        # Kannel fills in %d (1 = delivered to the phone) and %A (the SMSC's answer).
        url = dlr_url.replace("status=%d", "status=1").replace("answer=%A", "answer=DELIVRD")
        try:
            async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                if resp.status >= 400:
                    log.warning("demo_delivery_report_refused", status=resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("demo_delivery_report_failed", error=str(exc))

    async def close(self) -> None:
        for task in list(self._reports):
            task.cancel()
        for task in list(self._reports):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/demo/kannel/cgi-bin/sendsms", self.sendsms),
            web.post("/demo/kannel/cgi-bin/sendsms", self.sendsms),
        ]


class DemoCitizens:
    """Writes the script once, then answers acknowledgements once per citizen."""

    name = "demo_citizens"

    def __init__(
        self,
        services: Services,
        kannel: DemoKannel,
        whatsapp: CloudSandbox | None = None,
        *,
        pace_s: float = 4.0,
        http_base: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.services = services
        self.http_base = http_base
        self.kannel = kannel
        self.whatsapp = whatsapp
        self.pace_s = pace_s
        self.next = 0
        self.replied: set[str] = set()
        settings = services.settings
        self.sources = {s.kind: s for s in settings.sources}
        self.maildir = Path(self.sources["maildir"].options["path"])
        self.outbox = Path(self.sources["maildir"].options["outbox"]["path"])

    @property
    def base(self) -> str:
        return self.http_base() or "http://127.0.0.1:8470"

    async def run_once(self) -> int:
        sent = 0
        while self.next < len(SCRIPT):
            await self._write(*SCRIPT[self.next])
            self.next += 1
            sent += 1
        return sent + await self._reply()

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.sleep(2)
        while not stop.is_set():
            try:
                if self.next < len(SCRIPT):
                    await self._write(*SCRIPT[self.next])
                    self.next += 1
                else:
                    await self._reply()
            except (aiohttp.ClientError, OSError) as exc:
                log.warning("demo_citizen_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.pace_s)

    async def _write(self, channel: str, who: str, text: str) -> None:
        http = self.services.http
        if channel == "sms":
            src = self.sources["sms_http"]
            await _ok(
                http.post(
                    f"{self.base}/intake/{src.name}/webhook",
                    json={
                        "id": uuid.uuid4().hex,
                        "sender": who,
                        "text": text,
                        "time": dt.datetime.now(dt.UTC).isoformat(),
                    },
                    headers={"X-Satukanal-Secret": src.options["secret"]},
                )
            )
        elif channel == "web":
            src = self.sources["form_http"]
            await _ok(
                http.post(
                    f"{self.base}/intake/{src.name}/",
                    data={"nama": who, "isi_laporan": text, "lokasi": "Palangka Raya"},
                    allow_redirects=False,
                )
            )
        elif channel == "whatsapp":
            if self.whatsapp is None:
                return
            await _ok(
                http.post(
                    f"{self.whatsapp.base_url}/_sandbox/inbound",
                    json={"from": who, "text": text, "name": "Warga Palangka"},
                )
            )
        else:
            msg = EmailMessage()
            msg["From"] = who
            msg["To"] = "pengaduan@palangkaraya.example"
            msg["Subject"] = text.split(",")[0][:60]
            msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
            msg["Message-ID"] = make_msgid(domain="contoh.id")
            msg.set_content(text + "\n\nSalam,\nWarga Palangka Raya\n")
            deliver_to_maildir(self.maildir, msg.as_bytes())
        log.info("demo_citizen_wrote", channel=channel)

    async def _reply(self) -> int:
        """A citizen who got their Tracking ID by SMS answers once with `LAPOR <id> …`; one who
        got it by e-mail answers once in the thread (Re:, In-Reply-To, References)."""
        n = await asyncio.to_thread(self._reply_by_email)
        src = self.sources["sms_http"]
        for msg in list(self.kannel.sent):
            m = re.search(r"#?(\d{5,})", msg["text"])
            if not m or msg["to"] in self.replied:
                continue
            self.replied.add(msg["to"])
            await _ok(
                self.services.http.post(
                    f"{self.base}/intake/{src.name}/webhook",
                    json={
                        "id": uuid.uuid4().hex,
                        "sender": msg["to"],
                        "text": REPLIES["sms"].format(tracking=m.group(1)),
                        "time": dt.datetime.now(dt.UTC).isoformat(),
                    },
                    headers={"X-Satukanal-Secret": src.options["secret"]},
                )
            )
            n += 1
        return n + await self._reply_by_whatsapp()

    async def _reply_by_whatsapp(self) -> int:
        """A WhatsApp citizen thanks once for the Tracking ID, and taps SUDAH when asked
        whether it is solved."""
        if self.whatsapp is None:
            return 0
        n = 0
        for msg in list(self.whatsapp.state.outbox):
            to = str(msg.get("to"))
            text = json.dumps(msg.get("text") or msg.get("interactive") or msg.get("template"))
            if msg.get("type") == "interactive" and f"solved:{to}" not in self.replied:
                self.replied.add(f"solved:{to}")
                spec: dict[str, Any] = {"from": to, "button": "SUDAH", "text": "Sudah selesai"}
            elif re.search(r"\d{5,}", text) and f"wa:{to}" not in self.replied:
                self.replied.add(f"wa:{to}")
                spec = {"from": to, "text": REPLIES["whatsapp"]}
            else:
                continue
            await _ok(
                self.services.http.post(f"{self.whatsapp.base_url}/_sandbox/inbound", json=spec)
            )
            log.info("demo_citizen_replied", channel="whatsapp")
            n += 1
        return n

    def _reply_by_email(self) -> int:
        n = 0
        for path in sorted((self.outbox / "new").glob("*")):
            answer = message_from_bytes(path.read_bytes(), policy=policy.default)
            to = parseaddr(str(answer["To"] or ""))[1]
            subject = str(answer["Subject"] or "").strip()  # a folded header keeps a space
            # Only an answer in a citizen's own thread (not, say, an SLA e-mail to an agency).
            if "LAPOR! #" not in subject or not answer["In-Reply-To"] or not to:
                continue
            if to in self.replied:
                continue
            self.replied.add(to)
            parent = str(answer["Message-ID"]).strip()
            refs = [*str(answer["References"] or "").split(), parent]
            msg = EmailMessage()
            msg["From"] = to
            msg["To"] = str(answer["From"])
            msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
            msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
            msg["Message-ID"] = make_msgid(domain="contoh.id")
            msg["In-Reply-To"] = parent
            msg["References"] = " ".join(refs)
            msg.set_content(REPLIES["email"] + "\n\nSalam,\nWarga Palangka Raya\n")
            deliver_to_maildir(self.maildir, msg.as_bytes())
            log.info("demo_citizen_replied", channel="email")
            n += 1
        return n


def whatsapp_sandbox(settings: Any) -> CloudSandbox | None:
    """The Cloud API sandbox for the demo's ``whatsapp_cloud`` source, served under
    ``/demo/whatsapp`` of the daemon's own port, posting to that source's webhook."""
    src = next((s for s in settings.sources if s.kind == "whatsapp_cloud"), None)
    if src is None:
        return None
    o = src.options
    sandbox = CloudSandbox(
        SandboxState(
            app_secret=o["app_secret"],
            access_token=o["access_token"],
            phone_number_id=o["phone_number_id"],
            webhook_url=f"http://127.0.0.1:{settings.http.port}/intake/{src.name}/webhook",
        )
    )
    sandbox.base_url = str(o["graph_url"]).rstrip("/")
    return sandbox


async def _ok(request: Any) -> None:
    async with request as resp:
        if resp.status >= 400:
            raise aiohttp.ClientResponseError(
                resp.request_info,
                resp.history,
                status=resp.status,
                message=(await resp.text())[:200],
            )


def deliver_to_maildir(root: Path, data: bytes) -> Path:
    """Deliver the way an MTA does: write in tmp/, rename into new/ (never half a file)."""
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    name = f"{time.time():.6f}.{os.getpid()}.{uuid.uuid4().hex[:8]}.demo"
    tmp = root / "tmp" / name
    tmp.write_bytes(data)
    final = root / "new" / name
    os.rename(tmp, final)
    return final


async def demo_token(services: Services) -> str:
    """One admin token for the demo, kept in the data dir so it survives restarts."""
    from aggregator.storage.admin import create_token, find_token

    path = services.settings.data_dir / "demo-admin-token.txt"
    async with services.pool.acquire() as conn:
        if path.exists():
            token = path.read_text().strip()
            if await find_token(conn, token):
                return token
        _, token = await create_token(conn, name="demo-admin", role="admin", agency=None)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


async def attach_demo(
    services: Services, comp: Components, stack: contextlib.AsyncExitStack, *, citizens: bool
) -> None:
    data_dir = services.settings.data_dir
    for box in ("pengaduan", "terkirim"):
        for sub in ("tmp", "new", "cur"):
            (data_dir / "maildir" / box / sub).mkdir(parents=True, exist_ok=True)
    kannel = DemoKannel(data_dir / "sms-ke-warga.jsonl", services.http)
    stack.push_async_callback(kannel.close)
    comp.http_routes.append(("", kannel.routes()))
    whatsapp = whatsapp_sandbox(services.settings)
    if whatsapp is not None:
        stack.push_async_callback(whatsapp.close)
        comp.http_routes.append(("/demo/whatsapp", whatsapp.routes()))
        comp.banner.append(
            f"WhatsApp    {whatsapp.base_url}/_sandbox/outbox   (what citizens "
            "received; the built-in Cloud API sandbox)"
        )
    token = await demo_token(services)
    comp.banner.append(f"token      {token}   (admin; paste it on the dashboard's login page)")
    comp.banner.append(f"SMS sent to citizens are logged in {data_dir / 'sms-ke-warga.jsonl'}")
    comp.banner.append(
        f"e-mail answers to citizens are written to {data_dir / 'maildir' / 'terkirim' / 'new'}"
    )
    if citizens:
        comp.loops.append(
            DemoCitizens(services, kannel, whatsapp, http_base=lambda: comp.http_base)
        )
        comp.banner.append("demo citizens are writing by SMS, web form, e-mail and WhatsApp")
        # --until-idle: the story ends when every report is closed and every message delivered.
        started = services.clock()
        comp.outstanding.append(lambda: story.outstanding(services, started))
        comp.outstanding_timeout_s = story.STORY_TIMEOUT_S
        comp.on_idle.append(lambda: story.print_summary(services, started, sys.stdout))
