"""The http adapter against the sandbox: tokens, error types, in-doubt, breaker, rate."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aggregator.errors import AuthError, InDoubtError, PermanentError, TransientError
from aggregator.lapor.errors import (
    AttachmentRefused,
    BreakerOpen,
    DuplicateExternalRef,
    Gone,
    IdempotencyKeyReused,
    NotFound,
    RateLimited,
    Rejected,
)
from aggregator.lapor.http import HttpLaporAdapter, error_for_status
from aggregator.lapor.models import ReportPayload
from aggregator.lapor.port import LaporPort
from schemas.complaint import Channel, Reporter
from tests.lapor.helpers import RunningSandbox, admin, lapor_config, start_sandbox
from tests.support.ports import free_port


def payload(ref: str = "c-1", **kw: object) -> ReportPayload:
    values: dict[str, object] = {
        "external_ref": ref,
        "channel": Channel.SMS,
        "title": "Lampu jalan padam",
        "content": "Lampu jalan di Jl. Beliang padam sejak Senin malam, gelap sekali.",
        "reporter": Reporter(name="Siti", phone="+6281345678901"),
    }
    values.update(kw)
    return ReportPayload(**values)  # type: ignore[arg-type]


def test_one_mapping_from_status_to_error_type() -> None:
    cases = {
        (429, "rate_limited"): RateLimited,
        (503, "x"): TransientError,
        (502, "x"): TransientError,
        (504, "x"): TransientError,
        (500, "x"): TransientError,
        (401, "invalid_token"): AuthError,
        (403, "x"): AuthError,
        (422, "x"): Rejected,
        (409, "duplicate_external_ref"): DuplicateExternalRef,
        (409, "idempotency_key_reused"): IdempotencyKeyReused,
        (404, "x"): NotFound,
        (410, "deleted"): Gone,
        (413, "x"): AttachmentRefused,
        (415, "x"): AttachmentRefused,
        (400, "x"): PermanentError,
    }
    for (status, code), kind in cases.items():
        err = error_for_status(status, {"error": code, "tracking_id": "1"}, 2.0)
        assert type(err) is kind, (status, code, err)
    assert error_for_status(429, {}, 7.0).retry_after == 7.0  # type: ignore[union-attr]


async def test_create_find_get_and_refresh_token(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    port = HttpLaporAdapter(lapor_config(sandbox.base_url), http)
    assert isinstance(port, LaporPort)
    created = await port.create_report(payload(), "c-1")
    again = await port.create_report(payload(), "c-1")
    assert again.tracking_id == created.tracking_id and again.replayed
    await admin(http, sandbox.root, "POST", "/_sandbox/tokens/revoke")
    found = await port.find_by_external_ref("c-1")
    assert found is not None and found.tracking_id == created.tracking_id
    assert port.counts["token_fetches"] == 2  # one refresh after the 401
    report = await port.get_report(str(created.tracking_id))
    assert report.status == "belum_terverifikasi"
    with pytest.raises(NotFound):
        await port.get_report("42")
    with pytest.raises(Rejected) as rejected:
        await port.create_report(payload("c-2", content="pendek"), "c-2")
    assert rejected.value.fields[0]["field"] == "content"
    stored = sandbox.sb.state["reports"][created.tracking_id]
    assert stored["reporter"] == {"name": "Siti", "phone": "+6281345678901"}
    assert next(a.name for a in await port.agencies()).startswith("Pemerintah Kota")
    assert len(await port.categories()) > 20


async def test_slot_time_is_sent_only_when_asked(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    quiet = HttpLaporAdapter(lapor_config(sandbox.base_url), http)
    await quiet.categories()
    assert [a[3] for a in sandbox.sb.arrivals] == [None, None]  # token, categories
    told = HttpLaporAdapter(lapor_config(sandbox.base_url, send_slot_time=True), http)
    before = time.monotonic()
    await told.create_report(payload("slot-1"), "slot-1")
    timed = sandbox.sb.arrivals[2:]
    assert [a[1] for a in timed] == ["api_token", "api_create_report"]
    # The client's clock when it left the rate limiter: at or before LAPOR! read it.
    assert all(before <= a[3] <= a[0] for a in timed), timed


async def test_anonymous_reporter_never_leaves(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    port = HttpLaporAdapter(lapor_config(sandbox.base_url), http)
    created = await port.create_report(payload("anon", anonymous=True), "anon")
    assert sandbox.sb.state["reports"][created.tracking_id]["reporter"] == {}


async def test_wrong_credentials_are_an_auth_error(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    port = HttpLaporAdapter(lapor_config(sandbox.base_url, client_secret="nope"), http)
    with pytest.raises(AuthError):
        await port.agencies()


async def test_timeout_after_create_is_in_doubt(http: aiohttp.ClientSession) -> None:
    running = await start_sandbox(rate_limit=False)
    try:
        await admin(
            http, running.root, "POST", "/_sandbox/faults", {"timeout_after_create": 1, "hang_s": 5}
        )
        port = HttpLaporAdapter(lapor_config(running.base_url, timeout_s=0.5), http)
        with pytest.raises(InDoubtError):
            await port.create_report(payload("doubt"), "doubt")
        # it was created: the look-up finds it, and nothing was created twice
        await admin(http, running.root, "POST", "/_sandbox/faults", {"reset": True})
        found = await port.find_by_external_ref("doubt")
        assert found is not None and len(running.sb.state["reports"]) == 1
    finally:
        await running.stop()


async def test_short_retries_ride_out_a_few_5xx(http: aiohttp.ClientSession) -> None:
    running = await start_sandbox(rate_limit=False, seed=3)
    try:
        await admin(http, running.root, "POST", "/_sandbox/faults", {"error5xx": 0.5})
        port = HttpLaporAdapter(lapor_config(running.base_url), http)
        ok = 0
        for i in range(8):
            try:
                await port.create_report(payload(f"r{i}"), f"r{i}")
                ok += 1
            except TransientError:
                pass
        assert ok >= 6  # three attempts each: most get through
        assert port.counts["http_5xx"] >= 3
        refs = [r["external_ref"] for r in running.sb.state["reports"].values()]
        assert len(refs) == len(set(refs))
    finally:
        await running.stop()


async def test_breaker_opens_and_closes_again(http: aiohttp.ClientSession) -> None:
    running = await start_sandbox(rate_limit=False)
    try:
        cfg = lapor_config(running.base_url, breaker_failures=3, breaker_reset_s=0.3)
        port = HttpLaporAdapter(cfg, http)
        await port.agencies()  # token first
        await admin(http, running.root, "POST", "/_sandbox/faults", {"error5xx": 1})
        with pytest.raises(TransientError):
            await port.agencies()
        assert port.breaker.state == "open"
        from aggregator.lapor.breaker import breakers

        assert breakers()["lapor"]["state"] == "open"
        before = running.sb.stats["requests"]
        with pytest.raises(BreakerOpen):
            await port.agencies()
        assert running.sb.stats["requests"] == before  # nothing was sent
        await admin(http, running.root, "POST", "/_sandbox/faults", {"reset": True})
        await asyncio.sleep(0.35)
        assert len(await port.agencies()) > 5
        assert port.breaker.state == "closed"
    finally:
        await running.stop()


async def test_rate_is_held_across_concurrent_callers(http: aiohttp.ClientSession) -> None:
    running = await start_sandbox(rate_per_s=50, burst=10)
    try:
        port = HttpLaporAdapter(
            lapor_config(running.base_url, rate_limit_per_s=50, rate_burst=10), http
        )
        started = time.monotonic()
        await asyncio.gather(*(port.categories() for _ in range(60)))
        elapsed = time.monotonic() - started
        assert port.counts["http_429"] == 0 and running.sb.stats["rate_limited"] == 0
        assert elapsed >= (61 - 5) / 50 * 0.95  # the bucket, not the server, held the pace
    finally:
        await running.stop()


async def test_tls_is_verified_by_default(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    """A sandbox behind a self-signed certificate is refused unless verification is off."""
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    running = await start_sandbox(rate_limit=False)
    runner = web.AppRunner(running.runner.app)
    await runner.setup()
    port_no = free_port()
    await web.TCPSite(runner, "127.0.0.1", port_no, ssl_context=ctx).start()
    try:
        url = f"https://127.0.0.1:{port_no}/api/v1"
        assert lapor_config(url).verify_tls is True
        async with aiohttp.ClientSession() as verifying:
            with pytest.raises(TransientError):
                await HttpLaporAdapter(lapor_config(url), verifying).agencies()
        insecure = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False))
        async with insecure:
            assert await HttpLaporAdapter(lapor_config(url), insecure).agencies()
    finally:
        await runner.cleanup()
        await running.stop()


def _self_signed(tmp: Path) -> tuple[str, str]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
