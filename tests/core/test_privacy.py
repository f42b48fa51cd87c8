"""Issue 13: key rotation over every sealed column, the purge job and `forget`."""

from __future__ import annotations

import dataclasses
import json
import uuid

from aggregator.crypto import Crypto, generate_key
from aggregator.intake import Intake
from aggregator.intake.sealing import job_address, open_body, open_meta, open_payload
from aggregator.retention import PurgeLoop
from aggregator.storage.privacy import forget, purge, rotate_sealed_data
from connectors.base import Batch, RawItem
from schemas.config import CryptoConfig, EncryptionKey, RetentionConfig, SourceConfig
from tests.core.helpers import JsonLinesSource, make_services

PHONE = "081234567890"


def _line(**kw: object) -> bytes:
    return json.dumps(kw).encode()


def crypto_with(*ids_keys: tuple[str, str], hmac_key: str) -> Crypto:
    return Crypto.from_config(
        CryptoConfig(keys=[EncryptionKey(id=i, secret=k) for i, k in ids_keys], hmac_key=hmac_key)
    )


async def _ingest(services, items: list[RawItem]) -> list[uuid.UUID]:
    src = JsonLinesSource(SourceConfig(name="sms", kind="jsonlines"))
    r = await Intake(services).ingest(src, Batch(items=items, cursor={"pos": len(items)}))
    return r.complaint_ids


async def test_rotation_reaches_raw_originals_bodies_jobs_and_rows_from_before(pool):
    k1, k2, h = generate_key(), generate_key(), generate_key()
    services = dataclasses.replace(make_services(pool), crypto=crypto_with(("k1", k1), hmac_key=h))
    await _ingest(
        services,
        [
            RawItem(
                "a",
                _line(text="Lampu jalan mati di Jl. Mawar sejak lama", phone=PHONE),
                meta={"reply_to": "+6281234567890"},
            ),
            RawItem(
                "b",
                _line(
                    text="ANONIM pungli di kelurahan, saksi 0813-9988-7766",
                    phone="081311112222",
                    anonymous=True,
                ),
            ),
        ],
    )
    async with pool.acquire() as conn:
        # What an older version left: a plaintext original, body and job address.
        await conn.execute(
            "INSERT INTO raw_items (source, source_ref, payload, meta, state) "
            "VALUES ('sms', 'old', $1, '{\"reply_to\": \"+6281200000001\"}', 'ignored')",
            b"plaintext original +6281200000001",
        )
        await conn.execute(
            "INSERT INTO notifications (id, kind, channel, source, body) "
            "VALUES (gen_random_uuid(), 'usage', 'sms', 'sms', 'Yth. Bapak Budi')"
        )
        await conn.execute(
            "INSERT INTO jobs (kind, payload) VALUES ('notify', "
            '\'{"event": "usage", "address": "+6281200000001"}\')'
        )
        new = crypto_with(("k1", k1), ("k2", k2), hmac_key=h)
        done = await rotate_sealed_data(conn, new, batch=2)
        assert done == {"raw_items": 3, "notifications": 1, "jobs": 1, "complaints": 1}
        assert await rotate_sealed_data(conn, new) == {
            "raw_items": 0,
            "notifications": 0,
            "jobs": 0,
            "complaints": 0,
        }  # resumable
        only_new = crypto_with(("k2", k2), hmac_key=h)
        raws = {r["source_ref"]: r for r in await conn.fetch("SELECT * FROM raw_items")}
        assert {r["payload_key"] for r in raws.values()} == {"k2"}
        assert b"+6281200000001" not in bytes(raws["old"]["payload"])
        assert open_payload(only_new, raws["old"]["payload"], "k2") == (
            b"plaintext original +6281200000001"
        )
        assert open_meta(only_new, raws["old"]["meta"]) == {"reply_to": "+6281200000001"}
        assert open_meta(only_new, raws["a"]["meta"]) == {"reply_to": "+6281234567890"}
        n = await conn.fetchrow("SELECT body, body_enc, body_key FROM notifications")
        assert n["body"] is None and n["body_key"] == "k2"
        assert open_body(only_new, n) == "Yth. Bapak Budi"
        job = await conn.fetchval("SELECT payload FROM jobs WHERE payload ? 'address_enc'")
        assert "address" not in job and job_address(only_new, job) == "+6281200000001"
        origin = await conn.fetchval("SELECT origin FROM complaints WHERE anonymous")
        assert origin["original_text"]["k"] == "k2"
        original = json.loads(
            only_new.open_value("complaint.original_text", origin["original_text"])
        )
        assert "0813-9988-7766" in original["content"]
        content = await conn.fetchval("SELECT content FROM complaints WHERE anonymous")
        assert "0813-9988-7766" not in content and "[telepon]" in content


async def test_purge_applies_each_retention_period(pool):
    services = make_services(pool)
    final, fresh = await _ingest(
        services,
        [
            RawItem("a", _line(text="Jalan berlubang di depan SD 4 sejak lama", phone=PHONE)),
            RawItem("b", _line(text="Sampah menumpuk di pasar besar sejak kemarin", phone=PHONE)),
            RawItem("c", b"not json at all"),
        ],
    )
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE complaints SET status = 'selesai', status_at = now() - "
            "interval '100 days' WHERE id = $1",
            final,
        )
        await conn.execute(
            "UPDATE raw_items SET ingested_at = now() - interval '200 days' WHERE source_ref = 'c'"
        )
        await conn.execute(
            "INSERT INTO notifications (id, complaint_id, kind, channel, source, body_enc, "
            "sent_at) VALUES (gen_random_uuid(), $1, 'ack', 'sms', 'sms', '\\x01', "
            "now() - interval '91 days'), (gen_random_uuid(), $2, 'ack', 'sms', 'sms', "
            "'\\x01', now())",
            final,
            fresh,
        )
        await conn.execute(
            "UPDATE jobs SET state = 'done', finished_at = now() - interval '31 days'"
        )
        await conn.execute(
            "INSERT INTO access_log (at, actor, action, subject) VALUES "
            "(now() - interval '800 days', 'a', 'raw_revealed', 'raw_item:1')"
        )
        done = await purge(conn, RetentionConfig())
        assert done == {
            "raw_originals": 1,
            "quarantined": 1,
            "notification_bodies": 1,
            "jobs": 2,
            "sessions": 0,
            "access_log": 1,
        }
        raws = {
            r["source_ref"]: r
            for r in await conn.fetch("SELECT source_ref, payload, purged_at FROM raw_items")
        }
        assert set(raws) == {"a", "b"}  # the old quarantined item is gone
        assert bytes(raws["a"]["payload"]) == b"" and raws["a"]["purged_at"] is not None
        assert bytes(raws["b"]["payload"]) != b"" and raws["b"]["purged_at"] is None
        assert (
            await conn.fetchval("SELECT count(*) FROM notifications WHERE body_enc IS NOT NULL")
            == 1
        )
        # 0 keeps forever; the loop purges on its first round, then waits its interval.
        assert set((await purge(conn, RetentionConfig(raw_originals_days=0))).values()) == {0}
    loop = PurgeLoop(services)
    assert await loop.run_once() == 0 and loop._last is not None
    assert await loop.run_once() == 0


async def test_forget_erases_a_person_and_keeps_an_identity_free_record(pool):
    services = make_services(pool)
    mine, other = await _ingest(
        services,
        [
            RawItem(
                "a",
                _line(
                    text="Jalan rusak, hubungi saya di 0812-3456-7890 atau budi@warga.test",
                    phone=PHONE,
                    name="Budi Santoso",
                ),
                meta={"reply_to": "+6281234567890"},
            ),
            RawItem(
                "b",
                _line(
                    text="Sampah menumpuk di pasar besar sejak kemarin",
                    phone="081299998888",
                    name="Siti",
                ),
            ),
        ],
    )
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO jobs (kind, complaint_id, payload) VALUES ('notify', $1, "
            '\'{"event": "usage", "address": "+6281234567890"}\')',
            mine,
        )
        await conn.execute(
            "INSERT INTO notifications (id, complaint_id, kind, channel, source, body_enc) "
            "VALUES (gen_random_uuid(), $1, 'ack', 'sms', 'sms', '\\x01')",
            mine,
        )
        done = await forget(conn, services.crypto, actor="cli:test", reporter="0812 3456 7890")
        assert done == {
            "complaints": 1,
            "raw_items": 1,
            "notifications": 1,
            "jobs": 1,
            "events": 0,
            "replies": 0,
            "attachments": 0,
            "reporters": 1,
        }
        c = await conn.fetchrow(
            "SELECT reporter_id, content, erased_at, status::text FROM complaints WHERE id = $1",
            mine,
        )
        assert c["reporter_id"] is None and c["erased_at"] is not None
        assert "0812" not in c["content"] and "budi@" not in c["content"]
        assert "Jalan rusak" in c["content"] and c["status"] == "received"
        raw = await conn.fetchrow(
            "SELECT payload, meta FROM raw_items WHERE complaint_id = $1", mine
        )
        assert bytes(raw["payload"]) == b"" and raw["meta"] == {}
        assert await conn.fetchval("SELECT count(*) FROM reporters") == 1  # Siti's stays
        assert (
            await conn.fetchval("SELECT reporter_id FROM complaints WHERE id = $1", other)
            is not None
        )
        log = await conn.fetchrow("SELECT actor, action, subject, detail FROM access_log")
        assert (log["actor"], log["action"], log["subject"]) == (
            "cli:test",
            "erased",
            f"complaint:{mine}",
        )
        assert "Budi" not in json.dumps(log["detail"]) and "0812" not in json.dumps(log["detail"])
        # By complaint id: the other one and its reporter.
        done = await forget(conn, services.crypto, actor="cli:test", complaint=other)
        assert done["complaints"] == 1 and done["reporters"] == 1
        assert await conn.fetchval("SELECT count(*) FROM reporters") == 0
        nothing = await forget(conn, services.crypto, actor="cli:test", reporter="x@y.test")
        assert nothing["complaints"] == 0 and nothing["reporters"] == 0


async def test_wamids_stored_before_are_rewritten_to_the_digests_the_connector_keeps(pool):
    """Rows from before 0170 held Meta's wamids (base64 of the citizen's number); the
    migration rewrites them to exactly what the connector now stores, so a message Meta
    re-delivers after the upgrade is still known."""
    from aggregator.storage.migrate import available
    from connectors.whatsapp.parser import message_ref

    wamid = "wamid.HBgNNjI4MTIzNDUwMDAxMRUCABIYFDNBMDEyMzQ1Njc4OUFCQ0RFRjAA"
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO raw_items (source, source_ref, payload, state) VALUES "
            "('wa', $1, '\\x00', 'accepted'), ('wa', $2, '\\x00', 'quarantined'), "
            "('sms', 'gammu:17', '\\x00', 'accepted')",
            f"wa:{wamid}",
            f"wa:{wamid}#attachment-1",
        )
        await conn.execute(
            "INSERT INTO notifications (id, kind, channel, source, external_id) "
            "VALUES (gen_random_uuid(), 'ack', 'whatsapp', 'wa', $1)",
            wamid,
        )
        await conn.execute(
            "INSERT INTO complaints (id, source, channel, status, content, received_at, origin) "
            "VALUES (gen_random_uuid(), 'wa', 'whatsapp', 'received', 'x', now(), $1)",
            {"api": "cloud", "wamid": wamid},
        )
        migration = next(m for m in available() if m.version == 170)
        await conn.execute(migration.sql)
        refs = [r["source_ref"] for r in await conn.fetch("SELECT source_ref FROM raw_items")]
        external = await conn.fetchval("SELECT external_id FROM notifications")
        origin = json.loads(await conn.fetchval("SELECT origin::text FROM complaints"))
    assert sorted(refs) == sorted(
        [message_ref(wamid), message_ref(wamid) + "#attachment-1", "gammu:17"]
    )
    assert external == message_ref(wamid)
    assert origin == {"api": "cloud", "message_ref": message_ref(wamid)}


async def test_forget_reaches_the_parts_of_a_burst_kept_in_the_timeline(pool):
    """A reporter's later SMS joined onto their complaint (a burst) is kept in the timeline
    as it came (``burst_merged``); `forget` erases what identifies them there too, as it
    does in the complaint's text."""
    from schemas.config import Settings
    from tests.judgement.test_followon import PhoneSource

    services = make_services(pool, settings=Settings(demo=True))
    src = PhoneSource(SourceConfig(name="sms", kind="jsonlines"))
    for n, text in enumerate(
        ["Lampu jalan di Jl. Melati mati semua sejak lama", "hubungi saya di 0813-7777-6666"]
    ):
        item = RawItem(f"p{n}", _line(text=text, phone=PHONE))
        src.items.append(item)
        await Intake(services).ingest(src, Batch(items=[item], cursor={"pos": n + 1}))
    async with pool.acquire() as conn:
        merged = await conn.fetchval("SELECT count(*) FROM events WHERE kind = 'burst_merged'")
        assert merged == 1
        await forget(conn, services.crypto, actor="cli:test", reporter=PHONE)
        kept = await conn.fetchval(
            "SELECT concat_ws(' | ', (SELECT string_agg(data::text, ' ') FROM events),"
            " (SELECT string_agg(content, ' ') FROM complaints))"
        )
    assert "Jl. Melati" in kept
    for typed in ("0813-7777-6666", "081377776666"):
        assert typed not in kept, kept
