"""The receipt code is the citizen's secret: staff see that one exists, never the code.

A receipt code (``ABCDE-12345``, connectors/base/receipts.py) is the only credential of a
form citizen on the status page's reply form. Whoever else learns it can answer *as the
reporter* (an agency closing its own complaint), so no API route, dashboard page, CLI view,
export, event or log line shows it. Storage keeps it (the status page looks it up); every
view of stored data passes through these helpers.
"""

from __future__ import annotations

import re
from typing import Any

# Crockford base-32, 5-5, as issued; also the hyphen-less form a citizen may type.
_CODE = r"[0-9A-HJKMNP-TV-Z]{5}-?[0-9A-HJKMNP-TV-Z]{5}"
_CODE_IN_REF = re.compile(rf"((?:^|[^0-9A-Za-z])(?:receipt|form|reply):){_CODE}")
# In free text only the printed form (with its hyphen): ten bare digits are not a code.
_CODE_ANYWHERE = re.compile(
    r"(?<![0-9A-Za-z-])[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}"
    r"(?![0-9A-Za-z-])"
)
HIDDEN = "[kode tanda terima]"
PRESENT = "(ada, hanya diketahui pelapor)"


def hide_in_ref(ref: str | None) -> str | None:
    """A raw item's ``source_ref`` (``form:<code>``, ``reply:<code>:<uuid>``) or a thread key
    (``receipt:<code>``) with the code hidden."""
    if ref is None:
        return None
    return _CODE_IN_REF.sub(lambda m: m.group(1) + HIDDEN, ref)


def hide_in_text(text: str) -> str:
    """Any receipt-code-shaped token in free text (log lines)."""
    return _CODE_ANYWHERE.sub(HIDDEN, text)


def hide_in_origin(origin: Any) -> tuple[Any, bool]:
    """(origin without its code, whether it had one)."""
    if not isinstance(origin, dict) or "receipt_code" not in origin:
        return origin, False
    clean = {k: v for k, v in origin.items() if k != "receipt_code"}
    return clean, True


def hide_in_meta(meta: Any) -> Any:
    if isinstance(meta, dict) and "receipt_code" in meta:
        return {**meta, "receipt_code": PRESENT}
    return meta
