"""The start-up check: every realistic mistake is reported at once, where it was made, in
words a municipal administrator understands; the daemon refuses what the check refuses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.crypto import Crypto, generate_key
from aggregator.errors import ConfigError
from aggregator.wiring.check import CheckResult, check_configuration
from aggregator.wiring.settings import load_settings, masked
from schemas.config import CryptoConfig

ROOT = Path(__file__).resolve().parents[2]
# What the validation library would say; an administrator must never see it.
LIBRARY_PHRASES = (
    "Input should",
    "Extra inputs",
    "Field required",
    "validation error",
    "pydantic",
    "type=",
    "Value error",
    "Traceback",
)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "keys"
    folder.mkdir()
    k1, hmac = folder / "k1.key", folder / "hmac.key"
    for f in (k1, hmac):
        f.write_text(generate_key() + "\n")
        f.chmod(0o640)
    return k1, hmac


def secret(tmp_path: Path, name: str, value: str = "rahasia-lapor") -> Path:
    p = tmp_path / name
    p.write_text(value + "\n")
    p.chmod(0o640)
    return p


def base(
    tmp_path: Path, keys: tuple[Path, Path], *, crypto: bool = True, lapor: bool = True
) -> str:
    """A correct production configuration, to which each case adds one mistake."""
    k1, hmac = keys
    text = (
        'municipality = "Kota Palangka Raya"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        '[database]\nurl = "postgresql://satukanal:db-pw@db.kota.example:5433/pengaduan"\n'
        '[http]\npublic_base_url = "https://pengaduan.kota.example"\n'
        '[agencies]\nPUPR = "45"\nDISHUB = "46"\n'
    )
    if crypto:
        text += f'[crypto]\nhmac_key_file = "{hmac}"\n'
        text += f'[[crypto.keys]]\nid = "k1"\nsecret_file = "{k1}"\n'
    if lapor:
        text += (
            '[lapor]\nbase_url = "https://lapor.example/api/v1"\nclient_id = "pemkot"\n'
            f'client_secret_file = "{secret(tmp_path, "lapor.secret")}"\n'
        )
    return text


def check(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> CheckResult:
    path = tmp_path / "satukanal.toml"
    path.write_text(text)
    return check_configuration(path, environ=env or {})


def lines(result: CheckResult) -> list[str]:
    return [str(p) for p in result.problems]


def test_the_correct_base_passes(tmp_path, keys):
    result = check(tmp_path, base(tmp_path, keys))
    assert result.problems == [] and result.settings is not None


IMAP = """
[[sources]]
name = "email-pengaduan"
kind = "imap"
[sources.options]
host = "mail.kota.example"
user = "pengaduan@kota.example"
"""

# (what the administrator got wrong, what it adds to the base, environment, expected lines)
MISTAKES: list[tuple[str, str | tuple[str, str], dict[str, str], list[str]]] = [
    (
        "misspelt option",
        "[queue]\nworkerz = 4\n",
        {},
        ["satukanal.toml, queue.workerz: unknown option 'workerz' (did you mean 'workers'?)"],
    ),
    (
        "text for a number",
        '[queue]\nworkers = "four"\n',
        {},
        ["queue.workers: must be a whole number (got 'four')"],
    ),
    ("zero workers", "[queue]\nworkers = 0\n", {}, ["queue.workers: must be at least 1 (got 0)"]),
    (
        "not a web address",
        ("https://pengaduan.kota.example", "pengaduan dot kota"),
        {},
        ["http.public_base_url: must be a web address"],
    ),
    (
        "a MySQL database URL",
        "",
        {"SATUKANAL_DATABASE__URL": "mysql://root@localhost/x"},
        ["environment variable SATUKANAL_DATABASE__URL: must start with postgresql://"],
    ),
    (
        "a channel without kind",
        '[[sources]]\nname = "sms-dishub"\n',
        {},
        ["sources[0] (name 'sms-dishub').kind: missing: this option is required"],
    ),
    (
        "a misspelt channel kind",
        '[[sources]]\nname = "sms"\nkind = "gamu"\n',
        {},
        ["sources[0] (name 'sms').kind: there is no channel kind 'gamu'; did you mean 'gammu'?"],
    ),
    (
        "a misspelt channel option",
        IMAP + 'pasword = "x"\n',
        {},
        [
            "sources[0] (name 'email-pengaduan').options.pasword: unknown option 'pasword' "
            "(did you mean 'password'?)"
        ],
    ),
    (
        "an IMAP password file that is not there",
        IMAP + 'password_file = "/etc/nope/imap.secret"\n',
        {},
        [
            "sources[0] (name 'email-pengaduan').options.password_file: the file "
            "/etc/nope/imap.secret does not exist"
        ],
    ),
    (
        "an IMAP password not given",
        IMAP,
        {},
        ["options.password: missing: this secret is required; give it as password_file"],
    ),
    (
        "an unknown TLS mode",
        IMAP + 'password = "x"\ntls = "ssl"\n',
        {},
        ["options.tls: must be one of 'implicit', 'starttls' or 'none' (got 'ssl')"],
    ),
    (
        "move without a folder",
        IMAP + 'password = "x"\nafter = "move"\n',
        {},
        ['options: after = "move" needs move_to'],
    ),
    (
        "a reply address that is not one",
        IMAP
        + 'password = "x"\n[sources.options.smtp]\nhost = "smtp"\nfrom_address = "pengaduan"\n',
        {},
        [
            "options.smtp.from_address: must be an e-mail address like pengaduan@kota.example "
            "(got 'pengaduan')"
        ],
    ),
    (
        "an SMTP option misspelt",
        IMAP + 'password = "x"\n[sources.options.smtp]\nhots = "smtp"\nfrom_address = "a@b.id"\n',
        {},
        ["options.smtp.hots: unknown option 'hots' (did you mean 'host'?)"],
    ),
    (
        "a Gammu time zone that is none",
        '[[sources]]\nname = "sms"\nkind = "gammu"\n[sources.options]\n'
        'dsn = "postgresql://g@h/smsd"\ntimezone = "WIB"\n',
        {},
        ["sources[0] (name 'sms').options.timezone: unknown time zone 'WIB'"],
    ),
    (
        "a form database URL not given",
        '[[sources]]\nname = "form-dinsos"\nkind = "sql_table"\n[sources.options]\ntable = "x"\n',
        {},
        [
            "sources[0] (name 'form-dinsos').options.url: missing: this secret is required; "
            "give it as url_file"
        ],
    ),
    (
        "a form query that writes",
        '[[sources]]\nname = "form"\nkind = "sql_table"\n[sources.options]\n'
        'url = "mysql://u:p@h/db"\nquery = "DELETE FROM pengaduan"\n',
        {},
        ["options.query: must be one read-only SELECT"],
    ),
    (
        "two channels with one name",
        '[[sources]]\nname = "web"\nkind = "form_http"\n' * 2,
        {},
        ["sources: source name 'web' is used twice"],
    ),
    (
        "a channel name with spaces",
        '[[sources]]\nname = "Email PUPR"\nkind = "form_http"\n',
        {},
        ["sources[0] (name 'Email PUPR').name: use lowercase letters, digits"],
    ),
    (
        "a misspelt SLA time zone",
        '[sla]\ntimezone = "Asia/Jakarta "\n',
        {},
        ["sla.timezone: 'Asia/Jakarta ' is not a time zone"],
    ),
    (
        "a date that is none",
        '[sla]\nextra_holidays = ["2026-02-30"]\n',
        {},
        ["sla.extra_holidays[0]: must be a date like 2026-12-25"],
    ),
    (
        "a number in the environment that is not one",
        "",
        {"SATUKANAL_QUEUE__WORKERS": "empat"},
        ["environment variable SATUKANAL_QUEUE__WORKERS: must be a whole number (got 'empat')"],
    ),
    (
        "an option misspelt in the environment",
        "",
        {"SATUKANAL_QUEUE__WORKERZ": "3"},
        [
            "environment variable SATUKANAL_QUEUE__WORKERZ: unknown option 'workerz' "
            "(did you mean 'workers'?)"
        ],
    ),
    (
        "a log level that is none",
        ("municipality =", 'log_level = "verbose"\nmunicipality ='),
        {},
        ["log_level: must be one of 'debug', 'info', 'warning' or 'error' (got 'verbose')"],
    ),
    (
        "a secret shown nowhere",
        ("[database]\n", '[database]\npool_max = "banyak"\n'),
        {},
        ["database.pool_max: must be a whole number (got 'banyak')"],
    ),
]


@pytest.mark.parametrize("case", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_realistic_mistake_is_reported_in_plain_words(tmp_path, keys, case):
    _what, extra, env, expected = case
    text = base(tmp_path, keys)
    if isinstance(extra, tuple):  # a change to the base rather than an addition
        text, extra = text.replace(*extra, 1), ""
    result = check(tmp_path, text + extra, env)
    assert result.settings is None
    shown = lines(result)
    for want in expected:
        assert any(want in line for line in shown), (want, shown)
    for line in shown:
        assert not any(phrase in line for phrase in LIBRARY_PHRASES), line
        assert "db-pw" not in line and "rahasia" not in line
    assert len(result.errors) == len(expected), shown  # one mistake, one line


def test_no_configuration_at_all_says_so_first():
    result = check_configuration(None, environ={})
    assert [str(p) for p in result.problems] == [
        "configuration: no configuration was given: pass --config /etc/satukanal/satukanal.toml "
        "or set SATUKANAL_CONFIG (start from deploy/satukanal.example.toml; docs/install.md "
        "walks through it)"
    ]


def test_a_configuration_file_that_is_not_there(tmp_path):
    result = check_configuration(tmp_path / "satukanal.toml", environ={})
    assert "does not exist" in result.problems[0].message and len(result.problems) == 1


def test_invalid_toml_says_where(tmp_path):
    result = check(tmp_path, "[queue\nworkers = 1\n")
    assert "is not valid TOML" in result.problems[0].message
    assert "line 1" in result.problems[0].message


def test_no_lapor_section_outside_the_demo_refuses_the_sandbox(tmp_path, keys):
    result = check(tmp_path, base(tmp_path, keys, lapor=False))
    (problem,) = result.errors
    assert problem.where.endswith("satukanal.toml, lapor")
    assert "there is no [lapor] section" in problem.message and "sandbox = true" in problem.message
    # Asked for explicitly, the sandbox runs, with a warning.
    result = check(tmp_path, base(tmp_path, keys, lapor=False) + "[lapor]\nsandbox = true\n")
    assert result.errors == [] and result.settings is not None and result.settings.lapor.sandbox
    assert any("made-up Tracking IDs" in w.message for w in result.warnings)


def test_missing_lapor_client_secret(tmp_path, keys):
    text = base(tmp_path, keys, lapor=False)
    text += '[lapor]\nbase_url = "https://lapor.example/api/v1"\nclient_id = "pemkot"\n'
    (problem,) = check(tmp_path, text).errors
    assert problem.where.endswith("lapor.client_secret_file")
    assert problem.message.startswith("the LAPOR! client secret is missing")


def test_a_lapor_secret_file_that_is_empty_is_one_problem(tmp_path, keys):
    text = base(tmp_path, keys).replace(
        str(tmp_path / "lapor.secret"), str(secret(tmp_path, "empty.secret", ""))
    )
    (problem,) = check(tmp_path, text).errors
    assert problem.where.endswith("lapor.client_secret_file")
    assert problem.message == f"the file {tmp_path / 'empty.secret'} is empty"


def test_missing_hmac_key_says_so(tmp_path, keys):
    text = base(tmp_path, keys).replace(f'hmac_key_file = "{keys[1]}"\n', "")
    (problem,) = check(tmp_path, text).errors
    assert problem.where.endswith("crypto.hmac_key_file")
    assert problem.message.startswith("the HMAC key is missing")
    assert "keys generate --dir" in problem.message


def test_an_hmac_key_file_that_is_not_there_is_named(tmp_path, keys):
    text = base(tmp_path, keys).replace(str(keys[1]), "/etc/satukanal/keys/hmac.key")
    (problem,) = check(tmp_path, text).errors
    assert problem.where.endswith("crypto.hmac_key_file")
    assert "the file /etc/satukanal/keys/hmac.key does not exist" == problem.message


def test_no_keys_at_all(tmp_path, keys):
    (problem,) = check(tmp_path, base(tmp_path, keys, crypto=False)).errors
    assert problem.message.startswith("no encryption keys are configured")


def test_a_key_that_is_not_a_key(tmp_path, keys):
    keys[0].write_text("password123\n")
    (problem,) = check(tmp_path, base(tmp_path, keys)).errors
    assert problem.where.endswith("crypto.keys[0].secret")
    assert "32 bytes" in problem.message or "not a key made by" in problem.message


def test_every_problem_at_once(tmp_path, keys):
    text = base(tmp_path, keys, lapor=False).replace(f'hmac_key_file = "{keys[1]}"\n', "")
    text += "[queue]\nworkerz = 4\n" + IMAP + 'password_file = "/nope"\ntls = "ssl"\n'
    result = check(tmp_path, text, {"SATUKANAL_HTTP__PORT": "delapan"})
    shown = lines(result)
    for want in (
        "queue.workerz",
        "options.password_file",
        "options.tls",
        "environment variable SATUKANAL_HTTP__PORT",
        "there is no [lapor] section",
        "crypto.hmac_key_file",
    ):
        assert any(want in line for line in shown), (want, shown)
    assert len(result.errors) == 6, shown


def test_warnings_do_not_stop_start_up(tmp_path, keys):
    world = secret(tmp_path, "world.secret")
    world.chmod(0o644)
    text = base(tmp_path, keys).replace(str(tmp_path / "lapor.secret"), str(world))
    text += '[[routing]]\nagency = "PUPRR"\nkeywords = ["jalan"]\n'
    result = check(tmp_path, text, {"SATUKANAL_QUEUEE__WORKERS": "2"})
    assert result.errors == [] and result.settings is not None
    shown = [str(w) for w in result.warnings]
    assert any("can be read by every user" in w and "chmod 0640" in w for w in shown), shown
    assert any("'PUPRR' is not listed under [agencies]; did you mean 'PUPR'?" in w for w in shown)
    assert any("SATUKANAL_QUEUEE__WORKERS: is not a satukanal setting" in w for w in shown)


def test_the_daemon_loads_through_the_same_check(tmp_path, keys):
    path = tmp_path / "satukanal.toml"
    path.write_text(base(tmp_path, keys, lapor=False) + IMAP + 'pasword = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    msg = str(info.value)
    assert msg.startswith(f"the configuration {path} has 2 problems:")
    assert "unknown option 'pasword' (did you mean 'password'?)" in msg
    assert "there is no [lapor] section" in msg


def test_secret_file_and_environment_override(tmp_path, keys):
    path = tmp_path / "satukanal.toml"
    path.write_text(base(tmp_path, keys) + "[queue]\nworkers = 2\n")
    s = load_settings(path, environ={"SATUKANAL_QUEUE__WORKERS": "7"})
    assert s.lapor.client_secret is not None
    assert s.lapor.client_secret.get_secret_value() == "rahasia-lapor"
    assert s.queue.workers == 7  # the environment wins over the file
    shown = masked(s)
    assert shown["lapor"]["client_secret"] == "***"
    assert "rahasia" not in json.dumps(shown) and "db-pw" not in json.dumps(shown)
    # Hosts, ports and database names are what an administrator checks: shown.
    assert shown["database"]["url"] == "postgresql://satukanal:***@db.kota.example:5433/pengaduan"


def test_no_key_refuses_to_start_outside_the_demo():
    with pytest.raises(ConfigError) as info:
        Crypto.from_config(CryptoConfig(), demo=False)
    assert "satukanal keys generate" in str(info.value)
    Crypto.from_config(CryptoConfig(), demo=True)  # the demo runs with its public key


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SATUKANAL_")}
    return subprocess.run(
        [sys.executable, "-m", "aggregator", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        check=False,
        cwd=ROOT,
    )


def test_config_check_cli_masks_secrets_and_reports_errors(tmp_path, keys):
    good = tmp_path / "good.toml"
    good.write_text(base(tmp_path, keys))
    out = cli("--config", str(good), "config", "check")
    assert out.returncode == 0, out.stderr
    assert "rahasia" not in out.stdout and keys[0].read_text().strip() not in out.stdout
    shown = json.loads(out.stdout)
    assert shown["lapor"]["client_secret"] == "***"
    assert shown["database"]["url"] == "postgresql://satukanal:***@db.kota.example:5433/pengaduan"
    assert "configuration OK" in out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(base(tmp_path, keys) + "[queue]\nworkers = 0\n" + IMAP + 'pasword = "x"\n')
    out = cli("--config", str(bad), "config", "check")
    assert out.returncode == 2 and out.stdout == ""
    assert f"the configuration {bad} has 2 problems:" in out.stderr
    assert "queue.workers: must be at least 1 (got 0)" in out.stderr
    assert "Traceback" not in out.stderr
    # `run` refuses with the same words, before touching the database.
    out = cli("--config", str(bad), "run", "--until-idle")
    assert out.returncode == 2 and "queue.workers: must be at least 1 (got 0)" in out.stderr
    out = cli("config", "check")
    assert out.returncode == 2 and out.stderr.startswith("satukanal: no configuration was given")


def test_keys_generate_writes_key_files(tmp_path):
    folder = tmp_path / "keys"
    out = cli("keys", "generate", "--dir", str(folder))
    assert out.returncode == 0, out.stderr
    k1, hmac = folder / "k1.key", folder / "hmac.key"
    for f in (k1, hmac):
        assert f.stat().st_mode & 0o777 == 0o640
        assert len(f.read_text().strip()) == 44
    assert f'hmac_key_file = "{hmac}"' in out.stdout and f'secret_file = "{k1}"' in out.stdout
    first = k1.read_text()
    again = cli("keys", "generate", "--dir", str(folder))
    assert again.returncode == 2 and "is never overwritten" in again.stderr
    assert k1.read_text() == first
    rotated = cli("keys", "generate", "--dir", str(folder), "--id", "k2")
    assert rotated.returncode == 0 and (folder / "k2.key").exists()
    assert hmac.read_text() != "" and "hmac.key" not in rotated.stderr  # the HMAC key is kept


def test_the_example_configuration_is_valid(tmp_path):
    """deploy/satukanal.example.toml loads as shipped once its secret files exist (made up
    here), and its channels, once enabled, are accepted by their connectors."""
    text = (ROOT / "deploy" / "satukanal.example.toml").read_text()
    for path in set(re.findall(r'_file = "([^"]+)"', text)):
        local = tmp_path / Path(path).name
        # Database secrets are whole DSNs; the rest are keys or passwords.
        local.write_text(
            "mysql://u:pw@127.0.0.1:3306/db" if local.suffix in (".dsn", ".url") else generate_key()
        )
        local.chmod(0o640)
        text = text.replace(f'"{path}"', f'"{local}"')
    s = load_settings(_write(tmp_path, text), environ={})
    assert [src.kind for src in s.sources] == ["imap", "gammu", "sql_table"]
    assert not any(src.enabled for src in s.sources)  # they ship off until configured
    enabled = text.replace("enabled = false\n", "enabled = true\n")
    result = check(tmp_path, enabled)
    assert result.errors == [], lines(result)
    s = result.settings
    assert s is not None
    assert s.sources[0].agency == "55"  # DISKOMINFO resolved to LAPOR!'s agency id
    assert s.router.min_confidence == 0.55 and s.agencies["BPBD"] == "54"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "example.toml"
    p.write_text(text)
    return p


def test_the_container_configuration_is_valid(tmp_path):
    """deploy/container.toml with the compose secrets in place passes the start-up check."""
    text = (ROOT / "deploy" / "container.toml").read_text()
    for path in set(re.findall(r'_file = "([^"]+)"', text)):
        local = tmp_path / Path(path).name
        local.write_text(
            "postgresql://satukanal:pw@postgres:5432/satukanal"
            if local.name == "database_url"
            else generate_key()
        )
        local.chmod(0o640)
        text = text.replace(f'"{path}"', f'"{local}"')
    result = check(tmp_path, text)
    assert result.errors == [], lines(result)
    assert masked(result.settings)["database"]["url"] == (  # type: ignore[arg-type]
        "postgresql://satukanal:***@postgres:5432/satukanal"
    )
    import yaml  # schemathesis's dependency; no Docker needed to read the file

    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    app, db = compose["services"]["satukanal"], compose["services"]["postgres"]
    named = set(re.findall(r"/run/secrets/(\w+)", (ROOT / "deploy" / "container.toml").read_text()))
    assert named <= set(app["secrets"]) and named <= set(compose["secrets"])
    assert app["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["restart"] == db["restart"] == "unless-stopped"
    assert "./satukanal.toml:/etc/satukanal/satukanal.toml:ro" in app["volumes"]


def test_an_unreadable_key_and_a_missing_hmac_key_are_both_said(tmp_path, keys):
    text = base(tmp_path, keys).replace(f'hmac_key_file = "{keys[1]}"\n', "")
    text = text.replace(str(keys[0]), "/etc/satukanal/keys/k1.key")
    shown = lines(check(tmp_path, text))
    assert any(
        "crypto.keys[0].secret_file: the file /etc/satukanal/keys/k1.key does not exist" in x
        for x in shown
    ), shown
    assert any("crypto.hmac_key_file: the HMAC key is missing" in x for x in shown), shown
    assert len(shown) == 2, shown


def test_public_logo_and_fallback_sources_are_checked(tmp_path, keys):
    text = base(tmp_path, keys) + f'\n[public]\nlogo = "{tmp_path / "tidak-ada.png"}"\n'
    found = [p for p in check(tmp_path, text).errors if "public.logo" in p.where]
    assert len(found) == 1 and "cannot read" in found[0].message, lines(check(tmp_path, text))
    (tmp_path / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    ok = base(tmp_path, keys) + f'\n[public]\nlogo = "{tmp_path / "logo.svg"}"\n'
    assert check(tmp_path, ok).errors == []
    wrong = base(tmp_path, keys) + '\n[notify]\nfallback_sources = { sms = "tidak-ada" }\n'
    problems = lines(check(tmp_path, wrong))
    assert any("fallback_sources" in p for p in problems), problems
