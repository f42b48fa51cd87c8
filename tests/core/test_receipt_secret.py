"""The receipt code is the citizen's only credential on the status page's reply form: no
role sees it anywhere (API, dashboard, CLI, logs); staff see that one exists."""

from __future__ import annotations

import asyncio
import io
import json
import uuid

import pytest
import structlog
from aiohttp.test_utils import TestClient, TestServer

from aggregator.logging import configure_logging
from aggregator.web.app import make_app
from aggregator.web.auth import allowed_roles
from aggregator.web.keys import THROTTLE
from aggregator.web.security import FailureThrottle
from schemas.events import Role
from tests.core.helpers import make_services
from tests.core.test_web import api_routes, dashboard_routes, login_as, tokens
from tests.health.test_cli import cli, config

CODE = "K7Q2M-9XW4P"


@pytest.fixture
async def client(pool):
    services = make_services(pool)
    app = make_app(services)
    app[THROTTLE] = FailureThrottle(10_000, window_s=1)
    async with TestClient(TestServer(app)) as c:
        yield c


async def seed(pool) -> tuple[uuid.UUID, int]:
    async with pool.acquire() as conn:
        cid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO complaints (id, source, channel, content, agency_id, lapor_tracking_id,"
            " origin, thread_keys) VALUES ($1, 'form-lama', 'web', 'Lampu jalan mati di Jl."
            " Tjilik Riwut km 3 sejak seminggu', 'DISHUB', '1916601', $2, $3)",
            cid,
            {"receipt_code": CODE, "form": "pengaduan"},
            [f"receipt:{CODE}"],
        )
        # A status-page reply that could not be stored: its ref names the code.
        raw = await conn.fetchval(
            "INSERT INTO raw_items (source, source_ref, received_at, content_type, payload, meta,"
            " state, reason) VALUES ('form-lama', $1, now(), 'application/json', '{}', $2,"
            " 'quarantined', 'uji') RETURNING id",
            f"reply:{CODE}:{uuid.uuid4()}",
            {"receipt_code": CODE},
        )
        await conn.execute(
            "INSERT INTO events (complaint_id, kind, data) VALUES ($1, 'reporter_replied',"
            ' \'{"channel": "web"}\')',
            cid,
        )
    return cid, raw


def _url(path: str, cid: uuid.UUID, raw: int) -> str:
    return path.replace(
        "{id}", str(cid) if "complaints" in path or "pengaduan" in path else str(raw)
    )


async def test_no_api_route_shows_the_code_to_any_role(client, pool) -> None:
    cid, raw = await seed(pool)
    toks = await tokens(pool)
    seen = 0
    for method, path, handler in api_routes(client.app):
        if method != "GET":
            continue
        roles = allowed_roles(handler)
        for role in Role:
            if role not in roles:
                continue
            for suffix in ("", "?reveal_identity=1", "?reveal=1"):
                resp = await client.get(
                    _url(path, cid, raw) + suffix,
                    headers={"Authorization": f"Bearer {toks[role.value]}"},
                )
                body = await resp.read()
                assert CODE.encode() not in body, (path, role, suffix)
                assert CODE.replace("-", "").encode() not in body, (path, role, suffix)
                assert CODE not in json.dumps(dict(resp.headers)), (path, role)
                seen += 1
    assert seen >= 20
    # Staff see that a code exists.
    for role in Role:
        d = await (
            await client.get(
                f"/api/complaints/{cid}", headers={"Authorization": f"Bearer {toks[role.value]}"}
            )
        ).json()
        assert d["has_receipt_code"] is True, role
        assert "receipt_code" not in d["origin"] and d["origin"]["form"] == "pengaduan"
    q = await (
        await client.get("/api/quarantine", headers={"Authorization": f"Bearer {toks['operator']}"})
    ).json()
    assert q["items"][0]["source_ref"].startswith("reply:[kode tanda terima]:")


async def test_no_dashboard_page_shows_the_code_to_any_role(client, pool) -> None:
    cid, raw = await seed(pool)
    toks = await tokens(pool)
    seen = 0
    for method, path, handler in dashboard_routes(client.app):
        if method != "GET":
            continue
        roles = allowed_roles(handler)
        for role in Role:
            if role not in roles:
                continue
            await login_as(client, toks[role.value])
            resp = await client.get(_url(path, cid, raw), allow_redirects=False)
            body = await resp.text()
            assert CODE not in body and CODE.replace("-", "") not in body, (path, role)
            seen += 1
        client.session.cookie_jar.clear()
    assert seen >= 10
    await login_as(client, toks["admin"])
    page = await (await client.get(f"/dasbor/pengaduan/{cid}")).text()
    assert "Kode tanda terima" in page and "ada" in page
    quarantine = await (await client.get("/dasbor/karantina")).text()
    assert "[kode tanda terima]" in quarantine


async def test_cli_views_hide_the_code(tmp_path, db_dsn, pool) -> None:
    cid, raw = await seed(pool)
    cfg = config(tmp_path, db_dsn)
    # Found by its code (the citizen reads it out to staff), but never printed back.
    for args in (
        ("complaints", "show", CODE, "--json"),
        ("complaints", "show", str(cid)),
        ("quarantine", "list", "--json"),
        ("quarantine", "list"),
        ("quarantine", "show", str(raw), "--json"),
    ):
        out = await asyncio.to_thread(cli, cfg, *args)
        assert out.returncode == 0, (args, out.stderr)
        assert CODE not in out.stdout + out.stderr, args
    shown = await asyncio.to_thread(cli, cfg, "complaints", "show", CODE, "--json")
    assert json.loads(shown.stdout)["has_receipt_code"] is True


def test_log_lines_never_carry_a_code() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    structlog.get_logger("t").info(
        "form_submission_received",
        ref=f"form:{CODE}",
        note=f"kode {CODE} dipakai",
        tracking="1916601",
    )
    line = stream.getvalue()
    assert CODE not in line and "[kode tanda terima]" in line and "1916601" in line
