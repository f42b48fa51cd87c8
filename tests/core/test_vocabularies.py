"""One name each: the typed vocabularies of schemas.events and the words the dashboard and
the notifier use for them cover each other exactly."""

from __future__ import annotations

from aggregator.notify import handler, render
from aggregator.web import labels
from schemas.events import EventKind, JobKind, NotificationKind


def test_every_event_kind_has_dashboard_words_and_nothing_else_does() -> None:
    assert set(labels.EVENT_LABELS) == set(EventKind)


def test_notification_kinds_are_the_notifiers_and_the_dashboards() -> None:
    assert set(labels.NOTIFICATION_LABELS) == set(NotificationKind)
    assert set(render.EVENTS) | {NotificationKind.DELETED} == set(NotificationKind)
    assert set(handler.SINK_KIND) <= set(NotificationKind)
    assert set(handler.ALIASES.values()) <= set(NotificationKind)


def test_job_kinds_have_dashboard_words() -> None:
    assert set(JobKind) <= set(labels.JOB_LABELS)
