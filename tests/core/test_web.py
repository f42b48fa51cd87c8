"""The admin listener: health, readiness, metrics, and a token on every /api/ route."""

from __future__ import annotations

import re
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aggregator.storage.admin import create_token, revoke_token
from aggregator.web.app import make_app
from aggregator.web.auth import allowed_roles
from aggregator.web.keys import THROTTLE
from aggregator.web.security import FailureThrottle
from schemas.events import Role
from tests.core.helpers import make_services


@pytest.fixture
async def client(pool):
    services = make_services(pool)
    app = make_app(services)
    # These tests try wrong tokens on purpose, many times; the throttle has its own tests.
    app[THROTTLE] = FailureThrottle(10_000, window_s=1)
    async with TestClient(TestServer(app)) as c:
        c.services = services  # type: ignore[attr-defined]
        yield c


async def tokens(pool) -> dict[str, str]:
    out = {}
    async with pool.acquire() as conn:
        for role in Role:
            _, tok = await create_token(
                conn,
                name=role.value,
                role=role.value,
                agency="DISHUB" if role is Role.AGENCY else None,
            )
            out[role.value] = tok
        tid, tok = await create_token(conn, name="old", role="admin", agency=None)
        await revoke_token(conn, tid)
        out["revoked"] = tok
    return out


def api_routes(app) -> list[tuple[str, str, object]]:
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/") and route.method != "HEAD":
            found.append((route.method, path, route.handler))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{id\}", str(uuid.uuid4()) if "complaints" in path else "1", path)


async def test_every_api_route_refuses_missing_wrong_revoked_token_and_other_roles(client, pool):
    toks = await tokens(pool)
    routes = api_routes(client.app)
    assert len(routes) >= 8
    for method, path, handler in routes:
        roles = allowed_roles(handler)
        assert roles, f"{method} {path} declares no roles"
        url = concrete(path)
        for header in (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": f"Bearer {toks['revoked']}"},
            {"Authorization": toks["admin"]},
        ):  # no "Bearer " scheme
            resp = await client.request(method, url, headers=header)
            assert resp.status == 401, (method, path, header)
        for role in Role:
            resp = await client.request(
                method, url, headers={"Authorization": f"Bearer {toks[role.value]}"}
            )
            if role in roles:
                assert resp.status not in (401, 403), (method, path, role)
            else:
                assert resp.status == 403, (method, path, role)


async def test_unknown_api_path_does_not_reveal_itself(client):
    resp = await client.get("/api/does-not-exist")
    assert resp.status == 401


async def test_agency_token_sees_only_its_agency(client, pool):
    toks = await tokens(pool)
    async with pool.acquire() as conn:
        for agency in ("DISHUB", "PUPR"):
            await conn.execute(
                "INSERT INTO complaints (id, source, channel, content, agency_id) "
                "VALUES (gen_random_uuid(), 's', 'sms', 'isi pengaduan yang cukup panjang', $1)",
                agency,
            )
        pupr = await conn.fetchval("SELECT id FROM complaints WHERE agency_id='PUPR'")
    h = {"Authorization": f"Bearer {toks['agency']}"}
    data = await (await client.get("/api/complaints?agency=PUPR", headers=h)).json()
    assert [c["agency_id"] for c in data["items"]] == ["DISHUB"]
    assert (await client.get(f"/api/complaints/{pupr}", headers=h)).status == 404
    admin = {"Authorization": f"Bearer {toks['admin']}"}
    assert (await client.get(f"/api/complaints/{pupr}", headers=admin)).status == 200


async def test_health_ready_and_metrics(client, pool):
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    async with pool.acquire() as conn:
        await client.services.queue.enqueue(conn, "push", payload={})
    text = await (await client.get("/metrics")).text()
    assert 'satukanal_queue_jobs{kind="push",state="queued"} 1.0' in text
    assert "process_resident_memory_bytes" in text
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM schema_migrations WHERE version = 1")
    unready = await client.get("/readyz")
    assert unready.status == 503 and "not migrated" in (await unready.json())["reason"]


def dashboard_routes(app) -> list[tuple[str, str, object]]:
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if (
            path.startswith("/dasbor")
            and not path.startswith("/dasbor/masuk")
            and "static" not in path
            and route.method != "HEAD"
        ):
            found.append((route.method, path, route.handler))
    return found


async def login_as(client, token: str) -> None:
    client.session.cookie_jar.clear()
    resp = await client.post("/dasbor/masuk", data={"token": token}, allow_redirects=False)
    assert resp.status == 303, await resp.text()


async def test_every_dashboard_page_needs_a_login_and_the_right_role(client, pool):
    toks = await tokens(pool)
    pages = dashboard_routes(client.app)
    assert len(pages) >= 8
    for method, path, handler in pages:
        roles = allowed_roles(handler)
        assert roles, f"{method} {path} declares no roles"
        url = concrete(path)
        resp = await client.request(method, url, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/dasbor/masuk", (method, path)
        for role in Role:
            await login_as(client, toks[role.value])
            resp = await client.request(method, url, allow_redirects=False)
            if role in roles:
                assert resp.status not in (401, 403), (method, path, role, resp.status)
            else:
                assert resp.status == 403, (method, path, role)
        client.session.cookie_jar.clear()


async def test_dashboard_login_and_pages_render_in_indonesian(client, pool):
    toks = await tokens(pool)
    bad = await client.post("/dasbor/masuk", data={"token": "salah"}, allow_redirects=False)
    assert bad.status == 401 and "Token tidak dikenal" in await bad.text()
    ok = await client.post("/dasbor/masuk", data={"token": toks["operator"]}, allow_redirects=False)
    assert ok.status == 303
    page = await (await client.get("/dasbor")).text()
    assert "Ringkasan" in page and "Kanal" in page
    assert "Karantina kosong" in await (await client.get("/dasbor/karantina")).text()
    cross = await client.post(
        "/dasbor/antrian/1/ulangi", headers={"Origin": "http://evil.example"}, allow_redirects=False
    )
    assert cross.status == 403


async def test_replay_api_answers_with_a_code_and_an_indonesian_sentence(client, pool):
    toks = await tokens(pool)
    auth = {"Authorization": f"Bearer {toks['operator']}"}
    async with pool.acquire() as conn:
        gone = await conn.fetchval(
            "INSERT INTO raw_items (source, source_ref, payload, state, reason) "
            "VALUES ('kanal-lama', 'x1', 'isi', 'quarantined', 'rusak') RETURNING id"
        )
    r = await client.post("/api/quarantine/999999/replay", headers=auth)
    assert r.status == 404
    assert await r.json() == {"outcome": "item 999999 tidak ada", "code": "not_found"}
    r = await client.post(f"/api/quarantine/{gone}/replay", headers=auth)
    assert r.status == 200
    body = await r.json()
    assert body["code"] == "source_missing" and "tidak dikonfigurasi" in body["outcome"]


async def test_an_agency_token_without_an_agency_sees_no_complaint(client, pool):
    """A token of role agency whose agency is missing (made by hand, or by an older
    version) sees nothing, as the dashboard's lists already do: not every complaint through
    the API, not another agency's complaint on the dashboard's detail page."""
    async with pool.acquire() as conn:
        cid = await conn.fetchval(
            "INSERT INTO complaints (id, source, channel, content, agency_id) VALUES "
            "(gen_random_uuid(), 's', 'sms', 'isi pengaduan yang cukup panjang', '46') "
            "RETURNING id"
        )
        _, tok = await create_token(conn, name="no-opd", role="agency", agency=None)
    h = {"Authorization": f"Bearer {tok}"}
    assert (await (await client.get("/api/complaints", headers=h)).json())["items"] == []
    listed = await client.get("/api/complaints?agency=46", headers=h)
    assert (await listed.json())["items"] == []
    assert (await client.get(f"/api/complaints/{cid}", headers=h)).status == 404
    resp = await client.post("/dasbor/masuk", data={"token": tok}, allow_redirects=False)
    assert resp.status == 303
    assert (await client.get(f"/dasbor/pengaduan/{cid}", allow_redirects=False)).status == 404


async def test_an_agency_token_by_code_opens_what_its_lists_show(pool):
    """An agency token naming its OPD by code (``PUPR``) lists the complaints LAPOR! gave
    that OPD's id (``45``); their detail opens too, in the API and on the dashboard."""
    from schemas.config import Settings

    services = make_services(pool, settings=Settings(demo=True, agencies={"PUPR": "45"}))
    async with pool.acquire() as conn:
        cid = await conn.fetchval(
            "INSERT INTO complaints (id, source, channel, content, agency_id) VALUES "
            "(gen_random_uuid(), 's', 'sms', 'isi pengaduan yang cukup panjang', '45') "
            "RETURNING id"
        )
        _, tok = await create_token(conn, name="pupr", role="agency", agency="PUPR")
    async with TestClient(TestServer(make_app(services))) as c:
        h = {"Authorization": f"Bearer {tok}"}
        items = (await (await c.get("/api/complaints", headers=h)).json())["items"]
        assert [i["id"] for i in items] == [str(cid)]
        assert (await c.get(f"/api/complaints/{cid}", headers=h)).status == 200
        resp = await c.post("/dasbor/masuk", data={"token": tok}, allow_redirects=False)
        assert resp.status == 303
        assert str(cid) in await (await c.get("/dasbor/pengaduan")).text()
        assert (await c.get(f"/dasbor/pengaduan/{cid}", allow_redirects=False)).status == 200


async def test_an_agency_does_not_see_the_reporters_other_complaints(client, pool):
    """The complaint detail names, for operators moving a message, the same reporter's
    other open complaints: an agency must not get that list (another agency's complaints,
    and for an anonymous reporter the complaints that name them)."""
    async with pool.acquire() as conn:
        rep = await conn.fetchval(
            "INSERT INTO reporters (id, key_id, phone_hash) VALUES (gen_random_uuid(), 'k',"
            " '\\x01') RETURNING id"
        )
        named = await conn.fetchval(
            "INSERT INTO complaints (id, source, channel, title, content, agency_id,"
            " reporter_id, lapor_tracking_id, status) VALUES (gen_random_uuid(), 's', 'sms',"
            " 'Lampu mati di gang rumah Budi', 'isi pengaduan yang cukup panjang', 'PUPR', $1,"
            " '1916449', 'diproses') RETURNING id",
            rep,
        )
        anonymous = await conn.fetchval(
            "INSERT INTO complaints (id, source, channel, content, source_agency, anonymous,"
            " reporter_id) VALUES (gen_random_uuid(), 's', 'sms', 'pungli di kelurahan, tolong"
            " ditindak', 'DISHUB', true, $1) RETURNING id",
            rep,
        )
    toks = await tokens(pool)
    admin = await client.get(
        f"/api/complaints/{anonymous}", headers={"Authorization": f"Bearer {toks['admin']}"}
    )
    assert [t["id"] for t in (await admin.json())["move_targets"]] == [str(named)]
    resp = await client.get(
        f"/api/complaints/{anonymous}", headers={"Authorization": f"Bearer {toks['agency']}"}
    )
    assert resp.status == 200
    body = await resp.text()
    assert str(named) not in body and "1916449" not in body and "Budi" not in body, body


async def test_an_agency_gets_no_message_ids_of_an_anonymous_reporter(client, pool):
    """An anonymous reporter's e-mail came with Message-IDs that may name their mail domain
    or their address (``<1733.budi.santoso@kantor.go.id>``): the agency's view of the
    complaint carries none of its origin, as it carries no reporter."""
    origin = {
        "message_id": "<1733.budi.santoso@kantor.go.id>",
        "references": ["<x.budi.santoso@kantor.go.id>"],
        "subject": "pungli",
    }
    async with pool.acquire() as conn:
        cid = await conn.fetchval(
            "INSERT INTO complaints (id, source, channel, content, agency_id, anonymous, origin)"
            " VALUES (gen_random_uuid(), 'mail', 'email', 'pungli di kelurahan, tolong"
            " ditindak', 'DISHUB', true, $1) RETURNING id",
            origin,
        )
    toks = await tokens(pool)
    resp = await client.get(
        f"/api/complaints/{cid}", headers={"Authorization": f"Bearer {toks['agency']}"}
    )
    assert resp.status == 200
    body = await resp.text()
    assert "budi.santoso" not in body and "kantor.go.id" not in body, body
    admin = await client.get(
        f"/api/complaints/{cid}", headers={"Authorization": f"Bearer {toks['admin']}"}
    )
    assert (await admin.json())["origin"]["message_id"] == origin["message_id"]
