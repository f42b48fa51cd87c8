"""Timeline events, jobs and notifications as the repository returns them."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    IN_DOUBT = "in_doubt"
    DONE = "done"
    DEAD = "dead"


class JobKind(StrEnum):
    PUSH = "push"
    ATTACH = "attach"
    REPLY_UP = "reply_up"
    NOTIFY = "notify"
    WRITE_BACK = "write_back"


class RawState(StrEnum):
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    REPLY = "reply"
    IGNORED = "ignored"


class FollowupLabel(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    FORWARDED = "forwarded"
    INFO_REQUEST = "info_request"
    SUBSTANTIVE = "substantive"
    SUBSTANTIVE_WITH_EVIDENCE = "substantive_with_evidence"


class NotificationState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    AGENCY = "agency"


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    payload: dict[str, Any]
    complaint_id: uuid.UUID | None
    state: JobState
    attempts: int
    created_at: dt.datetime
    run_after: dt.datetime
    last_error: str | None = None


class TimelineEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    complaint_id: uuid.UUID | None
    kind: str
    at: dt.datetime
    actor: str
    data: dict[str, Any]
