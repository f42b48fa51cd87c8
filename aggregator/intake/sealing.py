"""Raw originals and reply addresses at rest: encrypted with the reporters' keys.

A raw item's payload is the whole original (a form post with the reporter's fields, an SMS
with its sender, a whole e-mail with its photos), so it is stored as ciphertext under the
newest key (``raw_items.payload_key`` names it; NULL marks a row written before encryption,
which ``satukanal keys rotate`` encrypts). The metadata keys that name a person
(``reply_to``) are moved into ``<key>_enc`` values sealed the same way. Everything that reads a
raw item back (replay, the quarantine view, the CLI) goes through :func:`open_raw`.
"""

from __future__ import annotations

from typing import Any

from aggregator.crypto import Crypto

PAYLOAD_FIELD = "raw_payload"
# Metadata keys that hold a person's address; sealed as "<key>_enc".
SEALED_META_KEYS = ("reply_to", "sender", "from")


def seal_payload(crypto: Crypto, payload: bytes) -> bytes:
    return crypto.encrypt_bytes(PAYLOAD_FIELD, payload)


def open_payload(crypto: Crypto, payload: bytes, payload_key: str | None) -> bytes:
    """The original bytes; a row from before encryption (``payload_key`` NULL) as it is."""
    if payload_key is None:
        return bytes(payload)
    return crypto.decrypt_bytes(PAYLOAD_FIELD, payload)


def seal_meta(crypto: Crypto, meta: dict[str, Any]) -> dict[str, Any]:
    out = dict(meta)
    for key in SEALED_META_KEYS:
        value = out.pop(key, None)
        if value not in (None, ""):
            out[f"{key}_enc"] = crypto.seal_value(f"meta.{key}", str(value))
    return out


def open_meta(crypto: Crypto, meta: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(meta or {})
    for key in SEALED_META_KEYS:
        sealed = out.pop(f"{key}_enc", None)
        if sealed is not None:
            out[key] = crypto.open_value(f"meta.{key}", sealed)
    return out


def seal_job_payload(crypto: Crypto, payload: dict[str, Any]) -> dict[str, Any]:
    """A job's payload with its ``address`` (a phone or e-mail) sealed: dead jobs are shown
    to operators and kept for weeks."""
    if not payload.get("address"):
        return payload
    out = dict(payload)
    out["address_enc"] = crypto.seal_value("job.address", str(out.pop("address")))
    return out


def job_address(crypto: Crypto, payload: dict[str, Any]) -> str | None:
    if payload.get("address_enc") is not None:
        return crypto.open_value("job.address", payload["address_enc"])
    address = payload.get("address")  # a job enqueued before sealing
    return str(address) if address else None


def rotate_sealed(crypto: Crypto, field: str, sealed: Any) -> Any:
    value = crypto.open_value(field, sealed)
    return sealed if value is None else crypto.seal_value(field, value)


BODY_FIELD = "notification.body"


def seal_body(crypto: Crypto, text: str | None) -> bytes | None:
    """A notification's text as sent (it greets the reporter by name), encrypted."""
    return None if text is None else crypto.encrypt_bytes(BODY_FIELD, text.encode())


def open_body(crypto: Crypto, row: Any) -> str | None:
    """A notifications row's text: ``body_enc`` decrypted, or ``body`` of an older row."""
    if row["body_enc"] is not None:
        return crypto.decrypt_bytes(BODY_FIELD, row["body_enc"]).decode()
    body: str | None = row["body"]
    return body
