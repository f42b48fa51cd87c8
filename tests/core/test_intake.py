from __future__ import annotations

import json

from aggregator.intake import Intake
from aggregator.intake.sealing import open_payload
from connectors.base import Batch, RawItem
from schemas.config import SourceConfig
from tests.core.helpers import JsonLinesSource, make_services


def _line(**kw: object) -> bytes:
    return json.dumps(kw).encode()


async def test_batch_becomes_complaints_jobs_and_cursor_in_one_go(pool):
    services = make_services(pool)
    src = JsonLinesSource(
        SourceConfig(name="sms-test", kind="jsonlines", agency="DISHUB"),
        [
            _line(text="Lampu jalan di Jl. Yos Sudarso mati sejak seminggu", phone="081234567890"),
            b"\xff\xfe not json",
            _line(ignore="promo from operator"),
            _line(
                text="Lampu jalan di Jl. Yos Sudarso mati sejak seminggu", phone="0812-3456-7890"
            ),
        ],
    )
    intake = Intake(services)
    total = []
    async for batch in src.pull(None):
        total.append(await intake.ingest(src, batch))
    r = total[0]
    assert (r.new, r.complaints, r.duplicates, r.quarantined, r.ignored) == (4, 2, 1, 1, 1)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT state, reason, payload, payload_key FROM raw_items ORDER BY id"
        )
        assert [x["state"] for x in rows] == ["accepted", "quarantined", "ignored", "duplicate"]
        # original bytes kept, encrypted at rest with the newest key
        assert rows[1]["payload"] != b"\xff\xfe not json"
        assert rows[1]["payload_key"] == services.crypto.current_id
        assert open_payload(services.crypto, rows[1]["payload"], rows[1]["payload_key"]) == (
            b"\xff\xfe not json"
        )
        assert all(b"081234567890" not in bytes(x["payload"]) for x in rows)
        assert "not JSON" in rows[1]["reason"]
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE kind='push'") == 1
        cur = await conn.fetchval("SELECT cursor FROM source_state WHERE source='sms-test'")
        assert cur == {"pos": 4}
        rep = await conn.fetchrow("SELECT phone_enc, phone_hash FROM reporters LIMIT 1")
        assert b"0812" not in rep["phone_enc"] and b"+62812" not in rep["phone_enc"]
        assert services.crypto.decrypt("phone", rep["phone_enc"]) == "081234567890"
        c = await conn.fetchrow("SELECT source_agency, agency_id, title FROM complaints LIMIT 1")
        assert c["source_agency"] == "DISHUB" and c["agency_id"] == "DISHUB"
        assert c["title"].startswith("Lampu jalan")
    # A re-pull of the same items changes nothing.
    again = await intake.ingest(src, Batch(items=[RawItem("line-0", b"{}")], cursor={"pos": 4}))
    assert again.skipped == 1 and again.new == 0


class _NanOriginSource(JsonLinesSource):
    """Drafts whose origin holds NaN when the text says so: jsonb refuses NaN."""

    def parse(self, item: RawItem):  # type: ignore[no-untyped-def]
        d = super().parse(item)
        if b"NAN" in item.payload:
            d = d.model_copy(update={"origin": {"x": float("nan")}})
        return d


async def test_a_value_the_database_refuses_quarantines_only_that_item(pool):
    services = make_services(pool)
    src = _NanOriginSource(SourceConfig(name="s", kind="jsonlines"))
    texts = [f"Jalan berlubang nomor {i} di depan sekolah dasar negeri" for i in range(7)]
    items = [RawItem(f"ok{i}", _line(text=t)) for i, t in enumerate(texts)]
    # A NUL in the reference and the metadata is made storable (U+FFFD); a value PostgreSQL
    # still refuses (NaN in jsonb) quarantines that one item: the batch is split around it.
    items.insert(
        3,
        RawItem(
            "nul\x00ref",
            _line(text="Sampah menumpuk di pasar besar"),
            meta={"x": "\u0000", "k\x00": ["\udcff"]},
        ),
    )
    items.insert(5, RawItem("bad", _line(text="NAN di teks pengaduan jalan rusak parah")))
    r = await Intake(services).ingest(src, Batch(items=items, cursor={"pos": 9, "f": "a\x00"}))
    assert r.complaints == 8 and r.quarantined == 1
    async with pool.acquire() as conn:
        states = dict(await conn.fetch("SELECT source_ref, state::text FROM raw_items"))
        assert states == {
            **{f"ok{i}": "accepted" for i in range(7)},
            "nul\ufffdref": "accepted",
            "bad": "quarantined",
        }
        meta = await conn.fetchval("SELECT meta FROM raw_items WHERE source_ref = 'nul\ufffdref'")
        assert meta == {"x": "\ufffd", "k\ufffd": ["\ufffd"]}
        reason = await conn.fetchval("SELECT reason FROM raw_items WHERE source_ref = 'bad'")
        assert reason.startswith("could not be stored")
        assert await conn.fetchval("SELECT cursor FROM source_state") == {"pos": 9, "f": "a\ufffd"}


async def test_reply_by_tracking_id_goes_up_not_as_new_complaint(pool):
    services = make_services(pool)
    src = JsonLinesSource(SourceConfig(name="s", kind="jsonlines"))
    intake = Intake(services)
    r = await intake.ingest(
        src,
        Batch(
            items=[
                RawItem(
                    "1",
                    _line(
                        text="Saluran air tersumbat di RT 03 Kelurahan Panarung",
                        phone="081300000001",
                    ),
                )
            ],
            cursor={},
        ),
    )
    cid = r.complaint_ids[0]
    async with pool.acquire() as conn:
        await conn.execute("UPDATE complaints SET lapor_tracking_id='1916449' WHERE id=$1", cid)
    r2 = await intake.ingest(
        src,
        Batch(
            items=[
                RawItem(
                    "2",
                    _line(
                        reply_to="1916449",
                        text="Sudah dua minggu belum ada petugas datang",
                        phone="081300000001",
                    ),
                )
            ],
            cursor={},
        ),
    )
    assert r2.replies == 1 and r2.complaints == 0
    r3 = await intake.ingest(
        src,
        Batch(
            items=[RawItem("3", _line(reply_to="999", text="balasan untuk nomor yang tidak ada"))],
            cursor={},
        ),
    )
    assert r3.quarantined == 1
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE kind='reply_up'") == 1
        assert await conn.fetchval("SELECT count(*) FROM complaints") == 1
