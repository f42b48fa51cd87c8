"""Rendering notifications from the Jinja2 templates in ``templates/<channel>/<event>.j2``.

Each event template renders one *item*; ``<channel>/message*.j2`` wraps one or more items
(a merged burst) into the message. E-mail gets the full text, a subject
``[LAPOR! #<tracking id>] …`` and a simple HTML alternative; SMS is shortened *faithfully*:
the fixed wording and the status-page link always survive, and only agency texts are cut,
at a word, with ``...``, so the whole message fits ``notify.sms_max_parts`` parts; the web
channel keeps the full text for the status page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aggregator.notify.segments import ELLIPSIS, count_parts, sms_encoding, text_units
from schemas.events import NotificationKind

EVENTS = tuple(k for k in NotificationKind if k is not NotificationKind.DELETED)
CHANNELS = ("email", "sms", "web")
# Agency-written texts an SMS may shorten; everything else is our own fixed wording.
SHORTENABLE = ("text",)
MONTHS_ID = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


@dataclass(frozen=True)
class Item:
    """One event to tell the citizen about."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    text: str
    subject: str | None = None
    html: str | None = None


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("aggregator.notify", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def channel_of(channel: str) -> str:
    """The template family for a complaint channel: SMS and e-mail as such, the rest web."""
    return channel if channel in ("email", "sms") else "web"


def local_time(at: dt.datetime | None, tz: str) -> str | None:
    if at is None:
        return None
    local = at.astimezone(ZoneInfo(tz))
    return f"{local.day} {MONTHS_ID[local.month - 1]} {local.year} {local:%H.%M}"


def _render_item(channel: str, item: Item, common: dict[str, Any]) -> tuple[str, str | None]:
    env = environment()
    tmpl = env.get_template(f"{channel}/{item.event}.j2")
    ctx = {**common, **item.data}
    if channel == "email":
        context = tmpl.new_context(ctx)
        subject = "".join(tmpl.blocks["subject"](context)).strip()
        body = "".join(tmpl.blocks["body"](tmpl.new_context(ctx))).strip()
        return body, subject
    return tmpl.render(ctx).strip(), None


def render(
    channel: str, items: Sequence[Item], common: dict[str, Any], *, sms_max_parts: int = 3
) -> Rendered:
    """The message for ``items`` on ``channel`` (``email``, ``sms`` or ``web``).

    ``common`` holds what every template may use: ``tracking_id``, ``status_url``,
    ``municipality``, ``name``, ``title``, ``reply_hint``.
    """
    if not items:
        raise ValueError("nothing to render")
    channel = channel_of(channel)
    common = {
        "status_url": None,
        "name": None,
        "title": None,
        "reply_hint": True,
        "tracking_id": None,
        "municipality": "",
        **common,
    }
    if channel == "sms":
        return Rendered(text=_render_sms(items, common, sms_max_parts))
    bodies: list[str] = []
    subjects: list[str] = []
    for item in items:
        body, subject = _render_item(channel, item, common)
        bodies.append(body)
        if subject:
            subjects.append(subject)
    env = environment()
    if channel == "web":
        return Rendered(text=env.get_template("web/message.j2").render(items=bodies).strip())
    # A merged burst takes the subject of its last (newest) item.
    tag = f"[LAPOR! #{common['tracking_id']}] " if common.get("tracking_id") else ""
    subject = tag + (subjects[-1] if subjects else "Pengaduan Anda")
    ctx = {**common, "items": bodies, "subject": subject}
    text = env.get_template("email/message.txt.j2").render(ctx).strip() + "\n"
    html = env.get_template("email/message.html.j2").render(ctx).strip() + "\n"
    return Rendered(text=text, subject=subject, html=html)


def _render_sms(items: Sequence[Item], common: dict[str, Any], max_parts: int) -> str:
    env = environment()
    wrapper = env.get_template("sms/message.j2")

    def assemble(budgets: dict[int, int | None]) -> str:
        bodies = []
        for i, item in enumerate(items):
            data = dict(item.data)
            limit = budgets.get(i)
            if limit is not None:
                for key in SHORTENABLE:
                    if data.get(key):
                        data[key] = shorten(squash(str(data[key])), limit)
            elif data.get("text"):
                data["text"] = squash(str(data["text"]))
            bodies.append(_render_item("sms", Item(item.event, data), common)[0])
        return wrapper.render({**common, "items": bodies}).strip()

    full = assemble({})
    if count_parts(full) <= max_parts:
        return full
    cuttable = [i for i, item in enumerate(items) if any(item.data.get(k) for k in SHORTENABLE)]
    if not cuttable:
        return full  # our own wording only: the sink's split_sms ends it with "..."
    # The longest share of room each agency text can have with the whole still fitting:
    # found by bisection, since the encoding (GSM-7 or UCS-2) can change as text is cut.
    lo, hi = 0, max(text_units(squash(str(items[i].data["text"]))) for i in cuttable)
    best = assemble({i: 0 for i in cuttable})
    while lo <= hi:
        mid = (lo + hi) // 2
        text = assemble({i: mid for i in cuttable})
        if count_parts(text) <= max_parts:
            best, lo = text, mid + 1
        else:
            hi = mid - 1
    return best


def squash(text: str) -> str:
    """One line: an SMS has no room for paragraphs."""
    return " ".join(text.split())


def shorten(text: str, units: int) -> str:
    """``text`` cut at a word to at most ``units`` (of its own encoding), ending ``...``."""
    enc = sms_encoding(text)
    if text_units(text, enc) <= units:
        return text
    budget = units - text_units(ELLIPSIS, enc)
    if budget <= 0:
        return ELLIPSIS if units >= len(ELLIPSIS) else ""
    used = 0
    cut = text
    for i, ch in enumerate(text):
        used += 2 if (enc == "ucs2" and ord(ch) > 0xFFFF) else text_units(ch, enc)
        if used > budget:
            cut = text[:i]
            break
    space = cut.rfind(" ")
    if space > len(cut) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + ELLIPSIS
