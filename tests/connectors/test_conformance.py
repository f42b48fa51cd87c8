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
        f"entry points of {ENTRY_POINT_GROUP}: {KINDS} (re-run pip install -e .)")


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("kind", KINDS)
def test_conformance(kind: str, check: Callable[[str, type], None]) -> None:
    check(kind, registry()[kind].load())
