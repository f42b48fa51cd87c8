"""scripts/install-server.sh as docs/install.md describes it: installed into a scratch root,
then the daemon started from there as the service user until /readyz says ready, and the
systemd unit verified by systemd-analyze against that root."""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.conftest import drop_database, make_database
from tests.core.test_daemon import ENV, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed() -> Iterator[tuple[Path, str]]:
    """The script run once into a scratch root, with a throwaway service user."""
    if os.geteuid() != 0:
        pytest.skip("the install script creates a system user: run as root (CI is)")
    # World-traversable, unlike pytest's tmp dirs: the service user must reach its files.
    root = Path(tempfile.mkdtemp(prefix="satukanal-root-", dir="/var/tmp"))
    root.chmod(0o755)
    user = f"sk-{uuid.uuid4().hex[:8]}"
    try:
        out = subprocess.run(
            [
                "sh",
                str(ROOT / "scripts" / "install-server.sh"),
                "--root",
                str(root),
                "--user",
                user,
            ],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=900,
            check=False,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "next steps" in out.stdout
        yield root, user
    finally:
        subprocess.run(["userdel", user], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def owner(path: Path) -> tuple[str, str, int]:
    st = path.stat()
    return (
        pwd.getpwuid(st.st_uid).pw_name,
        grp.getgrgid(st.st_gid).gr_name,
        stat.S_IMODE(st.st_mode),
    )


def test_files_land_with_the_right_owners_and_modes(installed):
    root, user = installed
    etc = root / "etc" / "satukanal"
    assert owner(etc) == ("root", user, 0o750)
    assert owner(etc / "keys") == ("root", user, 0o750)
    for key in ("k1.key", "hmac.key"):
        assert owner(etc / "keys" / key) == ("root", user, 0o640)
    assert owner(etc / "satukanal.toml") == ("root", user, 0o640)
    assert (etc / "satukanal.toml").read_text() == (
        ROOT / "deploy" / "satukanal.example.toml"
    ).read_text()
    assert owner(root / "var" / "lib" / "satukanal") == (user, user, 0o750)
    assert owner(root / "opt" / "satukanal")[:2] == ("root", "root")
    assert (root / "opt" / "satukanal" / "venv" / "bin" / "satukanal").is_file()
    assert pwd.getpwnam(user).pw_shell == "/usr/sbin/nologin"


def test_running_it_again_keeps_keys_and_configuration(installed):
    root, user = installed
    key = root / "etc" / "satukanal" / "keys" / "k1.key"
    before = key.read_text()
    out = subprocess.run(
        ["sh", str(ROOT / "scripts" / "install-server.sh"), "--root", str(root), "--user", user],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "keeping the existing keys" in out.stdout and key.read_text() == before


def test_the_unit_passes_systemd_analyze_verify(installed):
    root, user = installed
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (debian-packages.txt)")
    unit = root / "etc" / "systemd" / "system" / "satukanal.service"
    shipped = (ROOT / "deploy" / "satukanal.service").read_text()
    assert unit.read_text() == shipped.replace("User=satukanal", f"User={user}").replace(
        "Group=satukanal", f"Group={user}"
    )
    # The root a real server has: systemd's own units beside ours.
    shutil.copytree(
        "/usr/lib/systemd/system",
        root / "usr" / "lib" / "systemd" / "system",
        dirs_exist_ok=True,
        symlinks=True,
    )
    out = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "satukanal.service"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "satukanal.service" not in out.stderr, out.stderr  # no warning about our unit


async def test_the_installed_daemon_starts_as_the_service_user(installed, pg_server_dsn):
    root, user = installed
    if not urlsplit(pg_server_dsn).hostname:
        pytest.skip(
            "the service user cannot reach the embedded test PostgreSQL's private socket; "
            "this test runs against SATUKANAL_TEST_DATABASE_URL (scripts/test.sh sets it)"
        )
    etc = root / "etc" / "satukanal"
    state = root / "var" / "lib" / "satukanal"
    exe = root / "opt" / "satukanal" / "venv" / "bin" / "satukanal"
    dsn = await make_database(pg_server_dsn, template=None)
    port = free_port()
    # The installed example, as an administrator edits it: the database, LAPOR! (the sandbox,
    # asked for explicitly), the port; the keys are the files the script wrote.
    text = (etc / "satukanal.toml").read_text()
    text = text.replace("/etc/satukanal/keys/", f"{etc}/keys/")
    # docs/install.md: the LAPOR! secret in its own file, readable by the service's group.
    lapor_secret = etc / "lapor.secret"
    lapor_secret.write_text("dari-akun-lapor\n")
    lapor_secret.chmod(0o640)
    os.chown(lapor_secret, 0, grp.getgrnam(user).gr_gid)
    text = text.replace("/etc/satukanal/lapor.secret", str(lapor_secret))
    text = text.replace('data_dir = "/var/lib/satukanal"', f'data_dir = "{state}"')
    text = text.replace(
        'url = "postgresql:///satukanal?host=/var/run/postgresql"', f'url = "{dsn}"'
    )
    text = text.replace("sandbox = false ", "sandbox = true ")
    text = text.replace("port = 8470", f"port = {port}")
    config = etc / "satukanal.toml"
    config.write_text(text)
    as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
    env = {**ENV, "HOME": str(state), "USER": user}
    try:
        check = await asyncio.to_thread(
            subprocess.run,
            [*as_user, str(exe), "--config", str(config), "config", "check"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert check.returncode == 0, check.stderr
        assert "built-in LAPOR! sandbox" in check.stderr  # said, since it is not LAPOR!
        proc = await asyncio.create_subprocess_exec(
            *as_user,
            str(exe),
            "--config",
            str(config),
            "run",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        try:
            try:
                body = await ready(port, proc)
            except AssertionError as exc:
                if proc.returncode is None:
                    proc.kill()
                out, _ = await asyncio.wait_for(proc.communicate(), 30)
                raise AssertionError(f"{exc}:\n{out.decode(errors='replace')[-4000:]}") from exc
            assert body["status"] == "ready", body
            # The container's HEALTHCHECK: the port comes from the configuration.
            health = await asyncio.create_subprocess_exec(
                *as_user, str(exe), "--config", str(config), "healthcheck", env=env
            )
            assert await health.wait() == 0
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, out.decode()
        assert b"daemon_stopped" in out
        assert (state / "lapor-sandbox.json").exists()
        assert owner(state / "lapor-sandbox.json")[0] == user
    finally:
        await drop_database(pg_server_dsn, dsn)


async def ready(port: int, proc: asyncio.subprocess.Process) -> dict[str, object]:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if proc.returncode is not None:
                raise AssertionError(f"the daemon exited with {proc.returncode}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        body: dict[str, object] = await resp.json()
                        return body
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("the daemon never became ready")
