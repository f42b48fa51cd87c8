"""The intake spool holds what citizens sent while PostgreSQL is away (a form post with a
name, NIK and phone; an SMS with its sender): encrypted with the reporters' keys like the
raw originals, still read when a version before wrote it in plaintext, and re-encrypted by
``keys rotate`` so an old key can go."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from pathlib import Path

from aggregator.crypto import Crypto, generate_key
from aggregator.intake.spool import Spool, _encode
from connectors.base import Batch, RawItem
from schemas.config import CryptoConfig, EncryptionKey

NAME, NIK, PHONE = "Yohanes Dambung", "6271011503900001", "+6281288877766"


def crypto_with(*ids_keys: tuple[str, str], hmac_key: str) -> Crypto:
    return Crypto.from_config(
        CryptoConfig(keys=[EncryptionKey(id=i, secret=k) for i, k in ids_keys], hmac_key=hmac_key)
    )


def _batch(ref: str) -> Batch:
    post = f"nama={NAME}&nik={NIK}&telp=081288877766&isi=Sampah+menumpuk".encode()
    return Batch(items=[RawItem(ref, post, meta={"reply_to": PHONE})], cursor=None)


def _plain_anywhere(blob: bytes) -> bool:
    """An identity in ``blob``, as it is or in a base64 token (the payload's form in JSON)."""
    texts = [blob]
    for token in re.findall(rb"[A-Za-z0-9+/=]{16,}", blob):
        with contextlib.suppress(ValueError):
            texts.append(base64.b64decode(token + b"=" * (-len(token) % 4)))
    needles = (NAME, NIK, PHONE, "081288877766")
    return any(n.encode() in t for t in texts for n in needles)


def test_spooled_batches_are_sealed_read_back_and_rotated(tmp_path: Path) -> None:
    k1, k2, h = generate_key(), generate_key(), generate_key()
    old = crypto_with(("k1", k1), hmac_key=h)
    spool = Spool(tmp_path / "spool", max_bytes=10_000_000, crypto=old)
    asyncio.run(spool.put("web-form", _batch("a")))
    # A batch an older version spooled in plaintext, and one set aside in failed/.
    (tmp_path / "spool" / "00000000000000000001-legacy.json").write_bytes(
        _encode("web-form", _batch("b"))
    )
    failed = tmp_path / "spool-failed"
    failed.mkdir()
    (failed / "00000000000000000002-aside.json").write_bytes(_encode("web-form", _batch("c")))

    assert _plain_anywhere((tmp_path / "spool" / "00000000000000000001-legacy.json").read_bytes())
    sealed = [p for p in spool.pending() if p.suffix == ".sealed"]
    assert len(sealed) == 1 and not _plain_anywhere(sealed[0].read_bytes())
    refs = [spool.load(p)[1].items[0].source_ref for p in spool.pending()]
    assert refs == ["b", "a"]  # oldest first, whatever the format
    name, batch = spool.load(sealed[0])
    assert name == "web-form" and batch.items[0].meta == {"reply_to": PHONE}

    new = crypto_with(("k1", k1), ("k2", k2), hmac_key=h)
    rotating = Spool(tmp_path / "spool", max_bytes=10_000_000, crypto=new)
    assert rotating.rotate() == 3
    assert rotating.rotate() == 0
    files = [*rotating.pending(), *failed.iterdir()]
    assert sorted(p.suffix for p in files) == [".sealed"] * 3
    for path in files:
        assert not _plain_anywhere(path.read_bytes()), path
    only_new = Spool(
        tmp_path / "spool", max_bytes=10_000_000, crypto=crypto_with(("k2", k2), hmac_key=h)
    )
    assert sorted(only_new.load(p)[1].items[0].source_ref for p in only_new.pending()) == [
        "a",
        "b",
    ]
    assert json.loads(json.dumps(only_new.depth())) == {"items": 2, "bytes": only_new.bytes}
