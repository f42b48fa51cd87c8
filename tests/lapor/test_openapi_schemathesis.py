"""schemathesis against the live sandbox (its own /openapi.json) finds no server error."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.support.ports import free_port


async def _wait_ready(http: aiohttp.ClientSession, url: str) -> dict[str, object]:
    for _ in range(100):
        try:
            async with http.get(url) as resp:
                if resp.status == 200:
                    doc: dict[str, object] = await resp.json()
                    return doc
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the sandbox did not start")


async def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "sandbox.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, waited on below
        [
            sys.executable,
            "-m",
            "aggregator.lapor.sandbox",
            "--port",
            str(port),
            "--life",
            "fast",
            "--life-unit",
            "0.05",
            "--no-rate-limit",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        root = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            doc = await _wait_ready(http, root + "/openapi.json")
            assert {"/reports", "/updates", "/attachments", "/oauth/token"} <= set(doc["paths"])  # type: ignore[arg-type]
            async with http.post(
                root + "/api/v1/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "satukanal",
                    "client_secret": "sandbox-secret",
                },
            ) as resp:
                token = (await resp.json())["access_token"]
        st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
        run = await asyncio.to_thread(
            subprocess.run,
            [
                st,
                "run",
                root + "/openapi.json",
                "--checks",
                "not_a_server_error",
                "-H",
                f"Authorization: Bearer {token}",
                "-n",
                "20",
                "--generation-deterministic",
                "--no-color",
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1"},
        )
        out = run.stdout + run.stderr
        assert run.returncode == 0, out[-4000:]
        assert "Authentication failed" not in out
        assert " passed" in out
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    server_log = (tmp_path / "sandbox.log").read_text(errors="replace")
    # The only tracebacks allowed are aiohttp's own parser refusing NUL bytes in headers.
    tracebacks = server_log.count("Traceback")
    assert tracebacks == server_log.count("BadHttpMessage"), server_log[-4000:]
