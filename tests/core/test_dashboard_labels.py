"""The dashboard names every code it shows in Bahasa Indonesia, and keeps the raw code at hand."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aggregator.intake import Intake
from aggregator.lapor import manual
from aggregator.notify.handler import SINK_KIND
from aggregator.storage import followup as followup_repo
from aggregator.storage.admin import create_token
from aggregator.storage.events import append_event
from aggregator.web.app import make_app
from aggregator.web.labels import (
    CHANNEL_LABELS,
    EVENT_LABELS,
    JOB_LABELS,
    JOB_STATE_LABELS,
    LABEL_TEXT,
    NOTIFICATION_LABELS,
    NOTIFICATION_STATE_LABELS,
    STATUS_LABELS,
    actor_label,
    event_details,
    label,
)
from schemas.complaint import Channel, ComplaintStatus
from schemas.config import SourceConfig
from schemas.events import EventKind, FollowupLabel, JobKind, JobState, NotificationState
from tests.core.helpers import JsonLinesSource, make_services

ROOT = Path(__file__).resolve().parents[2]

# The kind argument: ``EventKind.NAME`` or a string literal, or ``a if cond else b`` of those
# (both are emitted).
_KIND = (
    r'(?:"(?P<kind>[a-z][a-z0-9_]*)"|EventKind\.(?P<kname>[A-Z][A-Z0-9_]*))'
    r"(?:\s+if\s[^\n]*?\s+else\s+"
    r'(?:"(?P<alt>[a-z][a-z0-9_]*)"|EventKind\.(?P<altname>[A-Z][A-Z0-9_]*)))?'
)
# Each way the code writes a timeline event: (every call site, the call sites with a literal
# kind). Both are counted, so a call whose kind the test cannot read fails the test instead
# of slipping past it.
PY_SITES = {
    "append_event": (
        re.compile(r"(?<!def )\bappend_event\(\s*conn\b"),
        re.compile(r"(?<!def )\bappend_event\(\s*conn\s*,\s*[^,]+?,\s*" + _KIND),
    ),
    "planned events": (
        re.compile(r"\b(?:plan\.events|timeline)\.append\("),
        re.compile(r"\b(?:plan\.events|timeline)\.append\(\s*\(\s*[^,()]+?,\s*" + _KIND),
    ),
    # the bulk history import's COPY, through aggregator/storage/intake.py's copy_rows()
    "COPY into events": (
        re.compile(r'\bcopy_rows\(\s*conn,\s*"events"'),
        re.compile(r'\bcopy_rows\(\s*conn,\s*"events"[^\[]*\[\s*\(\s*[^,()]+?,\s*' + _KIND),
    ),
}
SQL_INSERT = re.compile(r"INSERT INTO events\s*\([^)]*\)\s*", re.IGNORECASE)
SQL_LITERAL = re.compile(r"(?:SELECT\s+[^,]+,|VALUES\s*\([^,]+,)\s*'(?P<kind>[a-z][a-z0-9_]*)'")
# Statements that take the kind from a parameter or an unnested column fed by Python (the
# Python sites above supply those kinds).
SQL_PARAM = re.compile(r"(?:SELECT\s+[^,]+,\s*(?:\w+\.)?kind\b|VALUES\s*\([^,]+,\s*\$\d+)")


def _sources(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in ROOT.glob(pattern))


def emitted_event_kinds() -> tuple[set[str], dict[str, int]]:
    """Every timeline event kind written by the code, and how many sites each way found."""
    kinds: set[str] = set()
    found = {name: 0 for name in PY_SITES} | {"SQL literal": 0, "SQL parameter": 0}
    for path in _sources("aggregator/**/*.py", "connectors/**/*.py"):
        text = path.read_text(encoding="utf-8")
        for name, (site, literal) in PY_SITES.items():
            sites = len(site.findall(text))
            matches = list(literal.finditer(text))
            assert len(matches) == sites, (
                f"{path.relative_to(ROOT)}: {sites - len(matches)} {name} call(s) whose event "
                "kind is not an EventKind or a string literal; label it and teach this test the "
                "pattern"
            )
            found[name] += sites
            kinds |= {k for m in matches for k in m.group("kind", "alt") if k}
            kinds |= {EventKind[k].value for m in matches for k in m.group("kname", "altname") if k}
    for path in _sources("aggregator/**/*.sql"):
        text = path.read_text(encoding="utf-8")
        for insert in SQL_INSERT.finditer(text):
            # Pattern.match(text, pos) anchors at pos: the kind is the second value inserted.
            lit = SQL_LITERAL.match(text, insert.end())
            param = SQL_PARAM.match(text, insert.end())
            assert lit or param, (
                f"{path.relative_to(ROOT)}: INSERT INTO events at {insert.start()} with a kind "
                "this test cannot read"
            )
            if lit:
                found["SQL literal"] += 1
                kinds.add(lit.group("kind"))
            else:
                found["SQL parameter"] += 1
    return kinds, found


def test_every_emitted_event_kind_has_an_indonesian_label() -> None:
    kinds, found = emitted_event_kinds()
    # Not vacuous: every way of writing events was seen, and the well-known kinds of each.
    assert all(n > 0 for n in found.values()), found
    assert {
        "complaint_ingested",  # intake plan and the history COPY
        "legacy_form_updated",  # intake plan
        "followup_received",  # LAPOR! apply, first branch of a conditional
        "lapor_info_requested",  # ... and its else branch
        "notification_failed",  # append_event with a conditional kind
        "identity_revealed",  # append_event over several lines
        "form_written_back",  # connectors/
        "job_dead",  # SQL literal
        "lapor_pushed",  # SQL literal
    } <= kinds
    assert len(kinds) >= 25, sorted(kinds)
    missing = sorted(kinds - EVENT_LABELS.keys())
    assert not missing, f"event kinds without a label in aggregator/web/labels.py: {missing}"


def test_codes_of_every_enum_and_notification_have_labels() -> None:
    for codes, labels in (
        ({s.value for s in ComplaintStatus}, STATUS_LABELS),
        ({s.value for s in FollowupLabel}, LABEL_TEXT),
        ({s.value for s in JobKind}, JOB_LABELS),
        ({s.value for s in JobState}, JOB_STATE_LABELS),
        ({s.value for s in NotificationState}, NOTIFICATION_STATE_LABELS),
        ({s.value for s in Channel}, CHANNEL_LABELS),
        # notifications.kind is the notify event after aliasing; "deleted" has no sink kind
        (set(SINK_KIND) | {"deleted"}, NOTIFICATION_LABELS),
    ):
        assert codes, labels
        assert codes <= labels.keys(), sorted(codes - labels.keys())


def test_unknown_codes_and_odd_data_fall_back_quietly() -> None:
    assert label(EVENT_LABELS, "brand_new_kind") == "brand_new_kind"
    assert label(JOB_STATE_LABELS, None) == "-"
    assert label(EVENT_LABELS, "lapor_pushed") == "terkirim ke LAPOR!"
    assert actor_label("source:sms-kota") == "kanal sms-kota"
    assert actor_label("system") == "sistem"
    assert event_details("brand_new_kind", {"x": 1}) == []
    for kind in EVENT_LABELS:
        for data in (None, [], {}, {"fields": "x", "responses": 3, "kinds": None, "flags": 7}):
            assert event_details(kind, data) == [], (kind, data)
    status = event_details("lapor_status_changed", {"status": "selesai"})
    assert [(d.name, d.value) for d in status] == [("Status", "- → selesai")]


async def _login(client: TestClient, pool, role: str = "operator") -> None:
    async with pool.acquire() as conn:
        _, token = await create_token(conn, name=f"uji-{role}", role=role, agency=None)
    resp = await client.post("/dasbor/masuk", data={"token": token}, allow_redirects=False)
    assert resp.status == 303


@pytest.fixture
async def client(pool):
    services = make_services(pool)
    async with TestClient(TestServer(make_app(services))) as c:
        c.services = services  # type: ignore[attr-defined]
        yield c


async def test_complaint_page_tells_its_history_in_indonesian(client, pool) -> None:
    services = client.services
    src = JsonLinesSource(
        SourceConfig(name="sms-kota", kind="jsonlines", agency="DISHUB"),
        [
            json.dumps(
                {"text": "Lampu jalan di Jl. Yos Sudarso mati", "phone": "081234567890"}
            ).encode()
        ],
    )
    async for batch in src.pull(None):
        result = await Intake(services).ingest(src, batch)
    (cid,) = result.complaint_ids
    async with pool.acquire() as conn:
        push_job = await conn.fetchval("SELECT id FROM jobs WHERE kind = 'push'")
    assert await services.queue.discard(push_job, "dikirim manual", actor="dasbor:rina")
    assert await manual.enter_tracking_id(services, cid, "1916449", actor="rina")
    await manual.enter_status(services, cid, "terverifikasi", actor="rina")
    await manual.enter_response(
        services,
        cid,
        "Pada 3 November tim UPT PJU telah mengganti lampu di Jl. Yos Sudarso.",
        actor="rina",
        author="UPT PJU Dishub",
    )
    async with pool.acquire() as conn:
        # What intake writes when an old web form's row changes (see Intake._plan_update).
        await append_event(
            conn,
            cid,
            "legacy_form_updated",
            {
                "form_table": "pengaduan",
                "row_id": 77,
                "status_before": "Baru",
                "status_after": "Proses",
                "responses": [{"id": "9", "text": "Sedang dicek petugas — mohon ditunggu"}],
            },
            actor="source:form-lama",
        )
        await append_event(conn, cid, "brand_new_kind", {"anything": "<b>x</b>"})
        await append_event(conn, cid, "lapor_status_changed", {})  # data may miss fields
        await followup_repo.insert_notification(
            conn,
            notification_id=uuid.uuid4(),
            complaint_id=cid,
            kind="status_changed",
            channel="sms",
            source="sms-kota",
            dedup_key=f"uji:{cid}",
            items=[],
            state="failed",
        )

    await _login(client, pool)
    resp = await client.get(f"/dasbor/pengaduan/{cid}")
    assert resp.status == 200
    page = await resp.text()
    history = page.split("<h2>Riwayat</h2>", 1)[1]
    for text in (
        "pengaduan masuk",  # complaint_ingested
        "Kanal</dt><dd>SMS (sms-kota)",
        "pekerjaan dibuang",  # job_discarded, written by SQL
        "kirim ke LAPOR! #",
        "terkirim ke LAPOR!",  # lapor_pushed
        "Tracking ID</dt><dd>1916449",
        "dimasukkan operator",
        "status di LAPOR! berubah",
        "belum terverifikasi → terverifikasi",
        "tanggapan OPD masuk",
        "UPT PJU Dishub",
        "telah mengganti lampu",  # the response's text, from its follow-up row
        "formulir lama diperbarui",
        "Baru → Proses",
        "Sedang dicek petugas",
        "operator rina",  # actor
        "kanal form-lama",
        "data lengkap",  # the full data stays available
        '"text": "Sedang dicek petugas — mohon ditunggu"',  # readable, not \u2014
    ):
        assert text in history, text
    # The raw kinds stay on the page for support, and an unknown kind is shown as it is.
    for kind in ("complaint_ingested", "lapor_pushed", "job_discarded", "brand_new_kind"):
        assert f"<code>{kind}</code>" in history, kind
    assert "<b>x</b>" not in history  # data is escaped
    notifications = page.split("<h2>Pemberitahuan ke pelapor</h2>", 1)[1].split("<h2>", 1)[0]
    assert "perubahan status" in notifications and "gagal" in notifications
    assert 'title="status_changed"' in notifications

    jobs = await (await client.get("/dasbor/antrian")).text()
    assert "kirim ke LAPOR!" in jobs and "<code>push</code>" in jobs
    overview = await (await client.get("/dasbor")).text()
    queue = overview.split("<h2>Antrian</h2>", 1)[1]
    assert "kirim ke LAPOR!" in queue and "gagal (mati)" in queue
    listing = await (await client.get("/dasbor/pengaduan")).text()
    assert "<td>SMS</td>" in listing
