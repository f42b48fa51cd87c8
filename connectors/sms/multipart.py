"""Grouping Gammu inbox rows into messages, and reassembling a message's text. Pure.

A long SMS reaches the inbox as one row per part, each with a UDH naming (reference,
total, sequence). Parts can arrive in any order, minutes apart, interleaved with other
senders' parts. Rows are grouped by (receiving phone, sender, reference size, reference,
total); a group is ready when every part is there, or when it has waited longer than the
configured time, or when all its rows were already pulled once (a re-pull after a crash,
where the decision was already made). Waiting groups live in the source's cursor and their
rows stay un-acknowledged in the inbox, so a restart loses nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from connectors.sms.parser import Concat, decode_hex_text, parse_udh


@dataclass
class Group:
    key: str
    concat: Concat | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    since: dt.datetime | None = None

    @property
    def ids(self) -> list[int]:
        return sorted(int(r["ID"]) for r in self.rows)

    @property
    def complete(self) -> bool:
        if self.concat is None:
            return True
        return {self.seq(r) for r in self.rows} >= set(range(1, self.concat.total + 1))

    @staticmethod
    def seq(row: dict[str, Any]) -> int:
        c = parse_udh(row.get("UDH"))
        return c.seq if c else 1

    @property
    def source_ref(self) -> str:
        """Stable across re-pulls *and* re-deliveries: an SMSC that delivers the same SMS
        twice makes two inbox rows with new IDs but the same sender, SMSC timestamp and
        text, so the key is a hash of those, not the row ID. A multipart message is keyed
        by its UDH reference and earliest part time, whether complete or cut short."""
        first = min(self.rows, key=lambda r: int(r["ID"]))
        sender = str(first.get("SenderNumber") or "")
        if self.concat is None:
            body = first.get("Text") or first.get("TextDecoded") or ""
            key = f"{sender}|{first.get('ReceivingDateTime')}|{first.get('UDH') or ''}|{body}"
            return "sms:" + hashlib.sha256(key.encode()).hexdigest()[:32]
        when = min(str(r.get("ReceivingDateTime")) for r in self.rows)
        c = self.concat
        key = f"{sender}|{first.get('RecipientID') or ''}|{c.bits}|{c.ref}|{c.total}|{when}"
        return "smsmp:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def group_key(row: dict[str, Any]) -> tuple[str, Concat | None]:
    c = parse_udh(row.get("UDH"))
    if c is None or c.total == 1:
        return f"id:{row['ID']}", None
    who = f"{row.get('RecipientID') or ''}:{row.get('SenderNumber') or ''}"
    return f"mp:{who}:{c.bits}:{c.ref}:{c.total}", c


def group_rows(
    rows: list[dict[str, Any]],
    waiting: dict[str, dict[str, Any]],
    *,
    now: dt.datetime,
    wait_s: float,
    settled_max_id: int,
) -> tuple[list[Group], dict[str, dict[str, Any]]]:
    """Split rows into groups ready to ingest and groups still waiting for parts.

    ``waiting`` is the cursor's record of groups seen before (``key → {"ids", "since"}``);
    rows with ``ID <= settled_max_id`` that are not listed there were decided in an
    earlier pull (re-read only because their acknowledgement was lost) and never wait.
    """
    groups: dict[str, Group] = {}
    seen: set[int] = set()
    for row in sorted(rows, key=lambda r: int(r["ID"])):
        rid = int(row["ID"])
        if rid in seen:
            continue
        seen.add(rid)
        key, concat = group_key(row)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(key, concat)
        g.rows.append(row)
    waiting_ids = {int(i) for w in waiting.values() for i in w.get("ids", [])}
    ready: list[Group] = []
    still: dict[str, dict[str, Any]] = {}
    for key, g in groups.items():
        prev = waiting.get(key)
        g.since = dt.datetime.fromisoformat(prev["since"]) if prev else now
        settled = all(i <= settled_max_id and i not in waiting_ids for i in g.ids)
        if g.complete or settled or (now - g.since).total_seconds() >= wait_s:
            ready.append(g)
        else:
            still[key] = {"ids": g.ids, "since": g.since.isoformat()}
    ready.sort(key=lambda g: g.ids[0])
    return ready, still


def part_text(row: dict[str, Any], *, prefer_hex: bool) -> str:
    decoded = row.get("TextDecoded") or ""
    hex_text = decode_hex_text(row.get("Text"), row.get("Coding"))
    if prefer_hex and hex_text is not None:
        return hex_text
    return decoded or hex_text or ""


def reassemble(rows: list[dict[str, Any]]) -> tuple[str, list[int], int]:
    """The message text from its parts in UDH order; also the part numbers present and the
    announced total.

    Each part's own text comes from its hex ``Text`` (Gammu 1.42 puts the whole message
    into part 1's ``TextDecoded`` and ``''`` into the others; older versions and other
    drivers put each part's own text there), falling back to ``TextDecoded`` when the hex
    is missing.
    """
    concat = parse_udh(rows[0].get("UDH")) if rows else None
    if concat is None or len(rows) == 0:
        return (part_text(rows[0], prefer_hex=False) if rows else ""), [1], 1
    by_seq: dict[int, dict[str, Any]] = {}
    for r in rows:
        c = parse_udh(r.get("UDH"))
        by_seq.setdefault(c.seq if c else 1, r)
    seqs = sorted(by_seq)
    texts = [part_text(by_seq[s], prefer_hex=True) for s in seqs]
    first = by_seq.get(1)
    if first is not None and all(not t for t in texts[1:]):
        # Only part 1 carries text (no hex anywhere): it may hold the whole message.
        whole = first.get("TextDecoded") or ""
        if len(whole) > len(texts[0]):
            texts = [whole, *texts[1:]]
    return "".join(texts), seqs, concat.total
