"""Real servers for the end-to-end test: Dovecot + Postfix (tests/email) and gammu-smsd
with the dummy phone on a scratch Gammu database (tests/sms), started here and stopped."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The e-mail servers are session fixtures of tests/email; registered here too, so this
# directory runs on its own (pytest gives it its own instances).
from tests.email.conftest import dovecot, mail_tmp, postfix  # noqa: F401
from tests.sms.conftest import Smsd, gammu_pg  # noqa: F401


@pytest.fixture
def smsd(gammu_pg: str) -> Iterator[Smsd]:  # noqa: F811
    root = Path(tempfile.mkdtemp(prefix="satukanal-e2e-smsd-"))
    s = Smsd("pgsql", gammu_pg, root)
    s.start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(root, ignore_errors=True)
