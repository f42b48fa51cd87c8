from __future__ import annotations

import io
import json

import pytest

from aggregator.crypto import Crypto, generate_key
from aggregator.errors import ConfigError
from aggregator.logging import configure_logging, redact_text
from aggregator.storage.admin import rotate_reporter_keys
from schemas.config import CryptoConfig, EncryptionKey


def crypto_with(*ids_keys: tuple[str, str], hmac_key: str) -> Crypto:
    return Crypto.from_config(
        CryptoConfig(keys=[EncryptionKey(id=i, secret=k) for i, k in ids_keys], hmac_key=hmac_key)
    )


def test_encryption_binds_field_and_rotates():
    k1, k2, h = generate_key(), generate_key(), generate_key()
    old = crypto_with(("k1", k1), hmac_key=h)
    blob = old.encrypt("nik", "6271034509870001")
    assert b"6271034509870001" not in blob
    new = crypto_with(("k1", k1), ("k2", k2), hmac_key=h)
    assert new.decrypt("nik", blob) == "6271034509870001"  # old rows stay readable
    assert new.needs_rotation(blob)
    assert new.key_id_of(new.encrypt("nik", "x")) == "k2"  # new writes use the newest key
    with pytest.raises(ConfigError):
        new.decrypt("phone", blob)  # a NIK ciphertext cannot pass for a phone
    assert old.match_hash("email", "Warga@Mail.ID ") == new.match_hash("email", "warga@mail.id")


async def test_keys_rotate_reencrypts_every_reporter(pool):
    k1, k2, h = generate_key(), generate_key(), generate_key()
    old = crypto_with(("k1", k1), hmac_key=h)
    async with pool.acquire() as conn:
        for i in range(7):
            await conn.execute(
                "INSERT INTO reporters (id, key_id, phone_enc, email_enc) "
                "VALUES (gen_random_uuid(), 'k1', $1, $2)",
                old.encrypt("phone", f"+62811000000{i}"),
                old.encrypt("email", f"w{i}@desa.id"),
            )
        new = crypto_with(("k1", k1), ("k2", k2), hmac_key=h)
        assert await rotate_reporter_keys(conn, new, batch=3) == 7
        rows = await conn.fetch("SELECT key_id, phone_enc, email_enc FROM reporters")
        assert {r["key_id"] for r in rows} == {"k2"}
        only_new = crypto_with(("k2", k2), hmac_key=h)
        phones = sorted(only_new.decrypt("phone", r["phone_enc"]) for r in rows)
        assert phones[0] == "+628110000000"
        assert await rotate_reporter_keys(conn, new) == 0  # resumable: nothing left


def test_redaction_of_text():
    text = (
        "Pelapor Budi (budi.s@gmail.com, 0812-3456-7890, +62 813 1111 2222, 6281355556666) "
        "NIK 6271034509870001 melapor"
    )
    out = redact_text(text)
    for secret in (
        "budi.s@gmail.com",
        "0812-3456-7890",
        "+62 813 1111 2222",
        "6281355556666",
        "6271034509870001",
    ):
        assert secret not in out
    assert "[email]" in out and "[nik]" in out and "[phone]" in out
    assert redact_text("tracking 1916449 pada 2026-11-28") == "tracking 1916449 pada 2026-11-28"


def test_every_log_field_is_redacted_as_json():
    import structlog

    buf = io.StringIO()
    configure_logging("info", "json", stream=buf)
    structlog.get_logger("t").info(
        "complaint_ingested",
        sender="warga@example.org",
        extra={"nested": ["hubungi 081299998888"]},
        error=ValueError("NIK 6271034509870001 salah"),
    )
    line = json.loads(buf.getvalue().strip())
    assert line["event"] == "complaint_ingested"
    dumped = json.dumps(line)
    assert "warga@example.org" not in dumped and "081299998888" not in dumped
    assert "6271034509870001" not in dumped


def test_console_logs_carry_no_colour_codes_off_a_terminal() -> None:
    import io

    import structlog

    from aggregator.logging import configure_logging

    buf = io.StringIO()
    configure_logging("info", "console", buf)  # tests/conftest.py restores the config
    structlog.get_logger().info("demo_started", dashboard="http://127.0.0.1:8470/")
    line = buf.getvalue()
    assert "demo_started" in line and "dashboard=http://127.0.0.1:8470/" in line
    assert "\x1b[" not in line
