"""Timeline events, jobs and notifications as the repository returns them."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import IntEnum, StrEnum
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


class JobLane(IntEnum):
    """Which line a job waits in (``jobs.lane``): a worker claims every due live job before
    any bulk one, so a citizen's acknowledgement or push never waits behind a backfill."""

    LIVE = 0
    BULK = 1


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


class EventKind(StrEnum):
    """What a timeline event (``events.kind``) records; ``web.labels.EVENT_LABELS`` words them."""

    COMPLAINT_INGESTED = "complaint_ingested"
    COMPLAINT_LINKED = "complaint_linked"
    ROUTE_CORRECTED = "route_corrected"
    REPORTER_REPLIED = "reporter_replied"
    REPORTER_REPLY_UNVERIFIED = "reporter_reply_unverified"
    REPORTER_REPLY_ACCEPTED = "reporter_reply_accepted"
    REPORTER_REPLY_REJECTED = "reporter_reply_rejected"
    BURST_MERGED = "burst_merged"
    MESSAGE_JUDGED = "message_judged"
    LEGACY_FORM_UPDATED = "legacy_form_updated"
    LEGACY_ROW_DELETED = "legacy_row_deleted"
    LAPOR_PUSHED = "lapor_pushed"
    LAPOR_REJECTED = "lapor_rejected"
    LAPOR_MANUAL_PENDING = "lapor_manual_pending"
    LAPOR_ATTACHMENT_REFUSED = "lapor_attachment_refused"
    REPORTER_REPLY_SENT = "reporter_reply_sent"
    LAPOR_STATUS_CHANGED = "lapor_status_changed"
    LAPOR_DISPOSED = "lapor_disposed"
    FOLLOWUP_RECEIVED = "followup_received"
    LAPOR_INFO_REQUESTED = "lapor_info_requested"
    LAPOR_RECLASSIFIED = "lapor_reclassified"
    LAPOR_REPORTER_REPLY_RECORDED = "lapor_reporter_reply_recorded"
    LAPOR_RATED = "lapor_rated"
    LAPOR_DELETED = "lapor_deleted"
    LAPOR_EVENT_RECEIVED = "lapor_event_received"
    SLA_BREACHED = "sla_breached"
    CLOSED_WITHOUT_REAL_FOLLOWUP = "closed_without_real_followup"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    NOTIFICATION_HELD = "notification_held"
    NOTIFICATION_REDELIVERY_PLANNED = "notification_redelivery_planned"
    FORM_WRITTEN_BACK = "form_written_back"
    FORM_WRITE_BACK_SKIPPED = "form_write_back_skipped"
    IDENTITY_REVEALED = "identity_revealed"
    JOB_DEAD = "job_dead"
    JOB_RETRIED = "job_retried"
    JOB_DISCARDED = "job_discarded"


class NotificationKind(StrEnum):
    """What a notification to a citizen is about (``notifications.kind``, after
    ``aggregator.notify.handler.ALIASES``)."""

    ACK = "ack"
    STATUS_CHANGED = "status_changed"
    RESPONSE_POSTED = "response_posted"
    INFO_REQUESTED = "info_requested"
    SOLVED_QUESTION = "solved_question"
    USAGE = "usage"
    SUNSET = "sunset"
    COMPLAINT_LINKED = "complaint_linked"
    DELETED = "deleted"


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
    lane: JobLane = JobLane.LIVE


class TimelineEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    complaint_id: uuid.UUID | None
    kind: str
    at: dt.datetime
    actor: str
    data: dict[str, Any]
