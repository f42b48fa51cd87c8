"""The start-up check: everything the daemon validates before it starts, minus starting.

``check_configuration`` reads the file and the ``SATUKANAL_…`` environment, validates every
section, every channel's options (with the connector's own options model), every secret
file, the encryption keys and the LAPOR! credentials, and returns *all* the problems at
once, each with where it came from (the file and key, or the environment variable) and a
sentence a municipal administrator understands. ``satukanal config check`` prints them;
every other command, ``run`` included, refuses to start while there is one.
"""

from __future__ import annotations

import difflib
import json
import stat
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from aggregator.errors import ConfigError
from schemas.config import SECRET_FILES, LaporConfig, SecretFile, Settings

ENV_PREFIX = "SATUKANAL_"
# Environment variables of the command itself or of the test suite, not settings.
ENV_NOT_SETTINGS = ("SATUKANAL_CONFIG", "SATUKANAL_TEST_")
EXAMPLE = "deploy/satukanal.example.toml"


@dataclass(frozen=True)
class Problem:
    where: str  # "FILE, key" or "environment variable NAME" or "configuration"
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class CheckResult:
    settings: Settings | None
    path: Path | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]

    def raise_for_errors(self) -> Settings:
        """The settings, or a ``ConfigError`` listing every problem."""
        if self.errors or self.settings is None:
            raise ConfigError(format_problems(self.errors, self.path))
        return self.settings


def format_problems(problems: list[Problem], path: Path | None) -> str:
    if len(problems) == 1 and problems[0].where == "configuration":
        return problems[0].message
    what = f"the configuration {path}" if path else "the configuration"
    head = f"{what} has {len(problems)} problem{'s' if len(problems) != 1 else ''}:"
    return "\n".join([head, *(f"  - {p}" for p in problems)])


# ---------------------------------------------------------------------------- the check


def check_configuration(
    path: Path | None, *, environ: Mapping[str, str], demo: bool = False
) -> CheckResult:
    """Validate ``path`` (None: environment and defaults only) as the daemon would."""
    env = _settings_env(environ)
    if path is None and not env and not demo:
        return CheckResult(
            None,
            None,
            [
                Problem(
                    "configuration",
                    (
                        "no configuration was given: pass --config "
                        "/etc/satukanal/satukanal.toml or set "
                        f"SATUKANAL_CONFIG (start from {EXAMPLE}; docs/install.md walks through it)"
                    ),
                )
            ],
        )
    raw, problem = _read_toml(path)
    if problem is not None:
        return CheckResult(None, path, [problem])
    locate = _Locator(path, raw, env)
    result = CheckResult(None, path)
    merged = _merge(raw, _nested_env(env))
    if demo:
        merged["demo"] = True
    secret_files: list[SecretFile] = []
    token = SECRET_FILES.set(secret_files)
    try:
        try:
            # The environment given, not the process's: model_validate reads no other source.
            result.settings = Settings.model_validate(merged)
        except ValidationError as exc:
            result.problems += _explain_all(exc, Settings, (), locate)
        for i, src in enumerate(_sources(result.settings, raw)):
            result.problems += _check_source(i, src, locate)
    finally:
        SECRET_FILES.reset(token)
    if result.settings is not None:
        result.problems += _check_whole(result.settings, raw, locate)
    else:
        result.problems += _check_sections_alone(merged, locate, demo=demo)
    result.problems = _without_consequences(result.problems, secret_files, locate)
    result.problems += _secret_file_problems(secret_files, locate)
    result.problems += _unknown_environment(environ, locate)
    if result.errors:
        result.settings = None
    return result


def _settings_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in environ.items()
        if k.upper().startswith(ENV_PREFIX)
        and not any(k.upper().startswith(p) for p in ENV_NOT_SETTINGS)
    }


def _nested_env(env: Mapping[str, str]) -> dict[str, Any]:
    """``SATUKANAL_QUEUE__WORKERS=7`` → ``{"queue": {"workers": "7"}}``, as pydantic-settings
    reads it: names in any case, ``__`` for nesting, JSON for lists and tables."""
    out: dict[str, Any] = {}
    for var, value in env.items():
        *parents, leaf = var[len(ENV_PREFIX) :].lower().split("__")
        if (parents[0] if parents else leaf) not in Settings.model_fields:
            continue  # not a setting: ignored, with a warning (_unknown_environment)
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[leaf] = _env_value(value)
    return out


def _env_value(value: str) -> Any:
    if value.strip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """The file with the environment on top (the environment wins, table by table)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_toml(path: Path | None) -> tuple[dict[str, Any], Problem | None]:
    if path is None:
        return {}, None
    where = "configuration"
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh), None
    except FileNotFoundError:
        msg = f"the configuration file {path} does not exist (start from {EXAMPLE})"
    except PermissionError:
        msg = (
            f"the configuration file {path} cannot be read (permission denied): the service "
            f"user must be able to read it, e.g. chgrp satukanal {path} && chmod 0640 {path}"
        )
    except IsADirectoryError:
        msg = f"{path} is a folder; --config names the configuration file"
    except tomllib.TOMLDecodeError as exc:
        msg = f"the configuration file {path} is not valid TOML: {exc}"
    except OSError as exc:
        msg = f"the configuration file {path} cannot be read: {exc.strerror or exc}"
    return {}, Problem(where, msg)


# ------------------------------------------------------------------------------ where


class _Locator:
    """Turns a key path into "FILE, key" or "environment variable NAME"."""

    def __init__(self, path: Path | None, raw: Mapping[str, Any], env: Mapping[str, str]):
        self.path = path
        self.raw = raw
        # ("queue", "workers") → "SATUKANAL_QUEUE__WORKERS"
        self.env = {tuple(k[len(ENV_PREFIX) :].lower().split("__")): k for k in env}
        self.env_values = dict(env)

    def env_var(self, loc: tuple[Any, ...]) -> str | None:
        keys = tuple(str(p).lower() for p in loc)
        for n in range(len(keys), 0, -1):
            if keys[:n] in self.env:
                return self.env[keys[:n]]
        return None

    def where(self, loc: tuple[Any, ...]) -> str:
        if (var := self.env_var(loc)) is not None:
            return f"environment variable {var}"
        key = key_path(loc, self.raw)
        return f"{self.path}, {key}" if self.path else key

    def find(self, key: str, value: str) -> tuple[Any, ...] | None:
        """Where in the file ``key = value`` is written (for a secret file's location)."""
        for loc, v in _walk(self.raw, ()):
            if loc and loc[-1] == key and str(v) == value:
                return loc
        return None


def _walk(node: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, (*loc, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, (*loc, i))
    else:
        yield loc, node


def key_path(loc: tuple[Any, ...], raw: Mapping[str, Any]) -> str:
    """``("sources", 1, "options")`` → ``sources[1] (name 'email-pupr').options``."""
    out = ""
    node: Any = raw
    for piece in loc:
        if isinstance(piece, int):
            out += f"[{piece}]"
            item = node[piece] if isinstance(node, list) and piece < len(node) else None
            if isinstance(item, dict) and item.get("name"):
                out += f" (name {item['name']!r})"
            node = item
        else:
            out += ("." if out else "") + str(piece)
            node = node.get(piece) if isinstance(node, dict) else None
    return out or "(top level)"


# ----------------------------------------------------------------- pydantic → plain words


def _explain_all(
    exc: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...], locate: _Locator
) -> list[Problem]:
    errors = exc.errors()
    # A misspelt key also leaves the real one missing: the "did you mean" says both.
    meant = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and loc:
            close = difflib.get_close_matches(
                str(loc[-1]), _known_keys(model, loc[:-1]), n=1, cutoff=0.6
            )
            meant |= {(*loc[:-1], c.removesuffix("_file")) for c in close}
    out = []
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "missing" and loc in meant:
            continue
        out.append(Problem(locate.where((*prefix, *loc)), explain(err, model, loc)))
    return out


def explain(err: Any, model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """One pydantic error as a sentence: no library phrasing, the value shown (unless secret)."""
    typ: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    name = str(loc[-1]) if loc else ""
    got = _shown(err.get("input"), name)
    if typ == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (see {EXAMPLE})"
        return f"unknown option {name!r}{hint}"
    if typ == "missing":
        fields = getattr(_model_at(model, loc[:-1]), "model_fields", None) or {}
        if name in fields and "SecretStr" in str(fields[name].annotation):
            return (
                f'missing: this secret is required; give it as {name}_file = "/path" '
                "(a file readable by the service user that holds it)"
            )
        return "missing: this option is required"
    simple = {
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "string_type": 'must be text in quotes, like "…"',
        "list_type": 'must be a list, like ["a", "b"]',
        "dict_type": "must be a section of options (a TOML table), not a single value",
        "model_type": "must be a section of options (a TOML table), not a single value",
        "model_attributes_type": "must be a section of options (a TOML table)",
        "date_parsing": "must be a date like 2026-12-25",
        "date_from_datetime_parsing": "must be a date like 2026-12-25",
        "date_type": "must be a date like 2026-12-25",
        "url_parsing": "must be a web address like https://host.example/path",
        "url_scheme": "must start with http:// or https://",
        "url_type": "must be a web address like https://host.example/path",
        "ip_any_network": "must be an address or a network like 10.0.0.0/8",
        "ip_any_address": "must be an IP address like 10.0.0.5",
        "path_type": "must be a file or folder path",
        "too_short": "must not be empty",
    }
    if typ in simple:
        return simple[typ] + got
    bounds = {
        "greater_than_equal": "must be at least {ge}",
        "greater_than": "must be more than {gt}",
        "less_than_equal": "must be at most {le}",
        "less_than": "must be less than {lt}",
        "string_too_short": "must be at least {min_length} characters long",
        "string_too_long": "must be at most {max_length} characters long",
        "too_long": "must have at most {max_length} items",
    }
    if typ in bounds:
        return bounds[typ].format(**ctx) + got
    if typ == "literal_error" or typ == "enum":
        return f"must be one of {ctx.get('expected', '?')}{got}"
    if typ == "string_pattern_mismatch":
        return _pattern_hint(str(ctx.get("pattern", "")), _description(model, loc)) + got
    if typ in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return str(err["msg"]) + got


def _pattern_hint(pattern: str, described: str | None) -> str:
    if "@" in pattern:
        return "must be an e-mail address like pengaduan@kota.example"
    if pattern.startswith("^[A-Za-z0-9_-]"):
        return "use only letters, digits, '-' and '_'"
    if pattern.startswith("^[A-Za-z0-9.-]"):
        return "must be a domain name like kota.example"
    if pattern.startswith("^[a-z0-9_]"):
        return "use only lowercase letters, digits and '_' (e.g. latin1, utf8mb4)"
    return "is not written the expected way" + (f" ({described})" if described else "")


def _shown(value: Any, name: str) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    words = set(name.lower().split("_"))
    secret = bool(words & {"secret", "password", "passkey", "token", "key", "url", "dsn"})
    return " (got a hidden value)" if secret else f" (got {value!r})"


def _model_at(model: Any, loc: tuple[Any, ...]) -> Any:
    """The model class that owns the keys at ``loc`` (None when it is free-form)."""
    current: Any = model
    for piece in loc:
        current = _unwrap(current)
        if isinstance(piece, int):
            args = typing.get_args(current)
            current = args[0] if args else None
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or piece not in fields:
            return None
        current = fields[piece].annotation
    return _unwrap(current)


def _unwrap(tp: Any) -> Any:
    """``X | None`` → ``X``; ``list[X]`` stays (indexed by the next int)."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _known_keys(model: Any, loc: tuple[Any, ...]) -> list[str]:
    owner = _model_at(model, loc)
    fields = getattr(owner, "model_fields", None) or {}
    out = list(fields)
    out += [f"{k}_file" for k, f in fields.items() if "SecretStr" in str(f.annotation)]
    return out


def _description(model: Any, loc: tuple[Any, ...]) -> str | None:
    owner = _model_at(model, loc[:-1])
    fields = getattr(owner, "model_fields", None) or {}
    f = fields.get(str(loc[-1])) if loc else None
    return f.description if f is not None else None


# --------------------------------------------------------------------------- sources


def _sources(settings: Settings | None, raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each source as plain data: from the validated settings, or (when another section is
    wrong) straight from the file, so channel options are still checked."""
    if settings is not None:
        return [s.model_dump() for s in settings.sources]
    listed = raw.get("sources")
    return [s for s in listed if isinstance(s, dict)] if isinstance(listed, list) else []


def _check_source(i: int, src: dict[str, Any], locate: _Locator) -> list[Problem]:
    from connectors.base import registry

    if not src.get("enabled", True) or not isinstance(src.get("kind"), str):
        return []
    kind = src["kind"]
    known = registry()
    if kind not in known:
        close = difflib.get_close_matches(kind, list(known), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return [
            Problem(
                locate.where(("sources", i, "kind")),
                (
                    f"there is no channel kind {kind!r}; {hint}installed kinds: "
                    + ", ".join(sorted(known))
                ),
            )
        ]
    options = src.get("options") or {}
    if not isinstance(options, dict):
        return []
    prefix = ("sources", i, "options")
    source_class = known[kind].load()
    try:
        validate_connector_options(source_class, options)
    except ValidationError as exc:
        model = connector_options_model(source_class)
        return _explain_all(exc, model or BaseModel, prefix, locate)
    except ConfigError as exc:
        return [Problem(locate.where(prefix), str(exc))]
    return []


def connector_options_model(source_class: type) -> type[BaseModel] | None:
    """The options model a connector validates ``sources[].options`` with (every source
    class declares ``options_model``; the conformance suite holds them to it)."""
    declared = getattr(source_class, "options_model", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    return None


def validate_connector_options(source_class: type, options: dict[str, Any]) -> Any:
    """Validate a channel's options the way its source will (the one place to re-point when
    the connector toolkit offers its own validation). Raises ``ValidationError`` with every
    problem, or ``ConfigError`` for a connector that validates only in its constructor."""
    model = connector_options_model(source_class)
    if model is None:
        return None
    return model.model_validate(options)


# ----------------------------------------------------------------------- secret files


def _secret_file_problems(files: list[SecretFile], locate: _Locator) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for f in files:
        if (f.key, f.path) in seen:
            continue
        seen.add((f.key, f.path))
        where = _where_secret_file(f, locate)
        if f.problem is not None:
            out.append(Problem(where, f.problem))
            continue
        try:
            mode = Path(f.path).stat().st_mode
        except OSError:
            continue
        if mode & stat.S_IROTH:
            out.append(
                Problem(
                    where,
                    (
                        f"the secret file {f.path} can be read by every user of this machine; "
                        f"chmod 0640 {f.path} (readable by root and the satukanal group only)"
                    ),
                    warning=True,
                )
            )
    return out


def _where_secret_file(f: SecretFile, locate: _Locator) -> str:
    loc = locate.find(f.key, f.path)
    if loc is not None:
        return locate.where(loc)
    for env_loc, var in locate.env.items():
        if env_loc[-1] == f.key.lower() and locate.env_values[var] == f.path:
            return f"environment variable {var}"
    return f.key


def _without_consequences(
    problems: list[Problem], files: list[SecretFile], locate: _Locator
) -> list[Problem]:
    """An unreadable ``password_file`` also leaves ``password`` missing: say it once, as
    the file's problem."""
    unreadable = {_where_secret_file(f, locate) for f in files if f.problem is not None}
    consequences = unreadable | {w.removesuffix("_file") for w in unreadable}
    return [p for p in problems if p.where not in consequences]


def _unknown_environment(environ: Mapping[str, str], locate: _Locator) -> list[Problem]:
    out = []
    top = list(Settings.model_fields)
    for var in _settings_env(environ):
        first = var[len(ENV_PREFIX) :].lower().split("__")[0]
        if first in top:
            continue
        close = difflib.get_close_matches(first, top, n=1, cutoff=0.6)
        hint = f" (did you mean {ENV_PREFIX}{close[0].upper()}…?)" if close else ""
        out.append(
            Problem(
                f"environment variable {var}",
                (f"is not a satukanal setting, so it is ignored{hint}"),
                warning=True,
            )
        )
    return out


# ------------------------------------------------------------- rules across sections


def _check_whole(settings: Settings, raw: Mapping[str, Any], locate: _Locator) -> list[Problem]:
    out: list[Problem] = []
    if settings.public.logo is not None:
        from aggregator.web.branding import logo_data_uri

        try:
            logo_data_uri(settings.public.logo)
        except ConfigError as exc:
            out.append(
                Problem(locate.where(("public", "logo")), str(exc).removeprefix("public.logo: "))
            )
    if not settings.demo:
        from aggregator.crypto import config_problems

        for key, message in config_problems(settings.crypto):
            out.append(Problem(locate.where(tuple(_split_key(key))), message))
        out += _check_lapor(settings, locate)
        if settings.database.url is None or not settings.database.url.get_secret_value():
            out.append(
                Problem(
                    locate.where(("database", "url")),
                    (
                        "no database.url: satukanal starts its own embedded PostgreSQL in "
                        f"{settings.data_dir / 'pg'}; on a server use a real PostgreSQL "
                        "(docs/install.md)"
                    ),
                    warning=True,
                )
            )
        if settings.http.public_base_url is None:
            out.append(
                Problem(
                    locate.where(("http", "public_base_url")),
                    (
                        "not set: the links in SMS and e-mail answers need the address citizens "
                        "reach satukanal at (e.g. https://pengaduan.kota.example)"
                    ),
                    warning=True,
                )
            )
    try:
        zoneinfo.ZoneInfo(settings.sla.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        out.append(
            Problem(
                locate.where(("sla", "timezone")),
                (
                    f"{settings.sla.timezone!r} is not a time zone (Asia/Jakarta, Asia/Makassar or "
                    "Asia/Jayapura)"
                ),
            )
        )
    out += _check_agency_codes(raw, locate)
    return out


def _check_sections_alone(raw: Mapping[str, Any], locate: _Locator, *, demo: bool) -> list[Problem]:
    """When another section is wrong, the keys and LAPOR! rules still apply to the sections
    that are right on their own, so one run lists everything."""
    if demo or raw.get("demo") is True:
        return []
    from aggregator.crypto import config_problems
    from schemas.config import CryptoConfig, EncryptionKey

    out: list[Problem] = []
    token = SECRET_FILES.set([])  # already recorded (and reported) by the full validation
    try:
        crypto = CryptoConfig.model_validate(raw.get("crypto") or {})
        out += [Problem(locate.where(tuple(_split_key(k))), m) for k, m in config_problems(crypto)]
    except ValidationError:
        # A key is wrong (and reported); a missing HMAC key is still worth saying now.
        written = raw.get("crypto")
        if (
            isinstance(written, dict)
            and written.get("keys")
            and not (written.get("hmac_key") or written.get("hmac_key_file"))
        ):
            only_keys = CryptoConfig(keys=[EncryptionKey(id="k", secret=SecretStr(_ANY_KEY))])
            out += [
                Problem(locate.where(tuple(_split_key(k))), m)
                for k, m in config_problems(only_keys)
            ]
    try:
        lapor = LaporConfig.model_validate(raw["lapor"]) if "lapor" in raw else None
        out += _lapor_problems(lapor, locate)
    except ValidationError:
        pass
    finally:
        SECRET_FILES.reset(token)
    return out


# A well-formed stand-in key: lets the HMAC rule be asked while a real key is unreadable.
_ANY_KEY = "c2F0dWthbmFsLXN0YW5kLWluLWtleS0zMi1ieXRlcyE="


def _split_key(key: str) -> list[Any]:
    """``crypto.keys[0].secret`` → ``["crypto", "keys", 0, "secret"]``."""
    out: list[Any] = []
    for part in key.split("."):
        name, _, index = part.partition("[")
        out.append(name)
        if index:
            out.append(int(index.rstrip("]")))
    return out


def _check_lapor(settings: Settings, locate: _Locator) -> list[Problem]:
    given = "lapor" in settings.model_fields_set
    return _lapor_problems(settings.lapor if given else None, locate)


def _lapor_problems(cfg: LaporConfig | None, locate: _Locator) -> list[Problem]:
    """Outside the demo: LAPOR! must be configured for real, or the sandbox asked for."""
    if cfg is None:
        return [
            Problem(
                locate.where(("lapor",)),
                (
                    "there is no [lapor] section, so satukanal does not know where to send "
                    "complaints. "
                    "Add [lapor] with base_url, client_id and client_secret_file from your LAPOR! "
                    f"account ({EXAMPLE}). To try satukanal against its built-in test sandbox "
                    "instead, write sandbox = true under [lapor]"
                ),
            )
        ]
    if cfg.sandbox:
        return [
            Problem(
                locate.where(("lapor", "sandbox")),
                (
                    "complaints go to the built-in LAPOR! sandbox, not to LAPOR!: citizens get "
                    "made-up Tracking IDs. Use this for testing only"
                ),
                warning=True,
            )
        ]
    out = []
    if cfg.adapter == "http" and not cfg.client_id:
        out.append(
            Problem(
                locate.where(("lapor", "client_id")),
                ("the LAPOR! client id is missing (from your LAPOR! developer account)"),
            )
        )
    if cfg.adapter in ("http", "xml-legacy") and (
        cfg.client_secret is None or not cfg.client_secret.get_secret_value()
    ):
        out.append(
            Problem(
                locate.where(("lapor", "client_secret_file")),
                (
                    "the LAPOR! client secret is missing: put it in a file readable by the service "
                    'user and name it here, e.g. client_secret_file = "/etc/satukanal/lapor.secret"'
                ),
            )
        )
    return out


def _check_agency_codes(raw: Mapping[str, Any], locate: _Locator) -> list[Problem]:
    """An OPD code not in [agencies] goes to LAPOR! as an agency id as written: a typo
    ("PUPRR") would send complaints nowhere, so say so when [agencies] is in use."""
    agencies = raw.get("agencies")
    if not isinstance(agencies, dict) or not agencies:
        return []
    known = set(agencies) | {str(v) for v in agencies.values()}
    used: list[tuple[tuple[Any, ...], str]] = []
    for key in ("sources", "routing"):
        for i, item in enumerate(raw.get(key) or []):
            if isinstance(item, dict) and isinstance(item.get("agency"), str):
                used.append(((key, i, "agency"), item["agency"]))
    contacts = (raw.get("sla") or {}).get("agency_contacts") or {}
    used += [(("sla", "agency_contacts", k), k) for k in contacts if isinstance(k, str)]
    out = []
    for loc, code in used:
        if code in known:
            continue
        close = difflib.get_close_matches(code, list(agencies), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        out.append(
            Problem(
                locate.where(loc),
                (
                    f"{code!r} is not listed under [agencies]; {hint}it would be sent to "
                    "LAPOR! as an agency id as written"
                ),
                warning=True,
            )
        )
    return out
