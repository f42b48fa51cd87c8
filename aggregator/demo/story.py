"""When the demo's story is over, and the summary a visitor reads at the end.

``satukanal demo --until-idle`` runs until every demo complaint reached a final state in
LAPOR! (closed, archived, not this agency's, deleted) and every message to a citizen was
delivered, not merely until the queue is empty for a moment: the sandbox plays each report's
life over a minute or so, and the interesting part (the agency's answers, the closure) comes
last.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, TextIO

from aggregator.storage import demo as repo

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

# A story lasts about a minute; this bounds a demo that cannot finish (say, a dead job).
STORY_TIMEOUT_S = 300.0

CHANNELS = {"sms": "SMS", "web": "web form", "email": "e-mail", "whatsapp": "WhatsApp"}
FINAL = {
    "selesai": "closed",
    "arsip": "archived",
    "bukan_wewenang": "not this agency's authority",
    "dihapus": "deleted by LAPOR!",
    "duplicate": "the same as an earlier complaint: linked to it, not sent again",
    "rejected_by_lapor": "refused by LAPOR!",
}
LABELS = {  # label: (one, many)
    "substantive_with_evidence": ("real follow-up with photos", "real follow-ups with photos"),
    "substantive": ("real follow-up without photos", "real follow-ups without photos"),
    "acknowledgement": ("boilerplate acknowledgement", "boilerplate acknowledgements"),
    "forwarded": ("forwarding to another agency", "forwardings to another agency"),
    "info_request": ("request for more information", "requests for more information"),
}


async def outstanding(services: Services, since: dt.datetime) -> str | None:
    """What the story that began at ``since`` still waits for, in a sentence, or None when it
    is over."""
    async with services.pool.acquire() as conn:
        p = await repo.progress(conn, since)
    waiting = []
    if p.complaints == 0:
        waiting.append("no complaint has come in yet")
    if p.open_complaints:
        waiting.append(
            f"{p.open_complaints} of {p.complaints} complaint(s) not yet closed in LAPOR!"
        )
    if p.undelivered:
        waiting.append(f"{p.undelivered} message(s) to citizens not yet delivered")
    if p.open_jobs:
        waiting.append(f"{p.open_jobs} job(s) still to run")
    return "; ".join(waiting) or None


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + "\u2026"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


async def summary(services: Services, since: dt.datetime) -> list[str]:
    """What happened to the complaints of the demo run that began at ``since``."""
    async with services.pool.acquire() as conn:
        complaints = await repo.complaints(conn, since)
        labels = await repo.followup_labels(conn, since)
        messages = await repo.messages(conn, since)
    by_channel = Counter(c.channel for c in complaints)
    lines = [
        "",
        "What happened in this demo",
        "",
        f"Complaints: {len(complaints)} ("
        + ", ".join(f"{n} by {CHANNELS.get(ch, ch)}" for ch, n in sorted(by_channel.items()))
        + "); each with its LAPOR! Tracking ID, the agency, how it ended, its subject:",
    ]
    municipality = " " + services.settings.municipality
    for c in complaints:
        tracking = f"#{c.tracking_id}" if c.tracking_id else "—"
        agency = (c.agency_name or "").removesuffix(municipality)
        status = FINAL.get(c.status, c.status)
        if c.closed_without_real_followup:
            status += ", without a real follow-up"
        where = status if c.agency_name is None else f"{agency}: {status}"
        lines.append(f"  {tracking:<10} by {CHANNELS.get(c.channel, c.channel):<9} {where}")
        lines.append(f"  {'':<10}    \u201c{_clip(c.title or '', 70)}\u201d")
    if any(c.status == "duplicate" for c in complaints):
        data_dir = services.settings.data_dir
        lines += [
            "",
            "  (The demo citizens wrote the same again as in an earlier run: satukanal "
            "links such repeats",
            f"  instead of reporting them twice. For a fresh story: rm -rf {data_dir})",
        ]
    total = sum(x.count for x in labels)
    lines += ["", f"Agency responses: {total}"]
    for key, (one, many) in LABELS.items():
        n = next((x.count for x in labels if x.label == key), 0)
        if n:
            lines.append(f"  {n:>3} {one if n == 1 else many}")
    lines += ["", "What citizens received"]
    sent = Counter[str]()
    delivered = Counter[str]()
    for m in messages:
        sent[m.channel] += m.count
        if m.state == "delivered":
            delivered[m.channel] += m.count
    data_dir = services.settings.data_dir
    if sent["sms"]:
        lines.append(
            f"  {_plural(sent['sms'], 'SMS', 'SMS')} ({delivered['sms']} confirmed "
            f"delivered by the gateway; they are in {data_dir / 'sms-ke-warga.jsonl'})"
        )
    if sent["email"]:
        lines.append(
            f"  {_plural(sent['email'], 'e-mail')} (threaded answers, in "
            f"{data_dir / 'maildir' / 'terkirim' / 'new'})"
        )
    if sent["whatsapp"]:
        lines.append(
            f"  {_plural(sent['whatsapp'], 'WhatsApp message')} ({delivered['whatsapp']} "
            "confirmed delivered by the platform's status callbacks; the sandbox's outbox: "
            "/demo/whatsapp/_sandbox/outbox)"
        )
    if sent["web"]:
        lines.append(
            f"  {_plural(sent['web'], 'update')} on the public status pages "
            "(web-form citizens left no phone or e-mail)"
        )
    example = next((c for c in complaints if c.responses > 1), None) or next(iter(complaints), None)
    if example is not None:
        lines += [
            "",
            "One complaint's whole timeline: .venv/bin/satukanal --demo complaints "
            f"show {example.id}",
        ]
    return lines


async def print_summary(services: Services, since: dt.datetime, out: TextIO) -> None:
    for line in await summary(services, since):
        print(line, file=out)
    out.flush()
