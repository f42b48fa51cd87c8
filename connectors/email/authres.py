"""Whether our own mail server vouched for a message's ``From`` (RFC 8601
``Authentication-Results``). Pure.

Anyone can write any address in ``From``; only the receiving server can tell whether the
message really came from that address's domain (DMARC, or DKIM/SPF aligned with it). The
server prepends its verdict under its *authserv-id*, so the topmost header with that id is
its own: one the sender wrote himself sits below it (or, when the server wrote none, is the
only one, which is why ``authserv_id`` is set only for a server known to write them).
"""

from __future__ import annotations

import re
from email.message import Message

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([A-Za-z][\w-]*)\s*=\s*([A-Za-z][\w-]*)")
_PROPERTY = re.compile(r"([A-Za-z][\w-]*\.[A-Za-z][\w-]*)\s*=\s*(\"[^\"]*\"|[^\s;]+)")


def _results(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """(authserv-id, [(method, result, {property: value})]) of one header."""
    parts = _COMMENT.sub(" ", value).split(";")
    head = parts[0].split()
    authserv = head[0].lower() if head else ""
    found = []
    for part in parts[1:]:
        m = _RESULT.match(part)
        if m is None:
            continue
        props = {k.lower(): v.strip('"').lower() for k, v in _PROPERTY.findall(part[m.end() :])}
        found.append((m.group(1).lower(), m.group(2).lower(), props))
    return authserv, found


def _domain(value: str | None) -> str | None:
    """The domain of ``user@domain``, ``@domain`` or ``domain``."""
    if not value:
        return None
    return value.rsplit("@", 1)[-1].strip().strip(".").lower() or None


def _aligned(a: str | None, b: str | None) -> bool:
    """Relaxed alignment: the same domain, or one under the other."""
    if not a or not b:
        return False
    return a == b or a.endswith(f".{b}") or b.endswith(f".{a}")


def sender_authenticated(msg: Message, authserv_id: str, sender: str | None) -> bool:
    """True when the topmost ``Authentication-Results`` of ``authserv_id`` says the domain of
    ``sender`` (the From address) passed DMARC, or DKIM or SPF aligned with it."""
    from_domain = _domain(sender)
    if from_domain is None:
        return False
    want = authserv_id.strip().lower()
    for header in msg.get_all("Authentication-Results") or []:
        authserv, results = _results(str(header))
        if authserv != want:
            continue
        for method, result, props in results:
            if result != "pass":
                continue
            checked = {
                "dmarc": props.get("header.from") or from_domain,
                "dkim": props.get("header.d") or props.get("header.i"),
                "spf": props.get("smtp.mailfrom"),
            }.get(method)
            if _aligned(_domain(checked), from_domain):
                return True
        return False  # the server's own verdict, and no pass for this From in it
    return False
