"""Receipt codes: what a citizen of a channel without replies keeps to follow a complaint.

A code is 10 Crockford base-32 characters (50 random bits, ``ABCDE-12345``): unguessable,
naming nothing personal, and forgiving when typed back (``O``/``I``/``L`` read as digits).
The core's public status page (``/status/<code>``) finds a complaint by its source and the
``receipt_code`` in its origin.
"""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_receipt_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_code(code: str) -> str | None:
    c = code.strip().upper().replace("-", "").replace("O", "0").replace("I", "1").replace("L", "1")
    if len(c) != 10 or any(ch not in _ALPHABET for ch in c):
        return None
    return f"{c[:5]}-{c[5:]}"


def sunset_text(tracking_id: str | None = None) -> str:
    """What a channel being retired tells its citizens (on its pages and the status page)."""
    tail = (
        f" Tracking ID LAPOR! Anda: #{tracking_id}."
        if tracking_id
        else " Tracking ID LAPOR! Anda akan tampil di halaman status."
    )
    return (
        "Formulir ini segera dihentikan dan digantikan oleh SP4N-LAPOR! "
        "(www.lapor.go.id, SMS 1708). Untuk pengaduan berikutnya gunakan SP4N-LAPOR!." + tail
    )
