"""Every installed connector (entry-point group ``satukanal.connectors``) passes the same
conformance checks (``connectors/base/conformance.py``): declaration, option errors named by
key, whole protocols, and offline parsing of its own samples into drafts or InvalidInput."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.base import ENTRY_POINT_GROUP, registry
from connectors.base.conformance import CHECKS

KINDS = sorted(registry())


def test_the_project_connectors_are_installed() -> None:
    assert {"imap", "maildir", "gammu", "sms_http", "sql_table", "form_http"} <= set(KINDS), (
        f"entry points of {ENTRY_POINT_GROUP}: {KINDS} (re-run pip install -e .)"
    )


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("kind", KINDS)
def test_conformance(kind: str, check: Callable[[str, type], None]) -> None:
    check(kind, registry()[kind].load())


def test_validate_options_lists_every_problem_by_key_without_building() -> None:
    from connectors.base import validate_options

    assert validate_options("gammu", {"dsn": "postgresql://smsd@127.0.0.1/smsd"}) == []
    problems = validate_options(
        "gammu",
        {"dsnn": "x", "timezone": "Asia/Jakart", "multipart_wait_s": "lama"},
        source="sms-1708",
    )
    assert sorted(p.split(":")[0] for p in problems) == [
        "sources.sms-1708.options.dsn",
        "sources.sms-1708.options.dsnn",
        "sources.sms-1708.options.multipart_wait_s",
        "sources.sms-1708.options.timezone",
    ]
    assert "sources.sms-1708.options.dsn: required option is missing" in problems
    assert any("unknown time zone 'Asia/Jakart'" in p for p in problems)
