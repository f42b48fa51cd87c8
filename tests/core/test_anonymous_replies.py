"""An anonymous reporter's later messages keep the anonymity of their complaint: the phone,
NIK and e-mail typed into a reply or a burst message are redacted before LAPOR! or an agency
could read them, as the complaint's own text is."""

from __future__ import annotations

import json

from aggregator.intake import Intake
from connectors.base import Batch, RawItem
from schemas.config import SourceConfig
from tests.core.helpers import JsonLinesSource, make_services

PHONE = "+6281234567890"
TYPED = "hubungi saya di 0813-5555-7777 atau budi.s@contoh.id, NIK 6271034506780001"


async def _ingest(intake: Intake, src: JsonLinesSource, ref: str, **line: object) -> None:
    item = RawItem(source_ref=ref, payload=json.dumps(line).encode())
    await intake.ingest(src, Batch(items=[item], cursor=None))


async def test_an_anonymous_reporters_reply_is_redacted_a_named_ones_is_not(pool) -> None:
    services = make_services(pool)
    intake = Intake(services)
    src = JsonLinesSource(SourceConfig(name="sms", kind="jsonlines", agency="55"))
    await _ingest(
        intake,
        src,
        "a1",
        text="Pungli di loket KTP kelurahan Panarung, diminta Rp 50.000",
        phone=PHONE,
        anonymous=True,
    )
    await _ingest(
        intake, src, "n1", text="Jalan berlubang di Jl. Beliang depan SDN 4", phone="+6281311112222"
    )
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE complaints SET lapor_tracking_id = CASE WHEN anonymous"
            " THEN '1916500' ELSE '1916501' END"
        )
    await _ingest(intake, src, "a2", reply_to="1916500", text=TYPED, phone=PHONE)
    await _ingest(intake, src, "n2", reply_to="1916501", text=TYPED, phone="+6281311112222")
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT c.anonymous, r.text FROM reporter_replies r"
            " JOIN complaints c ON c.id = r.complaint_id ORDER BY c.anonymous"
        )
    named, anonymous = rows
    assert not named["anonymous"] and named["text"] == TYPED  # a named reporter's own words
    assert anonymous["anonymous"]
    for pii in ("0813-5555-7777", "budi.s@contoh.id", "6271034506780001"):
        assert pii not in anonymous["text"]
    assert "[telepon]" in anonymous["text"] and "[email]" in anonymous["text"]
    assert "[nik]" in anonymous["text"]


async def test_the_cli_shows_an_anonymous_original_masked(tmp_path, db_dsn, pool) -> None:
    from tests.forms.helpers import run_cli, write_operator_config

    services = make_services(pool)
    src = JsonLinesSource(SourceConfig(name="sms", kind="jsonlines", agency="55"))
    await _ingest(
        Intake(services),
        src,
        "a1",
        text="Pungli di loket KTP, " + TYPED,
        phone=PHONE,
        anonymous=True,
    )
    async with pool.acquire() as conn:
        raw = await conn.fetchval("SELECT id FROM raw_items")
    proc = await run_cli(
        write_operator_config(tmp_path, db_dsn, ""), "quarantine", "show", str(raw)
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    shown = out.decode()
    assert "Pungli di loket KTP" in shown
    for pii in ("0813-5555-7777", "budi.s@contoh.id", "6271034506780001", "81234567890"):
        assert pii not in shown, pii
