"""Identity protection at intake: encrypt reporters (photos: aggregator/intake/images.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aggregator.crypto import Crypto
from aggregator.intake.normalize import normalize_phone
from schemas.complaint import Reporter


@dataclass(frozen=True)
class SealedReporter:
    id: uuid.UUID
    key_id: str
    name_enc: bytes | None
    email_enc: bytes | None
    phone_enc: bytes | None
    nik_enc: bytes | None
    email_hash: bytes | None
    phone_hash: bytes | None
    nik_hash: bytes | None
    nik_valid: bool | None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # By its constructor: a frozen dataclass's default unpickling is several times
        # slower, and a backfill's workers send one per complaint.
        return (
            SealedReporter,
            (
                self.id,
                self.key_id,
                self.name_enc,
                self.email_enc,
                self.phone_enc,
                self.nik_enc,
                self.email_hash,
                self.phone_hash,
                self.nik_hash,
                self.nik_valid,
            ),
        )


def phone_key(phone: str | None) -> str | None:
    """The form a phone is matched in: E.164 when it parses, else as given."""
    return normalize_phone(phone) or phone


def seal(crypto: Crypto, reporter: Reporter) -> SealedReporter:
    return SealedReporter(
        id=uuid.uuid4(),
        key_id=crypto.current_id,
        name_enc=crypto.encrypt("name", reporter.name),
        email_enc=crypto.encrypt("email", reporter.email),
        phone_enc=crypto.encrypt("phone", reporter.phone or reporter.phone_raw),
        nik_enc=crypto.encrypt("nik", reporter.nik),
        email_hash=crypto.match_hash("email", reporter.email),
        phone_hash=crypto.match_hash("phone", phone_key(reporter.phone or reporter.phone_raw)),
        nik_hash=crypto.match_hash("nik", reporter.nik),
        nik_valid=reporter.nik_valid,
    )
