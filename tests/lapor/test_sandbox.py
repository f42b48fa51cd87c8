"""The sandbox serves the contract: what a client relies on, seen from the wire."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from aggregator.lapor.sandbox import Sandbox, SandboxConfig
from tests.lapor.helpers import CLIENT, RunningSandbox, admin, start_sandbox
from tests.support.ports import free_port

BODY = {
    "external_ref": "c-1",
    "source_channel": "sms",
    "title": "Banjir di Jl. RTA Milono",
    "content": "Air setinggi lutut masuk rumah warga sejak pagi tadi.",
    "reporter": {"phone": "+6281234567890"},
}


async def token(http: aiohttp.ClientSession, base: str, client: tuple[str, str] = CLIENT) -> str:
    async with http.post(
        base + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client[0],
            "client_secret": client[1],
        },
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
        assert body["token_type"] == "Bearer"
        return str(body["access_token"])


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    tok: str,
    *,
    key: str | None = None,
    body: Any = None,
    **kw: Any,
) -> tuple[int, Any, Any]:
    headers = {"Authorization": f"Bearer {tok}"}
    if key:
        headers["Idempotency-Key"] = key
    async with http.request(method, url, json=body, headers=headers, **kw) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None), resp.headers


async def test_idempotency_replay_reuse_and_duplicate_ref(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    base, tok = sandbox.base_url, await token(http, sandbox.base_url)
    s1, created, _ = await call(http, "POST", base + "/reports", tok, key="k1", body=BODY)
    s2, replay, _ = await call(http, "POST", base + "/reports", tok, key="k1", body=BODY)
    s3, reused, _ = await call(
        http, "POST", base + "/reports", tok, key="k1", body={**BODY, "title": "lain"}
    )
    s4, dup, _ = await call(http, "POST", base + "/reports", tok, key="k2", body=BODY)
    assert (s1, s2, s3, s4) == (201, 200, 409, 409)
    assert replay == created and created["status"] == "belum_terverifikasi"
    assert reused["error"] == "idempotency_key_reused"
    assert dup == {
        "error": "duplicate_external_ref",
        "message": "external_ref already used",
        "tracking_id": created["tracking_id"],
    }
    s5, found, _ = await call(http, "GET", base + "/reports", tok, params={"external_ref": "c-1"})
    assert s5 == 200 and [i["tracking_id"] for i in found["items"]] == [created["tracking_id"]]
    _s, none, _ = await call(http, "GET", base + "/reports", tok, params={"external_ref": "x"})
    assert none == {"items": []}
    assert len(sandbox.sb.state["reports"]) == 1


async def test_strict_validation_names_every_field(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    tok = await token(http, sandbox.base_url)
    bad = {
        "external_ref": "c-2",
        "source_channel": "fax",
        "title": "",
        "content": "pendek",
        "category_id": "nope",
        "reporter": {"phone": "0812", "nik": "123"},
        "extra": 1,
        "location": {"lat": 200},
    }
    status, body, _ = await call(
        http, "POST", sandbox.base_url + "/reports", tok, key="k", body=bad
    )
    assert status == 422
    assert {f["field"] for f in body["fields"]} == {
        "extra",
        "source_channel",
        "title",
        "content",
        "category_id",
        "reporter.phone",
        "reporter.nik",
        "location.lat",
    }
    status, body, _ = await call(http, "POST", sandbox.base_url + "/reports", tok, body=BODY)
    assert status == 400 and body["error"] == "missing_idempotency_key"


async def test_tokens_expire_and_can_be_revoked(http: aiohttp.ClientSession) -> None:
    running = await start_sandbox(token_ttl_s=0.3)
    try:
        base = running.base_url
        tok = await token(http, base)
        assert (await call(http, "GET", base + "/agencies", tok))[0] == 200
        await asyncio.sleep(0.4)
        status, body, _ = await call(http, "GET", base + "/agencies", tok)
        assert (status, body["error"]) == (401, "invalid_token")
        tok = await token(http, base)
        await admin(http, running.root, "POST", "/_sandbox/tokens/revoke")
        assert (await call(http, "GET", base + "/agencies", tok))[0] == 401
        async with http.post(
            base + "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "satukanal",
                "client_secret": "wrong",
            },
        ) as resp:
            assert resp.status == 401
        # A secret with non-ASCII characters is a wrong secret too, not a 500.
        async with http.post(
            base + "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "satukanal",
                "client_secret": "rahasia-é",
            },
        ) as resp:
            assert resp.status == 401
    finally:
        await running.stop()


async def test_attachment_limits(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    tok = await token(http, sandbox.base_url)

    async def upload(data: bytes, ctype: str) -> tuple[int, Any]:
        form = aiohttp.FormData()
        form.add_field("file", data, filename="f", content_type=ctype)
        s, b, _ = await call(http, "POST", sandbox.base_url + "/attachments", tok, data=form)
        return s, b

    status, body = await upload(b"\xff\xd8\xff" + b"x" * 1000, "image/jpeg")
    assert status == 201 and body["size"] == 1003
    assert body["sha256"] == hashlib.sha256(b"\xff\xd8\xff" + b"x" * 1000).hexdigest()
    assert (await upload(b"MZ...", "application/x-msdownload"))[0] == 415
    assert (await upload(b"0" * (10 * 1024 * 1024 + 1), "image/png"))[0] == 413
    # a report may carry the attachment; an unknown id is a field error
    ok = {**BODY, "attachment_ids": [body["attachment_id"]]}
    assert (await call(http, "POST", sandbox.base_url + "/reports", tok, key="a", body=ok))[
        0
    ] == 201
    bad = {**BODY, "external_ref": "c-9", "attachment_ids": ["a-999999"]}
    status, err, _ = await call(http, "POST", sandbox.base_url + "/reports", tok, key="b", body=bad)
    assert status == 422 and err["fields"][0]["field"] == "attachment_ids"


async def test_rate_limit_answers_429_with_retry_after(http: aiohttp.ClientSession) -> None:
    running = await start_sandbox(rate_per_s=5, burst=10)
    try:
        tok = await token(http, running.base_url)
        statuses = [
            (await call(http, "GET", running.base_url + "/categories", tok)) for _ in range(15)
        ]
        codes = [s for s, _b, _h in statuses]
        assert codes.count(200) in (10, 11) and 429 in codes
        limited = next(h for s, _b, h in statuses if s == 429)
        assert int(limited["Retry-After"]) >= 1
    finally:
        await running.stop()


async def test_arrivals_are_recorded_on_the_sandbox_clock(http: aiohttp.ClientSession) -> None:
    running = await start_sandbox(rate_per_s=0.01, burst=3)  # three, then 429s
    try:
        tok = await token(http, running.base_url)
        before = time.monotonic()
        for _ in range(5):
            async with http.get(
                running.base_url + "/categories",
                headers={"Authorization": f"Bearer {tok}", "X-Satukanal-Token-At": "12.5"},
            ) as resp:
                await resp.read()
        got = await admin(http, running.root, "GET", "/_sandbox/arrivals")
        stats = (await admin(http, running.root, "GET", "/_sandbox/stats"))["arrivals"]
    finally:
        await running.stop()
    items = got["items"]
    assert got["count"] == 6 and items[0][1] == "api_token" and items[0][3] is None
    assert [(a[1], a[3]) for a in items[1:]] == [("api_categories", 12.5)] * 5
    assert [a[2] for a in items] == [200, 200, 200, 200, 429, 429]
    assert all(before - 1 <= a[0] <= time.monotonic() for a in items)
    assert stats["answered_429"] == 2 and sum(stats["per_second"].values()) == 6
    assert stats["max_per_second"] == max(stats["per_second"].values())


async def test_life_is_played_and_deterministic(http: aiohttp.ClientSession) -> None:
    """Two sandboxes with one seed give the same lives; every kind of step shows up."""

    async def play(seed: int) -> list[tuple[str, Any, Any]]:
        sb = Sandbox(SandboxConfig(seed=seed))
        for i in range(80):
            sb.create_report("satukanal", f"k{i}", {**BODY, "external_ref": f"r{i}"})
        for report in sb.state["reports"].values():
            sb.advance(report, 100)
        return [(e["type"], e.get("status"), e.get("text")) for e in sb.state["events"]]

    a, b = await play(7), await play(7)
    assert a == b and a != await play(8)
    types = {t for t, _s, _x in a}
    statuses = {s for _t, s, _x in a if s}
    assert {
        "status_changed",
        "disposed",
        "response_posted",
        "info_requested",
        "deleted",
        "reclassified",
    } <= types
    assert {
        "terverifikasi",
        "terdisposisi",
        "diproses",
        "ditindaklanjuti",
        "selesai",
        "tertunda",
        "arsip",
        "bukan_wewenang",
        "dihapus",
    } <= statuses
    texts = " ".join(x for t, _s, x in a if t == "response_posted" and x)
    assert "akan kami tindaklanjuti" in texts.lower() and "diteruskan ke" in texts
    assert "telah" in texts  # concrete follow-ups name what was done


async def test_fast_life_runs_on_its_own(http: aiohttp.ClientSession) -> None:
    running = await start_sandbox(life="fast", life_unit_s=0.05)
    try:
        tok = await token(http, running.base_url)
        _s, made, _ = await call(
            http, "POST", running.base_url + "/reports", tok, key="k", body=BODY
        )
        tid = made["tracking_id"]
        for _ in range(100):  # a life is about 15 units long
            report = await admin(http, running.root, "GET", f"/_sandbox/reports/{tid}")
            if report["next_at"] is None:
                break
            await asyncio.sleep(0.1)
        assert report["next_at"] is None  # the whole life has been played, unattended
        _s, page, _ = await call(http, "GET", running.base_url + "/updates", tok)
        statuses = [e["status"] for e in page["events"] if e["type"] == "status_changed"]
        assert len(page["events"]) >= 2 and statuses[-1] == report["status"]
    finally:
        await running.stop()


async def test_feed_cursor_faults_and_deleted_reports(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    root, base = sandbox.root, sandbox.base_url
    tok = await token(http, base)
    for i in range(5):
        await call(
            http,
            "POST",
            base + "/reports",
            tok,
            key=f"k{i}",
            body={**BODY, "external_ref": f"r{i}"},
        )
    await admin(http, root, "POST", "/_sandbox/advance", {"all": True})
    total = len(sandbox.sb.state["events"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        _s, page, _ = await call(http, "GET", base + "/updates", tok, params=params)
        seen += [e["event_id"] for e in page["events"]]
        if not page["events"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == total == len(set(seen))
    assert (await call(http, "GET", base + "/updates", tok, params={"cursor": "zz"}))[0] == 422
    assert (await call(http, "GET", base + "/updates", tok, params={"limit": "0"}))[0] == 422
    await admin(http, root, "POST", "/_sandbox/faults", {"dup_events": 0.5, "reorder_events": 0.5})
    _s, page, _ = await call(http, "GET", base + "/updates", tok, params={"limit": "500"})
    ids = [e["event_id"] for e in page["events"]]
    assert len(ids) > len(set(ids)) and set(ids) == set(seen)
    # a deleted report answers 410
    deleted = [e["tracking_id"] for e in sandbox.sb.state["events"] if e["type"] == "deleted"]
    some = deleted[0] if deleted else None
    if some is None:
        report = next(iter(sandbox.sb.state["reports"].values()))
        await admin(
            http,
            root,
            "POST",
            f"/_sandbox/reports/{report['tracking_id']}/events",
            {"type": "deleted"},
        )
        report["status"] = "dihapus"
        some = report["tracking_id"]
    status, body, _ = await call(http, "GET", f"{base}/reports/{some}", tok)
    assert (status, body["error"]) == (410, "deleted")
    assert (await call(http, "GET", f"{base}/reports/0", tok))[0] == 404


async def test_injected_server_errors_and_runtime_faults(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    tok = await token(http, sandbox.base_url)
    await admin(http, sandbox.root, "POST", "/_sandbox/faults", {"error5xx": 1})
    statuses = {
        (await call(http, "GET", sandbox.base_url + "/agencies", tok))[0] for _ in range(12)
    }
    assert statuses <= {500, 502, 503, 504} and len(statuses) > 1
    await admin(http, sandbox.root, "POST", "/_sandbox/faults", {"reset": True, "drop": 1})
    try:
        await call(http, "GET", sandbox.base_url + "/agencies", tok)
        raise AssertionError("the connection should have been dropped")
    except aiohttp.ClientError:
        pass
    got = await admin(http, sandbox.root, "POST", "/_sandbox/faults", {"reset": True})
    assert got["drop"] == 0
    _s, agencies, _ = await call(http, "GET", sandbox.base_url + "/agencies", tok)
    names = {a["name"] for a in agencies["items"]}
    assert "Dinas Perhubungan Kota Palangka Raya" in names and "Kecamatan Pahandut" in names


async def test_state_survives_a_restart(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    state = tmp_path / "sandbox.json"
    port = free_port()
    first = await start_sandbox(port=port, state_file=state)
    tok = await token(http, first.base_url)
    _s, created, _ = await call(http, "POST", first.base_url + "/reports", tok, key="k", body=BODY)
    await first.stop()
    assert json.loads(state.read_text())["reports"]
    second = await start_sandbox(port=port, state_file=state)
    try:
        tok = await token(http, second.base_url)  # tokens do not survive; reports do
        s, replay, _ = await call(
            http, "POST", second.base_url + "/reports", tok, key="k", body=BODY
        )
        assert (s, replay["tracking_id"]) == (200, created["tracking_id"])
    finally:
        await second.stop()


async def test_signed_webhook_pushes(http: aiohttp.ClientSession) -> None:
    received: list[tuple[str, str, bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (
                request.headers["X-Lapor-Timestamp"],
                request.headers["X-Lapor-Signature"],
                await request.read(),
            )
        )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    running = await start_sandbox(
        webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret="s3cret"
    )
    try:
        tok = await token(http, running.base_url)
        await call(http, "POST", running.base_url + "/reports", tok, key="k", body=BODY)
        await admin(http, running.root, "POST", "/_sandbox/advance", {"steps": 2})
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.1)
        ts, sig, raw = received[0]
        expected = hmac.new(b"s3cret", ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
        assert sig == f"sha256={expected}"
        assert json.loads(raw)["events"][0]["type"] in ("status_changed", "deleted")
    finally:
        await running.stop()
        await runner.cleanup()
