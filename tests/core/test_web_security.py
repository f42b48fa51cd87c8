"""Sessions, trusted proxies, throttled logins, safe headers, raw originals for admins only,
and a 4xx — never a 500 — for malformed input on every route of the listener."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aggregator.storage.admin import create_token, revoke_token
from aggregator.web.app import make_app
from aggregator.web.security import DASHBOARD_CSP, FailureThrottle, forwarded_client
from schemas.config import Settings
from tests.core.helpers import make_services


def settings(**http) -> Settings:
    return Settings(demo=True, http=http)


@pytest.fixture
async def make_client(pool):
    clients: list[TestClient] = []

    async def make(**http) -> TestClient:
        services = make_services(pool, settings=settings(**http))
        c = TestClient(TestServer(make_app(services)))
        await c.start_server()
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()


async def token(pool, role: str = "admin") -> tuple[object, str]:
    async with pool.acquire() as conn:
        return await create_token(conn, name=f"t-{role}", role=role, agency=None)


async def login(client: TestClient, tok: str, **headers: str):
    return await client.post(
        "/dasbor/masuk", data={"token": tok}, allow_redirects=False, headers=headers
    )


async def test_login_opens_a_server_side_session_that_logout_and_revocation_end(make_client, pool):
    client = await make_client()
    tid, tok = await token(pool)
    resp = await login(client, tok)
    assert resp.status == 303
    cookie = resp.cookies["satukanal_sesi"]
    assert cookie.value != tok and tok not in resp.headers.getall("Set-Cookie")[0]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # plain HTTP, no trusted proxy said otherwise
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM dashboard_sessions")
        assert stored == 1
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM dashboard_sessions WHERE id_hash = $1", cookie.value.encode()
            )
            == 0
        )  # only a hash of the id is kept
    assert (await client.get("/dasbor", allow_redirects=False)).status == 200

    # Logging out ends the session on the server: the old cookie no longer opens anything.
    session_value = cookie.value
    assert (await client.post("/dasbor/keluar", allow_redirects=False)).status == 303
    client.session.cookie_jar.update_cookies({"satukanal_sesi": session_value})
    resp = await client.get("/dasbor", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/dasbor/masuk"

    # Revoking the token ends every session opened with it.
    client.session.cookie_jar.clear()
    assert (await login(client, tok)).status == 303
    assert (await client.get("/dasbor", allow_redirects=False)).status == 200
    async with pool.acquire() as conn:
        await revoke_token(conn, tid)
    assert (await client.get("/dasbor", allow_redirects=False)).status == 303

    # The token itself as a cookie is not a session.
    client.session.cookie_jar.clear()
    _, tok2 = await token(pool)
    client.session.cookie_jar.update_cookies({"satukanal_sesi": tok2, "satukanal_token": tok2})
    assert (await client.get("/dasbor", allow_redirects=False)).status == 303


async def test_an_expired_session_is_refused(make_client, pool):
    client = await make_client()
    _, tok = await token(pool)
    assert (await login(client, tok)).status == 303
    async with pool.acquire() as conn:
        await conn.execute("UPDATE dashboard_sessions SET expires_at = now() - interval '1 s'")
    assert (await client.get("/dasbor", allow_redirects=False)).status == 303


async def test_secure_cookie_and_client_address_only_through_a_trusted_proxy(make_client, pool):
    _, tok = await token(pool)
    over_tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    untrusted = await make_client()
    resp = await login(untrusted, tok, **over_tls)
    assert not resp.cookies["satukanal_sesi"]["secure"]  # anyone can send that header

    trusted = await make_client(trusted_proxies=["127.0.0.1/32", "::1/128"])
    resp = await login(trusted, tok, **over_tls)
    assert resp.cookies["satukanal_sesi"]["secure"]
    assert "Strict-Transport-Security" in resp.headers


def test_forwarded_for_is_read_from_the_right_past_our_own_proxies() -> None:
    import ipaddress

    nets = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32")]
    # The client may prepend anything; only what our proxies appended counts.
    assert forwarded_client("127.0.0.1", "1.2.3.4, 198.51.100.9, 10.0.0.5", "https", nets) == (
        "198.51.100.9",
        "https",
    )
    assert forwarded_client("192.0.2.1", "198.51.100.9", "https", nets) == (None, None)
    assert forwarded_client("127.0.0.1", None, None, nets) == (None, None)
    assert forwarded_client("127.0.0.1", "garbage, 198.51.100.9", "ftp", nets) == (
        "198.51.100.9",
        None,
    )
    assert forwarded_client("127.0.0.1", "198.51.100.9", "https", []) == (None, None)


async def test_failed_logins_are_throttled_per_client_behind_the_proxy(make_client, pool):
    client = await make_client(trusted_proxies=["127.0.0.1/32", "::1/128"], login_failures_max=3)
    _, tok = await token(pool)
    attacker = {"X-Forwarded-For": "198.51.100.66"}
    for _ in range(3):
        assert (await login(client, "salah", **attacker)).status == 401
    blocked = await login(client, tok, **attacker)  # even the right token waits now
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Terlalu banyak percobaan" in await blocked.text()
    # Another citizen behind the same proxy is not locked out.
    assert (await login(client, tok, **{"X-Forwarded-For": "198.51.100.7"})).status == 303
    # API tokens count too.
    for _ in range(3):
        r = await client.get("/api/status", headers={"Authorization": "Bearer x", **attacker})
    r = await client.get("/api/status", headers={"Authorization": "Bearer x", **attacker})
    assert r.status == 429


def test_throttle_window_slides() -> None:
    now = [0.0]
    t = FailureThrottle(2, window_s=60, clock=lambda: now[0])
    t.failed("a")
    t.failed("a")
    assert t.retry_after("a") == pytest.approx(60)
    now[0] = 61
    assert t.retry_after("a") == 0
    t.failed("b")
    t.succeeded("b")
    assert t.retry_after("b") == 0


async def test_dashboard_and_api_send_safe_headers(make_client, pool):
    client = await make_client()
    _, tok = await token(pool)
    page = await client.get("/dasbor/masuk")
    for resp in (page, await client.get("/api/status", headers={"Authorization": f"Bearer {tok}"})):
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Content-Security-Policy"] == DASHBOARD_CSP
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    redirect = await client.get("/dasbor", allow_redirects=False)
    assert redirect.status == 303 and redirect.headers["Cache-Control"] == "no-store"
    # The page works under its policy: no inline style or script left in the templates.
    assert (await login(client, tok)).status == 303
    html = await (await client.get("/dasbor")).text()
    assert "style=" not in html and "<script" not in html


async def test_raw_originals_for_admins_only_quarantined_only_and_logged(make_client, pool):
    client = await make_client()
    _, admin = await token(pool, "admin")
    _, operator = await token(pool, "operator")
    async with pool.acquire() as conn:
        q_id = await conn.fetchval(
            "INSERT INTO raw_items (source, source_ref, payload, state, reason) "
            "VALUES ('sms', 'a', 'rusak dari 081234567890', 'quarantined', 'tidak terbaca') "
            "RETURNING id"
        )
        cid = await conn.fetchval(
            "INSERT INTO complaints (id, source, channel, status, content, received_at, "
            "anonymous) VALUES (gen_random_uuid(), 'sms', 'sms', 'received', 'x', now(), true) "
            "RETURNING id"
        )
        ok_id = await conn.fetchval(
            "INSERT INTO raw_items (source, source_ref, payload, state, complaint_id) "
            "VALUES ('sms', 'b', 'ANONIM jalan rusak, saya 081299998888', 'accepted', $1) "
            "RETURNING id",
            cid,
        )
    as_admin = {"Authorization": f"Bearer {admin}"}
    r = await client.get(f"/api/quarantine/{q_id}", headers={"Authorization": f"Bearer {operator}"})
    assert r.status == 403
    r = await client.get(f"/api/quarantine/{q_id}", headers=as_admin)
    assert r.status == 200 and await r.read() == b"rusak dari 081234567890"
    # A raw item that was not quarantined is not served by id alone (ids are sequential).
    r = await client.get(f"/api/quarantine/{ok_id}", headers=as_admin)
    assert r.status == 404
    r = await client.get(f"/api/quarantine/{ok_id}?reveal=1", headers=as_admin)
    body = await r.read()
    assert r.status == 200 and b"081299998888" not in body and b"[phone]" in body  # anonymous
    assert r.headers["X-Satukanal-Masked"] == "1"
    async with pool.acquire() as conn:
        logged = await conn.fetch("SELECT actor, action, subject FROM access_log ORDER BY id")
    assert [(x["action"], x["subject"]) for x in logged] == [
        ("raw_revealed", f"raw_item:{q_id}"),
        ("raw_revealed", f"raw_item:{ok_id}"),
    ]
    assert all(x["actor"] == "t-admin" for x in logged)
    # The administrators read the access log over the API; nobody else does.
    r = await client.get("/api/access-log", headers={"Authorization": f"Bearer {operator}"})
    assert r.status == 403
    r = await client.get("/api/access-log?limit=1", headers=as_admin)
    assert r.status == 200
    assert [i["subject"] for i in (await r.json())["items"]] == [f"raw_item:{ok_id}"]
    assert (await client.get("/api/access-log?limit=x", headers=as_admin)).status == 400


MALFORMED_IDS = ["abc", "-1", "1.5", "99999999999999999999999", "%F0%9F%98%80", "١٢٣", "0x10"]


async def test_malformed_input_gets_a_4xx_on_every_route(make_client, pool):
    client = await make_client()
    _, admin = await token(pool, "admin")
    assert (await login(client, admin)).status == 303
    bearer = {"Authorization": f"Bearer {admin}"}
    routes = []
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "HEAD" and "static" not in path:
            routes.append((route.method, path))
    assert len(routes) >= 15
    seen = 0
    for method, path in routes:
        variants = [path.replace("{id}", bad) for bad in MALFORMED_IDS] if "{" in path else [path]
        for url in variants:
            for headers, data in (
                ({}, None),
                ({"Content-Type": "application/json"}, b'{"reason": '),
                ({"Content-Type": "multipart/form-data; boundary=\xff\xfe"}, b"\xff\x00garbage"),
                (
                    {"Content-Type": "application/x-www-form-urlencoded; charset=klingon"},
                    b"reason=%ZZ%%",
                ),
                ({"X-Lapor-Signature": "sha256=\u00e9\u00e9", "X-Lapor-Timestamp": "١٢٣"}, b"{}"),
            ):
                h = {**bearer, **headers}
                resp = await client.request(
                    method, url, headers=h, data=data, allow_redirects=False
                )
                seen += 1
                assert resp.status < 500, (method, url, headers, resp.status, await resp.text())
    assert seen > 100


INTAKE_HEADERS: list[tuple[dict[str, str], bytes | None]] = [
    ({}, None),
    ({"Content-Type": "application/json"}, b'{"entry": [{"changes": '),
    ({"Content-Type": "application/json"}, b"[" * 5000 + b"]" * 5000),
    ({"Content-Type": "application/json"}, b'["not", "an", "object"]'),
    ({"Content-Type": "application/json"}, b'{"object": "whatsapp_business_account", "entry": 7}'),
    ({"Content-Type": "application/json; charset=\xff"}, b"\xff\xfe\x00{"),
    ({"Content-Type": "multipart/form-data; boundary=\xff\xfe"}, b"\xff\x00garbage"),
    ({"Content-Type": "application/x-www-form-urlencoded; charset=klingon"}, b"a=%ZZ%%"),
    ({"X-Hub-Signature-256": "sha256=\u00e9\u00e9", "Content-Type": "application/json"}, b"{}"),
    ({"X-Hub-Signature-256": "md5=zz"}, b"{}"),
    ({"X-Signature": "sha256=\u00e9", "X-Satukanal-Secret": "\u00e9\u00e9"}, b"{}"),
    ({"X-Satukanal-Secret": "x" * 5000}, b'{"from": "62812", "id": 5}'),
    ({"Authorization": "Basic \u00e9\u00e9\u00e9"}, b"phone=0812&text=hi"),
    ({"Authorization": "Basic !!!notbase64"}, b"phone=0812&text=hi"),
    ({"X-Lapor-Signature": "sha256=\u00e9\u00e9", "X-Lapor-Timestamp": "١٢٣"}, b"{}"),
]
INTAKE_QUERIES = [
    "",
    "?hub.mode=subscribe&hub.verify_token=%FF%FE&hub.challenge=%00",
    "?hub.mode=&hub.challenge=" + "9" * 5000,
    "?phone=%ZZ&text=%FF%FE&smsc=\u00e9&ts=not-a-time",
]


async def test_every_intake_route_answers_4xx_on_malformed_input(pool):
    """The routes a deployment's sources add (the form, the SMS and Kannel pushes, both
    WhatsApp webhooks and the Cloud API's verification GET, the LAPOR! webhook, the
    status page), walked with broken bodies, signatures, charsets and queries."""
    from aggregator.wiring.assemble import http_routes
    from aggregator.wiring.sources import build_sources, capabilities

    secret = "route-walk-shared-secret-123"
    cfg = Settings(
        demo=True,
        lapor={"sandbox": True, "webhook_secret": secret},
        sources=[
            {"name": "web-form", "kind": "form_http"},
            {"name": "sms-push", "kind": "sms_http", "options": {"secret": secret}},
            {
                "name": "wa",
                "kind": "whatsapp_cloud",
                "options": {
                    "phone_number_id": "106540352242922",
                    "access_token": "EAAG-test",
                    "app_secret": secret,
                    "verify_token": secret,
                },
            },
            {"name": "wa-gw", "kind": "whatsapp_gateway", "options": {"secret": secret}},
        ],
    )
    services = make_services(pool, settings=cfg)
    sources = build_sources(services.settings, services)
    client = TestClient(
        TestServer(make_app(services, extra=http_routes(services, capabilities(sources))))
    )
    await client.start_server()
    try:
        routes = set()
        for route in client.app.router.routes():
            info = route.resource.get_info() if route.resource else {}
            path = info.get("path") or info.get("formatter") or ""
            if path.startswith(("/intake/", "/lapor/", "/status")) and route.method != "HEAD":
                routes.add((route.method, path))
        prefixes = {p.split("/")[2] for _, p in routes if p.startswith("/intake/")}
        assert prefixes == {"web-form", "sms-push", "wa", "wa-gw"}, routes
        assert ("POST", "/lapor/webhook") in routes and ("GET", "/intake/wa/webhook") in routes
        seen = 0
        for method, path in sorted(routes):
            urls = [re.sub(r"\{[^}]+\}", bad, path) for bad in MALFORMED_IDS]
            for url in urls if "{" in path else [path]:
                for query in INTAKE_QUERIES:
                    for headers, data in INTAKE_HEADERS:
                        resp = await client.request(
                            method, url + query, headers=headers, data=data, allow_redirects=False
                        )
                        seen += 1
                        assert resp.status < 500, (
                            method,
                            url + query[:80],
                            headers,
                            (data or b"")[:80],
                            resp.status,
                            (await resp.text())[:500],
                        )
        assert seen > 500
        async with pool.acquire() as conn:  # nothing malformed was taken in
            assert await conn.fetchval("SELECT count(*) FROM complaints") == 0
    finally:
        await client.close()
        for src in sources.values():
            await src.close()


MALFORMED_QUERIES = [
    "?q=%00&opd=%00&status=%00&source=%00&agency=%00&pelapor=%00&klaster=%00",
    "?q=12345%00&kanal=sms%00&label=%00&sla=%00&setelah=2026-01-01_%00&sebelum=1%00",
    "?limit=-1&before=2026-01-01T00:00:00%00",
    "?limit=-99999999999999999999&bulan=%00&urut=%00&arah=%00&pesan=%00&id=%00",
]


async def test_malformed_query_strings_get_a_4xx_never_a_500_on_every_route(make_client, pool):
    """A NUL byte in a query value (PostgreSQL's text cannot hold one) or a negative limit
    is the client's mistake on any route: a 4xx, not a 500."""
    client = await make_client()
    _, admin = await token(pool, "admin")
    assert (await login(client, admin)).status == 303
    bearer = {"Authorization": f"Bearer {admin}"}
    seen = 0
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not path or route.method != "GET" or "static" in path:
            continue
        url = path.replace("{id}", "1").replace("{code}", "1916449")
        for query in MALFORMED_QUERIES:
            resp = await client.get(url + query, headers=bearer, allow_redirects=False)
            seen += 1
            assert resp.status < 500, (url + query, resp.status, await resp.text())
    for body in ({"reason": "dibuang\u0000"}, {"to": "\u0000"}):
        for url in ("/api/jobs/1/discard", "/api/complaints/" + "0" * 32 + "/as-reply"):
            resp = await client.post(url, json=body, headers=bearer)
            seen += 1
            assert resp.status < 500, (url, body, resp.status, await resp.text())
    resp = await client.post(
        "/dasbor/antrian/1/buang", data={"reason": "x\u0000"}, allow_redirects=False
    )
    assert resp.status < 500, await resp.text()
    assert seen > 50
