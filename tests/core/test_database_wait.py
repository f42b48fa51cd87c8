"""The daemon started before its database (a container beside PostgreSQL, a server booting)
waits for it with backoff and a clear log line, within database.connect_wait_s."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from tests.core.test_daemon import ENV, cli, config, free_port


async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def via_port(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    # The embedded server's DSN names its socket (?host=…), which would bypass the port.
    return urlunsplit(
        parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host, query="")
    )


async def test_the_daemon_waits_for_a_database_that_comes_up_late(tmp_path: Path, db_dsn: str):
    target = urlsplit(db_dsn)
    port = free_port()
    cfg = config(tmp_path, via_port(db_dsn, port))
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aggregator",
            "--config",
            str(cfg),
            "run",
            "--until-idle",
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
    # PostgreSQL "starts" once the daemon has found it missing and said so: a forwarder on
    # the configured port. (Waiting for the log line, not a fixed time: on a loaded machine
    # the interpreter alone may take seconds to start.)
    deadline = time.monotonic() + 60
    while b"database_not_ready_retrying" not in log.read_bytes():
        assert proc.returncode is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        await asyncio.sleep(0.2)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        socket_dir = parse_qs(target.query).get("host", [None])[0]
        if socket_dir:  # the embedded server: its Unix socket
            up_r, up_w = await asyncio.open_unix_connection(
                f"{socket_dir}/.s.PGSQL.{target.port or 5432}"
            )
        else:
            up_r, up_w = await asyncio.open_connection(target.hostname, target.port or 5432)
        await asyncio.gather(forward(reader, up_w), forward(up_r, writer))

    server = await asyncio.start_server(pipe, "127.0.0.1", port)
    try:
        code = await asyncio.wait_for(proc.wait(), 90)
    finally:
        server.close()
    assert code == 0, log.read_text()
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    waits = [e for e in events if e.get("event") == "database_not_ready_retrying"]
    assert waits, log.read_text()
    assert waits[0]["target"].endswith(f":{port}/{target.path.lstrip('/')}")
    assert "ConnectionRefusedError" in waits[0]["error"] and waits[0]["gives_up_in_s"] > 0
    assert any(e.get("event") == "daemon_stopped" for e in events)


def test_the_wait_is_bounded_and_commands_do_not_wait(tmp_path: Path):
    port = free_port()
    cfg = config(tmp_path, f"postgresql://nobody@127.0.0.1:{port}/none")
    cfg.write_text(cfg.read_text().replace("[database]\n", "[database]\nconnect_wait_s = 2\n"))
    started = time.monotonic()
    out = cli(cfg, "run", "--until-idle")
    took = time.monotonic() - started
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "gave up after waiting 2 s: database.connect_wait_s" in out.stderr
    assert 1.5 < took < 30
    started = time.monotonic()
    out = cli(cfg, "status")
    assert out.returncode == 2 and "cannot connect to PostgreSQL" in out.stderr
    assert time.monotonic() - started < 15  # an inspection command answers at once
