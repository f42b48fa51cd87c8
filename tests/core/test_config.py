"""An invalid configuration stops start-up with a message naming the file, the key, the fault."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.crypto import Crypto, generate_key
from aggregator.errors import ConfigError
from aggregator.wiring.settings import load_settings, masked
from schemas.config import CryptoConfig


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "satukanal.toml"
    p.write_text(text)
    return p


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def test_unknown_key_is_named_with_the_file(tmp_path):
    msg = error_of(write(tmp_path, "[queue]\nworkerz = 4\n"))
    assert str(tmp_path / "satukanal.toml") in msg
    assert "queue.workerz: unknown key" in msg


def test_wrong_type(tmp_path):
    msg = error_of(write(tmp_path, '[queue]\nworkers = "four"\n'))
    assert "queue.workers" in msg and "valid integer" in msg and "'four'" in msg


def test_missing_required_value_names_the_source(tmp_path):
    msg = error_of(write(tmp_path, '[[sources]]\nname = "sms-dishub"\n'))
    assert "sources[0] (name 'sms-dishub').kind: required value is missing" in msg


def test_bad_url(tmp_path):
    msg = error_of(write(tmp_path, '[lapor]\nbase_url = "lapor dot go dot id"\n'))
    assert "lapor.base_url" in msg and "URL" in msg
    msg = error_of(write(tmp_path, '[database]\nurl = "mysql://root@localhost/x"\n'))
    assert "database.url: must start with postgresql://" in msg


def test_unreadable_secret_file(tmp_path):
    secret = tmp_path / "lapor.secret"
    secret.write_text("s3cret")
    secret.chmod(0o000)
    missing = tmp_path / "nope.secret"
    msg = error_of(write(tmp_path, f'[lapor]\nclient_secret_file = "{missing}"\n'))
    assert "client_secret_file: cannot read secret file" in msg and str(missing) in msg


def test_invalid_toml_says_where(tmp_path):
    msg = error_of(write(tmp_path, "[queue\nworkers = 1\n"))
    assert "is not valid TOML" in msg and "line 1" in msg


def test_secret_file_and_environment_override(tmp_path, monkeypatch):
    secret = tmp_path / "lapor.secret"
    secret.write_text("from-file\n")
    path = write(
        tmp_path,
        f'[lapor]\nclient_id = "pemkot"\nclient_secret_file = "{secret}"\n'
        'base_url = "https://lapor.example/api/v1"\n[queue]\nworkers = 2\n',
    )
    monkeypatch.setenv("SATUKANAL_QUEUE__WORKERS", "7")
    s = load_settings(path)
    assert s.lapor.client_secret is not None
    assert s.lapor.client_secret.get_secret_value() == "from-file"
    assert s.queue.workers == 7  # the environment wins over the file
    shown = masked(s)
    assert shown["lapor"]["client_secret"] == "***"
    assert "from-file" not in json.dumps(shown)


def test_no_key_refuses_to_start_outside_the_demo():
    with pytest.raises(ConfigError) as info:
        Crypto.from_config(CryptoConfig(), demo=False)
    assert "satukanal keys generate" in str(info.value)
    Crypto.from_config(CryptoConfig(), demo=True)  # the demo runs with its public key


def test_config_check_cli_masks_secrets_and_reports_errors(tmp_path):
    key, hkey = generate_key(), generate_key()
    good = write(
        tmp_path,
        f'[lapor]\nclient_secret = "hunter2"\nbase_url = "https://l.example/api"\n'
        f'[crypto]\nhmac_key = "{hkey}"\n[[crypto.keys]]\nid = "k1"\nsecret = "{key}"\n',
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATUKANAL_")}
    out = subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(good), "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "hunter2" not in out.stdout and key not in out.stdout
    assert json.loads(out.stdout)["lapor"]["client_secret"] == "***"
    bad = write(tmp_path, "[queue]\nworkers = 0\n")
    out = subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(bad), "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 2
    assert "queue.workers" in out.stderr and "Traceback" not in out.stderr


def test_the_example_configuration_is_valid(tmp_path):
    """deploy/satukanal.example.toml must load as shipped (its secret files made up here)."""
    import re

    root = Path(__file__).resolve().parents[2]
    text = (root / "deploy" / "satukanal.example.toml").read_text()
    for path in set(re.findall(r'_file = "([^"]+)"', text)):
        local = tmp_path / Path(path).name
        # Database secrets are whole DSNs; the rest are keys or passwords.
        local.write_text(
            "mysql://u:pw@127.0.0.1:3306/db" if local.suffix in (".dsn", ".url") else generate_key()
        )
        text = text.replace(f'"{path}"', f'"{local}"')
    s = load_settings(write(tmp_path, text))
    assert [src.kind for src in s.sources] == ["imap", "gammu", "sql_table"]
    # The connectors accept their blocks too (their constructors only validate).
    from aggregator.wiring.sources import build_sources

    class NoServices:
        settings, pool, http, crypto, clock, extras = s, None, None, None, None, {}

    assert sorted(build_sources(s, NoServices())) == ["email-pengaduan", "form-dinsos", "sms-1708"]
    assert s.sources[0].agency == "55"  # DISKOMINFO resolved to LAPOR!'s agency id
    assert s.router.min_confidence == 0.55 and s.agencies["BPBD"] == "54"
