"""Issue 13 item 5: no input stops a channel. Real parsers (the e-mail connector through a
Maildir, the SMS webhook over HTTP, the web form's parser) fed what an attacker or a broken
gateway sends: NUL in a Message-ID, a reused Message-ID, an image bomb, a retried push, and
hypothesis-generated random and mutated inputs. Nothing escapes, nothing stalls the loop,
nothing vanishes."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import io
import json
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from aggregator.errors import TransientError
from aggregator.intake import Intake
from aggregator.intake.images import configure_pillow
from aggregator.intake.loop import IngestLoop
from aggregator.web.app import make_app
from aggregator.wiring.sources import build_source
from connectors.base import Batch, RawItem
from schemas.config import PrivacyConfig, Settings, SourceConfig
from tests.core.helpers import JsonLinesSource, make_services
from tests.email.corpus import corpus
from tests.sms.kannel import free_port


def mail(
    msgid: str,
    text: str,
    *,
    subject: str = "Jalan rusak",
    sender: str = "warga@desa.test",
    png: bytes | None = None,
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "pengaduan@kota.test"
    m["Subject"] = subject
    m["Date"] = "Sat, 28 Nov 2026 08:00:00 +0700"
    m.set_content(text)
    if png is not None:
        m.add_attachment(png, maintype="image", subtype="png", filename="foto.png")
    raw = m.as_bytes()
    return b"Message-ID: " + msgid.encode("utf-8", "surrogateescape") + b"\r\n" + raw


def maildir(pool: Any, root: Path, **settings_kw: Any) -> tuple[Any, Any]:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cfg = SourceConfig(
        name="email-kota", kind="maildir", batch_size=10, options={"path": str(root)}
    )
    services = make_services(pool, settings=Settings(demo=True, sources=[cfg], **settings_kw))
    return services, build_source(cfg, services)


def drop(root: Path, name: str, raw: bytes) -> None:
    (root / "new" / f"{name}.M1P1.test").write_bytes(raw)


async def test_a_nul_in_a_message_id_does_not_stop_the_mailbox(pool, tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    services, src = maildir(pool, root)
    loop = IngestLoop(services, src)
    # Three citizens (one sender's later mail would be judged as reply or new by content).
    drop(
        root,
        "1",
        mail(
            "<ab\x00cd@evil.test>",
            "Jalan berlubang besar di depan SD 4 Menteng.",
            sender="a@desa.test",
        ),
    )
    drop(
        root,
        "2",
        mail(
            "<ok-1@desa.test>",
            "Lampu jalan di Jl. Mawar mati sejak seminggu.",
            sender="b@desa.test",
        ),
    )
    assert await loop.run_once() == 2
    drop(
        root,
        "3",
        mail(
            "<ok-2@desa.test>",
            "Sampah di pasar besar tidak diangkut tiga hari.",
            sender="c@desa.test",
        ),
    )
    assert await loop.run_once() == 1  # later mail flows on
    async with pool.acquire() as conn:
        rows = {
            r["source_ref"]: r["state"]
            for r in await conn.fetch("SELECT source_ref, state::text AS state FROM raw_items")
        }
        degraded = await conn.fetchval("SELECT degraded FROM source_state")
    assert rows == {
        "<ab\ufffdcd@evil.test>": "accepted",
        "<ok-1@desa.test>": "accepted",
        "<ok-2@desa.test>": "accepted",
    }, rows
    assert degraded is False and loop.failures == 0


async def test_a_different_message_reusing_a_message_id_is_kept_and_marked(
    pool, tmp_path: Path
) -> None:
    root = tmp_path / "Maildir"
    services, src = maildir(pool, root)
    loop = IngestLoop(services, src)
    drop(root, "1", mail("<same@desa.test>", "Jalan berlubang besar di depan SD 4 Menteng."))
    await loop.run_once()
    # Another citizen's mailer reusing the Message-ID; then a re-pull of the first mail.
    drop(
        root,
        "2",
        mail(
            "<same@desa.test>",
            "Pungutan liar di loket kelurahan Panarung.",
            sender="lain@desa.test",
        ),
    )
    drop(root, "3", mail("<same@desa.test>", "Jalan berlubang besar di depan SD 4 Menteng."))
    await loop.run_once()
    await loop.run_once()  # nothing new: a re-pull of either is recognised
    async with pool.acquire() as conn:
        raws = await conn.fetch("SELECT source_ref, meta FROM raw_items ORDER BY id")
        cs = await conn.fetch("SELECT content, flags FROM complaints ORDER BY received_at")
    assert len(raws) == 2 and raws[1]["source_ref"].startswith("<same@desa.test>#")
    assert raws[1]["meta"]["reused_ref"] == "<same@desa.test>"
    assert "different message" in raws[1]["meta"]["reused_reason"]
    assert [c["flags"] for c in cs] == [[], ["reused_message_id"]]
    assert "Pungutan liar" in cs[1]["content"]


async def test_an_image_bomb_quarantines_the_attachment_not_the_complaint_nor_the_loop(
    pool, tmp_path: Path
) -> None:
    root = tmp_path / "Maildir"
    services, src = maildir(pool, root, privacy=PrivacyConfig(image_max_pixels=1_000_000))
    big = io.BytesIO()
    Image.new("L", (3000, 3000)).save(big, format="PNG")  # 9 Mpx, a few KB compressed
    small = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(small, format="PNG")
    for i in range(3):
        drop(
            root,
            f"b{i}",
            mail(f"<bomb-{i}@desa.test>", f"Jalan rusak nomor {i} di Menteng.", png=big.getvalue()),
        )
    drop(
        root, "ok", mail("<fine@desa.test>", "Lampu jalan mati di Jl. Mawar.", png=small.getvalue())
    )
    intake = Intake(services)
    intake.router.prepare(["pemanasan"])  # the router's model loads once, at first use
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    try:
        assert await IngestLoop(services, src, intake).run_once() == 4
    finally:
        beat.cancel()
        configure_pillow(PrivacyConfig().image_max_pixels)
    assert max(gaps) < 0.5, max(gaps)
    async with pool.acquire() as conn:
        cs = await conn.fetch(
            "SELECT c.flags, count(ca.sha256) AS n FROM complaints c "
            "LEFT JOIN complaint_attachments ca ON ca.complaint_id = c.id "
            "GROUP BY c.id ORDER BY c.content"
        )
        held = await conn.fetch(
            "SELECT source_ref, reason FROM raw_items "
            "WHERE state = 'quarantined' ORDER BY source_ref"
        )
    assert len(cs) == 4
    assert sorted(c["n"] for c in cs) == [0, 0, 0, 1]
    assert sum("attachment_quarantined" in c["flags"] for c in cs) == 3
    assert [h["source_ref"] for h in held] == [
        f"<bomb-{i}@desa.test>#attachment-1" for i in range(3)
    ]
    assert all("more pixels than the 1000000 allowed" in h["reason"] for h in held), held


class _Failing(JsonLinesSource):
    async def pull(self, cursor):  # type: ignore[no-untyped-def]
        raise TransientError("connection refused")
        yield  # pragma: no cover


async def test_a_source_failing_poll_after_poll_becomes_degraded(pool) -> None:
    services = make_services(pool)
    loop = IngestLoop(
        services, _Failing(SourceConfig(name="sms", kind="jsonlines", degrade_after_failures=3))
    )
    seen = []
    for _ in range(3):
        await loop.run_once()
        async with pool.acquire() as conn:
            seen.append(await conn.fetchval("SELECT degraded FROM source_state"))
    assert seen == [False, False, True] and loop.degraded
    async with pool.acquire() as conn:
        h = await conn.fetchrow(
            "SELECT consecutive_failures, needs_human, last_error "
            "FROM component_health WHERE name = 'sms'"
        )
    assert h["consecutive_failures"] == 3 and h["needs_human"] is True
    assert "connection refused" in h["last_error"]


async def test_a_push_without_id_or_time_is_deduplicated_only_within_the_window(pool) -> None:
    async with aiohttp.ClientSession() as http:
        now = [dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC)]
        services = dataclasses.replace(make_services(pool, http=http), clock=lambda: now[0])
        src = build_source(
            SourceConfig(
                name="sms-hook", kind="sms_http", options={"secret": "s3", "dedup_window_s": 300}
            ),
            services,
        )
        port = free_port()
        runner = aiohttp.web.AppRunner(
            make_app(services, extra=[("/intake/sms-hook", src.routes())])
        )
        await runner.setup()
        await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            url = f"http://127.0.0.1:{port}/intake/sms-hook/webhook?secret=s3"
            body = {"from": "081311112222", "text": "BELUM"}
            for step in (0, 60, 600):  # a retry after a minute; a second BELUM ten later
                now[0] = dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=step)
                async with http.post(url, json=body) as r:
                    assert r.status == 200, await r.text()
        finally:
            await runner.cleanup()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM raw_items") == 2


# ---- fuzzing: random and mutated inputs through the real parsers and intake ----------------


def examples(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` inputs drawn by hypothesis (derandomised: the same ones every run)."""
    out: list[Any] = []

    @settings(max_examples=n, database=None, deadline=None, derandomize=True)
    @given(strategy)
    def collect(x: Any) -> None:
        out.append(x)

    collect()
    return out


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "insert", "cut", "nul"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(max_size=40))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 400))]
        else:
            data[at:at] = b"\x00"
    return bytes(data)


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.sampled_from(
    ["", "ANONIM", "LAPOR 1916449 ya", "SUDAH", "BELUM", "\x00", "\udcff", "💥" * 50]
)
SMS_RECORD = st.fixed_dictionaries(
    {
        "gateway": st.sampled_from(["kannel", "webhook"]),
        "sender": st.none() | st.sampled_from(["081311112222", "+62813", "TELKOMSEL", ""]) | TEXT,
        "time": st.none() | st.sampled_from(["2026-11-28T01:00:00+00:00", "not a time"]),
        "text": st.none() | TEXT,
        "udh": st.none() | st.sampled_from(["050003a10201", "zz", "0500"]),
    }
).map(lambda r: json.dumps(r).encode()) | st.binary(max_size=300)
FORM = st.tuples(
    st.dictionaries(
        st.sampled_from(
            ["isi_laporan", "nama", "telp", "nik", "email", "judul", "anonim", "website", "x"]
        ),
        TEXT,
        max_size=7,
    ),
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=b",
            "text/plain",
            "application/x-www-form-urlencoded; charset=\udcff",
        ]
    ),
)


async def _fuzz(pool: Any, src: Any, items: list[RawItem]) -> None:
    services = make_services(pool, settings=Settings(demo=True, sources=[src.cfg]))
    intake = Intake(services)
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        t0 = time.monotonic()
        r = await intake.ingest(src, Batch(items=chunk, cursor={"n": start}))
        assert time.monotonic() - t0 < 20, "a batch stalled"
        assert r.new + r.skipped == len(chunk), r
    async with pool.acquire() as conn:
        states = await conn.fetch("SELECT state::text, count(*) FROM raw_items GROUP BY 1")
    assert sum(s["count"] for s in states) > 0


async def test_fuzzed_mail_never_escapes_intake(pool, tmp_path: Path) -> None:
    _, src = maildir(pool, tmp_path / "Maildir")
    seeds = list(corpus().values())
    raws = examples(mutated(seeds) | st.binary(max_size=2000), 150)
    await _fuzz(
        pool, src, [RawItem(f"f{i}", r, content_type="message/rfc822") for i, r in enumerate(raws)]
    )


async def test_fuzzed_sms_never_escapes_intake(pool) -> None:
    services = make_services(pool)
    src = build_source(
        SourceConfig(name="sms-hook", kind="sms_http", options={"secret": "s3"}), services
    )
    raws = examples(SMS_RECORD, 200)
    await _fuzz(
        pool,
        src,
        [
            RawItem(
                f"s{i}",
                r,
                received_at=dt.datetime(2026, 11, 28, tzinfo=dt.UTC),
                content_type="application/json",
            )
            for i, r in enumerate(raws)
        ],
    )


async def test_fuzzed_forms_never_escape_intake(pool) -> None:
    services = make_services(pool)
    src = build_source(SourceConfig(name="web-kota", kind="form_http"), services)
    items = []
    for i, (fields, ctype) in enumerate(examples(FORM, 150)):
        body = urlencode(fields, encoding="utf-8", errors="surrogateescape").encode()
        items.append(RawItem(f"w{i}", body, content_type=ctype))
    items += [
        RawItem(f"m{i}", raw, content_type="multipart/form-data; boundary=b")
        for i, raw in enumerate(
            examples(
                mutated(
                    [
                        b'--b\r\nContent-Disposition: form-data; name="isi_laporan"\r\n\r\n'
                        b"Jalan rusak di Jl. Mawar sejak lama\r\n--b--\r\n"
                    ]
                ),
                60,
            )
        )
    ]
    await _fuzz(pool, src, items)


WA_RECORD = st.fixed_dictionaries(
    {
        "api": st.sampled_from(["cloud", "gateway", None]),
        "wamid": st.sampled_from(["wamid.HBgNNjI4MTI", "3EB0C767D26A", ""]) | TEXT,
        "from": st.none() | st.sampled_from(["6281234567890", "+62813", "", "abc"]) | TEXT,
        "name": st.none() | TEXT,
        "time": st.none() | st.sampled_from(["2026-11-28T01:00:00+00:00", "kemarin", "1764720000"]),
        "type": st.sampled_from(["text", "image", "location", "button", "reaction", "x", ""]),
        "text": st.none() | TEXT | st.integers(),
        "button": st.none() | st.fixed_dictionaries({"id": TEXT, "title": st.none() | TEXT}),
        "location": st.none()
        | st.fixed_dictionaries(
            {"latitude": st.floats(allow_nan=True) | TEXT, "longitude": st.floats() | TEXT}
        ),
        "media": st.lists(
            st.fixed_dictionaries(
                {
                    "mime_type": st.sampled_from(["image/jpeg", "audio/ogg", "x/y", ""]),
                    "data": st.sampled_from(["", "!!notbase64", "/9j/4AAQ"]) | TEXT,
                    "filename": st.none() | TEXT,
                }
            ),
            max_size=3,
        ),
    }
).map(lambda r: json.dumps(r).encode()) | st.binary(max_size=300)


async def test_fuzzed_whatsapp_never_escapes_intake(pool) -> None:
    """Both WhatsApp kinds parse their stored records with one function; random and
    half-broken records (wrong types, bad times, undecodable media) are quarantined or
    ignored, never an exception out of intake."""
    services = make_services(pool)
    for kind, options in (
        (
            "whatsapp_cloud",
            {
                "phone_number_id": "106540352242922",
                "access_token": "EAAG-test",
                "app_secret": "fuzz-app-secret-123456",
                "verify_token": "fuzz-verify-token",
            },
        ),
        ("whatsapp_gateway", {"secret": "fuzz-gateway-secret-123"}),
    ):
        src = build_source(
            SourceConfig(name=f"wa-{kind[9:]}", kind=kind, options=options), services
        )
        raws = examples(WA_RECORD, 150)
        await _fuzz(
            pool,
            src,
            [
                RawItem(f"{kind}-{i}", r, content_type="application/x-satukanal-whatsapp+json")
                for i, r in enumerate(raws)
            ],
        )
