"""Issue 13 items 1 and 3, end to end: citizens with known names, phones, e-mails and NIKs
write by e-mail (real Postfix and Dovecot), SMS (real gammu-smsd with the dummy phone), WhatsApp
(a local gateway posting webhooks, the gateway a small server in the test) and
the web form (the daemon's own listener), named and anonymous, with a photo carrying GPS and
a camera serial. The real daemon ingests, pushes to its embedded LAPOR! sandbox and answers
every citizen. Then the whole database is dumped (every column of every table, bytea, text
and JSON, and every base64-looking token decoded) and none of the identities is found.
What reached LAPOR! is checked too: the anonymous reporters' typed PII is redacted, their
attachment names are replaced, and no photo carries GPS or a serial. Two of the anonymous
complaints are citizens' mails an office forwarded (Gmail inline, Outlook as an attachment),
where the request to stay anonymous is in words and the citizen's name is in the text; they
go through the same redaction, and an administrator sees their originals masked."""

from __future__ import annotations

import asyncio
import base64
import email
import hashlib
import hmac
import io
import json
import re
import tomllib
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from PIL import Image

from aggregator.crypto import Crypto
from aggregator.intake.sealing import open_payload
from schemas.config import CryptoConfig, EncryptionKey
from tests.e2e.test_followup_loop import (
    cli,
    launch,
    log_tail,
    sandbox_root,
    stop_daemon,
    wait_for,
    write_config,
)
from tests.email.servers import Dovecot, Postfix
from tests.sms.conftest import Smsd
from tests.support.ports import free_port

# The identities, each in every form it could be stored in.
NAMED_MAIL, NAMED_NAME = "dewi.lestari@warga.test", "Dewi Lestari"
ANON_MAIL = "rahasia.pelapor@warga.test"
SMS_PHONE, SMS_E164 = "081355512345", "+6281355512345"
ANON_SMS_PHONE, ANON_SMS_E164 = "081366654321", "+6281366654321"
FORM_NAME, FORM_PHONE, FORM_NIK = "Yohanes Dambung", "081288877766", "6271011503900001"
FORM_MAIL = "yohanes.d@warga.test"
# A citizen who asks a kelurahan to pass her complaint on without her name (Gmail's inline
# forward) and one whose mail a kecamatan forwards as an attachment (Outlook).
FWD_NAME, FWD_MAIL, FWD_PHONE = "Siti Aminah", "siti.aminah@warga.test", "(0812) 3456 7890"
FWD_NIK = "6271.0115.0390.0001"
ATT_NAME, ATT_MAIL, ATT_PHONE = "Hendra Gunawan", "hendra.g@warga.test", "0857-1234-9876"
# WhatsApp through a local gateway: a named citizen with a photo, an anonymous one whose
# profile name the gateway passes on.
WA_NAME, WA_PHONE, WA_E164 = "Agus Salim", "6281377788899", "+6281377788899"
ANON_WA_NAME, ANON_WA_PHONE = "Wati Susanti", "6281344455566"
GW_SECRET = "e2e-gateway-shared-secret"
# Typed into anonymous complaints' texts:
TYPED_PHONE, TYPED_NIK, TYPED_MAIL = "0813-9988-7766", "6271021203850002", "saksi.mata@warga.test"
SERIAL = "CAMSERIAL98765"

NEEDLES = [
    NAMED_MAIL,
    NAMED_NAME,
    ANON_MAIL,
    SMS_PHONE,
    SMS_E164,
    SMS_E164[1:],
    ANON_SMS_PHONE,
    ANON_SMS_E164,
    ANON_SMS_E164[1:],
    FORM_NAME,
    FORM_PHONE,
    "+62" + FORM_PHONE[1:],
    FORM_NIK,
    FORM_MAIL,
    TYPED_PHONE,
    TYPED_PHONE.replace("-", ""),
    TYPED_NIK,
    TYPED_MAIL,
    "dewi_lestari",
    FWD_NAME,
    "Aminah",
    FWD_MAIL,
    FWD_PHONE,
    "081234567890",
    "6281234567890",
    FWD_NIK,
    FWD_NIK.replace(".", ""),
    ATT_NAME,
    "Gunawan",
    ATT_MAIL,
    ATT_PHONE,
    "085712349876",
    "6285712349876",
    "foto_hendra",
    WA_NAME,
    WA_PHONE,
    "0" + WA_PHONE[2:],
    ANON_WA_NAME,
    "Susanti",
    ANON_WA_PHONE,
    "0" + ANON_WA_PHONE[2:],
]
ROOT = Path(__file__).resolve().parents[2]
B64 = re.compile(rb"[A-Za-z0-9+/=_-]{16,}")


def photo_with_gps() -> bytes:
    """A JPEG whose EXIF holds a GPS position, the camera's serial and the owner's name."""
    img = Image.new("RGB", (64, 48), (120, 80, 40))
    exif = Image.Exif()
    exif[0x013B] = NAMED_NAME  # Artist
    exif[0xA431] = SERIAL  # BodySerialNumber (Exif IFD; Pillow writes it in IFD0 too)
    exif[0x8825] = {1: "S", 2: (2.0, 12.0, 30.0), 3: "E", 4: (113.0, 55.0, 10.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    assert SERIAL.encode() in data
    return data


def found_in(blob: bytes) -> set[str]:
    """Which identities ``blob`` holds, as it is or base64-decoded (both alphabets)."""
    hits = {n for n in NEEDLES if n.encode() in blob or n.lower().encode() in blob.lower()}
    for token in B64.findall(blob):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                plain = decode(token + b"=" * (-len(token) % 4))
            except ValueError:
                continue
            hits |= {n for n in NEEDLES if n.encode() in plain}
    return hits


def kelurahan_forward(intake_box: str, photo: bytes) -> EmailMessage:
    """Gmail's "Forward" by a kelurahan: the citizen's mail inline below the usual marker,
    her photo re-attached under the name she gave it; she asks, in her own words, not to be
    named, and the covering note repeats her number."""
    msg = EmailMessage()
    msg["From"] = "Kelurahan Panarung <kel.panarung@palangkaraya.go.id>"
    msg["To"] = intake_box
    msg["Subject"] = "Fwd: Pungli pembuatan KTP elektronik"
    msg["Message-ID"] = "<CAJfwd-a3-privasi@mail.gmail.com>"
    msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0700"
    msg.set_content(
        f"Mohon ditindaklanjuti, pelapor bisa dihubungi di {FWD_PHONE}.\n\n"
        "---------- Forwarded message ---------\n"
        f"From: {FWD_NAME} <{FWD_MAIL}>\n"
        "Date: Sab, 28 Nov 2026 pukul 07.12\n"
        "Subject: Pungli pembuatan KTP elektronik\n"
        "To: <kel.panarung@palangkaraya.go.id>\n\n\n"
        "Selamat pagi Pak Lurah,\n\n"
        f"Saya {FWD_NAME}, warga RT 03 Panarung. Petugas loket kelurahan meminta Rp 50.000 "
        "untuk mencetak KTP elektronik saya. Tolong nama saya jangan disebut, saya takut "
        f"dipersulit. NIK saya {FWD_NIK}, WA {FWD_PHONE}, surel {FWD_MAIL}.\n\n"
        f"Salam,\n{FWD_NAME}\n",
        cte="base64",  # as Gmail often sends it: a pattern run on the raw bytes sees nothing
    )
    msg.add_attachment(photo, maintype="image", subtype="jpeg", filename="bukti_siti_aminah.jpg")
    return msg


def kecamatan_forward_as_attachment(intake_box: str, photo: bytes) -> bytes:
    """Outlook's "Forward as attachment" by a kecamatan: the citizen's whole mail (with his
    photo) inside, the office's note saying he wants to stay anonymous."""
    inner = EmailMessage()
    inner["From"] = f"{ATT_NAME} <{ATT_MAIL}>"
    inner["To"] = "kec.jekanraya@palangkaraya.go.id"
    inner["Subject"] = "Parkir liar di Jl. Ahmad Yani"
    inner["Message-ID"] = "<orig-a4-privasi@warga.test>"
    inner["Date"] = "Sun, 29 Nov 2026 19:40:00 +0700"
    inner.set_content(
        "Setiap malam ada parkir liar di depan pasar Jl. Ahmad Yani, juru parkir memungut "
        f"Rp 10.000 tanpa karcis. Saya {ATT_NAME}, WA saya {ATT_PHONE}.\n"
    )
    inner.add_attachment(photo, maintype="image", subtype="jpeg", filename="foto_hendra_parkir.jpg")
    outer = EmailMessage()
    outer["From"] = "Kecamatan Jekan Raya <kec.jekanraya@palangkaraya.go.id>"
    outer["To"] = intake_box
    outer["Subject"] = "FW: Parkir liar di Jl. Ahmad Yani"
    outer["Message-ID"] = "<DB9PR-a4-privasi@outlook.com>"
    outer["Date"] = "Mon, 30 Nov 2026 10:00:00 +0700"
    outer.set_content("Mohon diproses. Pelapor meminta laporannya dibuat anonim.\n")
    outer.add_attachment(inner, filename=f"Parkir liar - {ATT_NAME}.eml")
    return outer.as_bytes()


class Gateway:
    """The local WhatsApp gateway beside the phone: it serves the photos a message points
    at and takes the answers satukanal sends."""

    def __init__(self, photo: bytes) -> None:
        self.photo, self.sent, self.base = photo, [], ""
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()

        async def send(request: web.Request) -> web.Response:
            self.sent.append(await request.json())
            return web.json_response({"id": f"gw-{len(self.sent)}"})

        async def media(_request: web.Request) -> web.Response:
            return web.Response(body=self.photo, content_type="image/jpeg")

        app.router.add_post("/send", send)
        app.router.add_get("/media/{name}", media)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def source(self) -> str:
        return f"""
[[sources]]
name = "wa-gw"
kind = "whatsapp_gateway"
agency = "PUPR"
[sources.options]
secret = "{GW_SECRET}"
[sources.options.send]
url = "{self.base}/send"
"""


async def whatsapp(http: aiohttp.ClientSession, base: str, gw: Gateway, **post: object) -> None:
    raw = json.dumps(post).encode()
    signature = "sha256=" + hmac.new(GW_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    async with http.post(
        f"{base}/intake/wa-gw/webhook", data=raw, headers={"X-Signature": signature}
    ) as r:
        assert r.status == 200, await r.text()


async def dump(conn: asyncpg.Connection) -> dict[str, set[str]]:
    """Every column of every table in public, as text (bytea as its bytes): where each
    identity is found, as ``table.column``."""
    where: dict[str, set[str]] = {}
    cols = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    )
    for c in cols:
        t, col = c["table_name"], c["column_name"]
        if t == "schema_migrations":
            continue
        expr = f'"{col}"' if c["data_type"] == "bytea" else f"convert_to(\"{col}\"::text, 'UTF8')"
        for (v,) in await conn.fetch(f'SELECT {expr} FROM "{t}" WHERE "{col}" IS NOT NULL'):
            for hit in found_in(bytes(v)):
                where.setdefault(hit, set()).add(f"{t}.{col}")
    return where


async def test_no_identity_rests_in_plaintext_and_anonymous_reports_reach_lapor_clean(
    tmp_path: Path, db_dsn: str, pool: asyncpg.Pool, dovecot: Dovecot, postfix: Postfix, smsd: Smsd
) -> None:
    intake_box = dovecot.fresh_mailbox()
    log_path = tmp_path / "daemon.log"
    photo = photo_with_gps()
    gateway = Gateway(photo)
    await gateway.start()

    def config(port: int) -> Path:
        path = write_config(tmp_path, db_dsn, port, dovecot, postfix, intake_box, smsd)
        path.write_text(path.read_text() + gateway.source())
        return path

    cfg, base, daemon = await launch(log_path, config)
    try:
        async with aiohttp.ClientSession() as http:
            sandbox = await sandbox_root(log_path)
            named = EmailMessage()
            named["From"] = f"{NAMED_NAME} <{NAMED_MAIL}>"
            named["To"] = intake_box
            named["Subject"] = "Jalan berlubang di Jl. Kinibalu"
            named["Message-ID"] = "<a1-privasi@mx.warga.test>"
            named["Date"] = "Sat, 28 Nov 2026 08:00:00 +0700"
            named.set_content(
                "Jalan di depan rumah No. 12 Jl. Kinibalu berlubang dalam sejak "
                "sebulan, sudah dua motor jatuh."
            )
            named.add_attachment(photo, maintype="image", subtype="jpeg", filename="lubang.jpg")
            anon = EmailMessage()
            anon["From"] = f"Pelapor <{ANON_MAIL}>"
            anon["To"] = intake_box
            anon["Subject"] = "ANONIM pungutan liar di kelurahan"
            anon["Message-ID"] = "<a2-privasi@mx.warga.test>"
            anon["Date"] = "Sat, 28 Nov 2026 08:05:00 +0700"
            anon.set_content(
                "ANONIM Petugas kelurahan Panarung meminta Rp 50.000 untuk KTP. Saksi bisa "
                f"dihubungi di {TYPED_PHONE} atau {TYPED_MAIL}, NIK saksi {TYPED_NIK}."
            )
            anon.add_attachment(
                photo, maintype="image", subtype="jpeg", filename="bukti_dewi_lestari.jpg"
            )
            for msg in (named, anon, kelurahan_forward(intake_box, photo)):
                await asyncio.to_thread(postfix.send, NAMED_MAIL, [intake_box], msg.as_bytes())
            await asyncio.to_thread(
                postfix.send,
                "kec.jekanraya@palangkaraya.go.id",
                [intake_box],
                kecamatan_forward_as_attachment(intake_box, photo),
            )
            smsd.deliver(
                SMS_PHONE,
                "Lampu jalan di Jl. Yos Sudarso mati semua sejak minggu "
                "lalu, rawan begal malam hari.",
            )
            smsd.deliver(
                ANON_SMS_PHONE,
                "ANONIM Ada pungli di loket Puskesmas Kayon, hubungi "
                f"saya di {TYPED_PHONE} NIK {TYPED_NIK}.",
            )
            form = aiohttp.FormData()
            for k, v in {
                "isi_laporan": "Sampah menumpuk di TPS Jl. Tjilik Riwut km 2 sudah "
                "seminggu tidak diangkut.",
                "judul": "Sampah tidak diangkut",
                "nama": FORM_NAME,
                "telp": FORM_PHONE,
                "nik": FORM_NIK,
                "email": FORM_MAIL,
                "website": "",
            }.items():
                form.add_field(k, v)
            form.add_field("foto", photo, filename="tps.jpg", content_type="image/jpeg")
            async with http.post(
                f"{base}/intake/web-kota/", data=form, allow_redirects=False
            ) as resp:
                assert resp.status == 303, await resp.text()

            await whatsapp(
                http,
                base,
                gateway,
                id="wa-named-1",
                timestamp=1764720000,
                name=WA_NAME,
                message="Saluran got tersumbat di Jl. Beliang depan SDN 4, air meluap ke jalan.",
                media_url=f"{gateway.base}/media/got.jpg",
                media_type="image/jpeg",
                **{"from": WA_PHONE},
            )
            await whatsapp(
                http,
                base,
                gateway,
                id="wa-anon-1",
                timestamp=1764720060,
                name=ANON_WA_NAME,
                message=f"ANONIM Saya {ANON_WA_NAME}, petugas parkir pasar Kahayan memungut "
                f"Rp 5.000 tanpa karcis. Hubungi {TYPED_PHONE}.",
                media_url=f"{gateway.base}/media/parkir.jpg",
                media_type="image/jpeg",
                **{"from": ANON_WA_PHONE},
            )

            async def all_answered() -> bool:
                async with pool.acquire() as conn:
                    pushed = await conn.fetchval(
                        "SELECT count(*) FROM complaints WHERE lapor_tracking_id IS NOT NULL"
                    )
                    told = await conn.fetchval(
                        "SELECT count(DISTINCT complaint_id) FROM notifications "
                        "WHERE kind = 'ack' AND state IN ('sent', 'delivered')"
                    )
                return bool(pushed == 9 and told >= 9)

            await wait_for(all_answered, "nine complaints pushed and acknowledged", within=150)
            async with http.get(f"{sandbox}/_sandbox/reports") as r:
                reports = (await r.json())["items"]
            lapor = {}
            for rep in reports:
                async with http.get(f"{sandbox}/_sandbox/reports/{rep['tracking_id']}") as r:
                    lapor[rep["tracking_id"]] = await r.json()
            # What anyone may read without a token: health, readiness and metrics.
            public = b""
            for path in ("/healthz", "/readyz", "/metrics"):
                async with http.get(f"{base}{path}") as r:
                    public += await r.read()
    finally:
        rc = await stop_daemon(daemon, check=False)
        await gateway.stop()
    assert rc == 0, log_tail(log_path)
    assert {m["to"] for m in gateway.sent} == {WA_PHONE, ANON_WA_PHONE}, gateway.sent

    async with pool.acquire() as conn:
        leaks = await dump(conn)
        anonymous = await conn.fetch(
            "SELECT id, content, lapor_tracking_id FROM complaints WHERE anonymous ORDER BY source"
        )
        files = await conn.fetch(
            "SELECT ca.complaint_id, ca.filename, a.data, c.anonymous "
            "FROM complaint_attachments ca JOIN attachments a USING (sha256) "
            "JOIN complaints c ON c.id = ca.complaint_id"
        )
    assert leaks == {}, leaks
    # Nor in the daemon's log, nor in any file it keeps (the intake spool, the models), nor
    # on its public pages.
    assert found_in(log_path.read_bytes()) == set(), log_tail(log_path)
    # (lapor-sandbox.json is LAPOR! itself, the built-in sandbox's store: checked above.)
    kept = {
        str(f.relative_to(tmp_path)): found_in(f.read_bytes())
        for f in (tmp_path / "data").rglob("*")
        if f.is_file() and f.name != "lapor-sandbox.json"
    }
    # The models are trained on the shipped corpus, whose made-up senders include a "Siti
    # Aminah": a name found there as well is the corpus's, not this citizen's.
    corpus = b"".join(
        p.read_bytes() for p in (ROOT / "aggregator" / "judgement" / "corpus").glob("*.jsonl")
    )
    shipped = found_in(corpus)
    leaked = {
        f: sorted(hits - shipped if f.startswith("data/models/") else hits)
        for f, hits in kept.items()
    }
    leaked = {f: hits for f, hits in leaked.items() if hits}
    assert leaked == {}, leaked
    assert found_in(public) == set()

    # What LAPOR! received from the anonymous: no typed PII, no telling attachment name. The
    # two citizens whose mail an office forwarded asked for anonymity in words (the
    # citizen's own "tolong nama saya jangan disebut", the kecamatan's covering note), and
    # their names, addresses, phones and NIKs are gone from what LAPOR! holds as well.
    assert len(anonymous) == 5, anonymous
    for row in anonymous:
        sent = repr(lapor[row["lapor_tracking_id"]])
        for n in (
            TYPED_PHONE,
            TYPED_NIK,
            TYPED_MAIL,
            ANON_MAIL,
            ANON_SMS_E164,
            FWD_NAME,
            "Aminah",
            FWD_MAIL,
            FWD_PHONE,
            FWD_NIK,
            ATT_NAME,
            "Gunawan",
            ATT_MAIL,
            ATT_PHONE,
            "hendra",
            ANON_WA_NAME,
            "Susanti",
            ANON_WA_PHONE,
        ):
            assert n.lower() not in sent.lower(), (n, sent)
        assert "[telepon]" in row["content"], row["content"]
    # The two forwarded mails and the WhatsApp message named their senders in the text.
    named_in_text = [r for r in anonymous if "[nama]" in r["content"]]
    assert len(named_in_text) == 3, [r["content"] for r in anonymous]
    # Every photo as pushed (the stored attachment is what goes up) has lost its GPS
    # position, camera serial and owner name, the named reporters' too.
    assert len(files) == 7, files
    for f in files:
        data = bytes(f["data"])
        assert SERIAL.encode() not in data and NAMED_NAME.encode() not in data, f["filename"]
        with Image.open(io.BytesIO(data)) as img:
            assert 0x8825 not in img.getexif(), f["filename"]
        if f["anonymous"]:
            assert f["filename"] == "lampiran-1.jpg", f["filename"]
    # The anonymous reporters' raw originals (kept encrypted for administrators) have lost
    # the photo's metadata too; the named reporters' keep the photo as it came.
    conf = tomllib.loads(cfg.read_text())["crypto"]
    crypto = Crypto.from_config(
        CryptoConfig(
            keys=[EncryptionKey(id=k["id"], secret=k["secret"]) for k in conf["keys"]],
            hmac_key=conf["hmac_key"],
        )
    )
    async with pool.acquire() as conn:
        raws = await conn.fetch(
            "SELECT r.payload, r.payload_key, c.anonymous, c.channel FROM raw_items r "
            "JOIN complaints c ON c.raw_item_id = r.id"
        )
    originals: dict[tuple[str, bool], list[bytes]] = {}
    for r in raws:
        key = (r["channel"], r["anonymous"])
        originals.setdefault(key, []).append(open_payload(crypto, r["payload"], r["payload_key"]))
    assert len(originals[("email", True)]) == 3
    for original in originals[("email", True)]:
        # walk() descends into a forwarded message/rfc822 too
        parts = [
            p.get_payload(decode=True)
            for p in email.message_from_bytes(original).walk()
            if p.get_content_type() == "image/jpeg"
        ]
        assert len(parts) == 1 and parts[0].startswith(b"\xff\xd8")
        assert SERIAL.encode() not in parts[0] and NAMED_NAME.encode() not in parts[0]
    assert SERIAL.encode() in originals[("web", False)][0]
    # An administrator opening an anonymous reporter's original sees it masked: the base64
    # body decoded and redacted, the names of its From headers hidden, the photo withheld.
    async with pool.acquire() as conn:
        anonymous_raws = await conn.fetch(
            "SELECT r.id FROM raw_items r JOIN complaints c ON c.raw_item_id = r.id "
            "WHERE c.anonymous AND c.channel = 'email'"
        )
    assert len(anonymous_raws) == 3
    for r in anonymous_raws:
        shown = await asyncio.to_thread(cli, cfg, "quarantine", "show", str(r["id"]))
        assert shown.returncode == 0, shown.stderr
        assert found_in(shown.stdout.encode()) == set(), shown.stdout
        assert "[attachment: image/jpeg" in shown.stdout, shown.stdout
