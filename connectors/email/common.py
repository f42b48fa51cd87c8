"""What the IMAP and Maildir sources share: source references and the parse hook."""

from __future__ import annotations

import hashlib
import re

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(
    rb"^Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]{3,400}>)", re.IGNORECASE | re.MULTILINE
)


def source_ref(raw: bytes) -> str:
    """The Message-ID, else a content hash: stable across re-pulls and UIDVALIDITY changes,
    so intake's (source, source_ref) uniqueness makes a rescan duplicate nothing."""
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw[:65536]
    m = _MESSAGE_ID.search(head)
    if m:
        return m.group(1).decode("ascii", "replace")
    return "sha256:" + hashlib.sha256(raw).hexdigest()
