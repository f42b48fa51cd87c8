"""What the port speaks: the project's side of every LAPOR! exchange.

Wire names (``anonim``/``rahasia``, ``trackingid``, the JSON contract's keys) stay in the
adapters; these models are what the rest of the code sees.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.complaint import Channel, Classification, Location, Reporter


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ReportPayload(_Strict):
    """One complaint as it goes up. ``external_ref`` is the complaint id."""

    external_ref: str
    channel: Channel
    title: str
    content: str
    classification: Classification = Classification.PENGADUAN
    occurred_on: dt.date | None = None
    location: Location | None = None
    category_id: str | None = None
    agency_id: str | None = None
    anonymous: bool = False
    confidential: bool = False
    reporter: Reporter | None = None
    attachment_ids: tuple[str, ...] = ()
    submitted_at: dt.datetime | None = None


class ReplyPayload(_Strict):
    text: str
    sent_at: dt.datetime | None = None
    resolved: bool | None = None
    attachment_ids: tuple[str, ...] = ()


class CreateResult(_Strict):
    """``tracking_id`` is None when the adapter could not obtain one now (manual worklist)."""

    tracking_id: str | None
    status: str | None = None
    created_at: dt.datetime | None = None
    replayed: bool = False
    pending_manual: bool = False


class Agency(_Tolerant):
    id: str
    name: str
    parent_id: str | None = None


class RemoteReport(_Tolerant):
    tracking_id: str
    external_ref: str | None = None
    status: str
    classification: str | None = None
    category_id: str | None = None
    agency: Agency | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class UploadedAttachment(_Tolerant):
    attachment_id: str
    sha256: str | None = None
    size: int | None = None


class EventAttachment(_Tolerant):
    url: str
    content_type: str | None = None
    sha256: str | None = None


class LaporEvent(_Tolerant):
    event_id: str
    tracking_id: str
    type: str
    at: dt.datetime
    status: str | None = None
    agency: Agency | None = None
    author: str | None = None
    text: str | None = None
    attachments: list[EventAttachment] = Field(default_factory=list)
    classification: str | None = None
    category_id: str | None = None
    title: str | None = None
    rating: int | None = None
    resolved: bool | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


class UpdatesPage(_Tolerant):
    events: list[LaporEvent]
    next_cursor: str | None


class Category(_Tolerant):
    id: str
    name: str
    parent_id: str | None = None
