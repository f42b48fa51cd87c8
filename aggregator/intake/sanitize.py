"""Values PostgreSQL refuses, made storable.

``text`` and ``jsonb`` cannot hold NUL (U+0000) and no PostgreSQL string can hold a lone
surrogate (what ``surrogateescape`` decoding leaves behind): either one in a Message-ID, a
header or a form field made the whole batch fail. They are replaced by U+FFFD, so the item is
stored (or quarantined) under a reference an operator can read and type.
"""

from __future__ import annotations

import re
from typing import Any

_REFUSED = re.compile(r"[\x00\ud800-\udfff]")


def safe_text(value: str) -> str:
    if not isinstance(value, str):
        return value
    return _REFUSED.sub("\ufffd", value)


def json_safe(value: Any) -> Any:
    """A JSON-able value with every string (keys too) made storable."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
