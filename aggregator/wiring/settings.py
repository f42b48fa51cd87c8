"""Load the configuration: one TOML file plus ``SATUKANAL_…`` environment overrides.

Errors are rewritten for a municipal administrator: the file, the key, what is wrong.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from aggregator.errors import ConfigError
from schemas.config import Settings


def _key_path(loc: tuple[Any, ...], raw: Mapping[str, Any]) -> str:
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


def format_validation_error(exc: ValidationError, where: str, raw: Mapping[str, Any]) -> str:
    lines = [f"configuration error in {where}:"]
    for err in exc.errors():
        key = _key_path(tuple(err["loc"]), raw)
        typ = err["type"]
        if typ == "extra_forbidden":
            msg = "unknown key (check the spelling; see deploy/satukanal.example.toml)"
        elif typ == "missing":
            msg = "required value is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if (
                "input" in err
                and typ not in ("value_error",)
                and not isinstance(err["input"], dict)
            ):
                shown = err["input"]
                if isinstance(shown, str) and any(s in key for s in ("secret", "password", "url")):
                    shown = "***"
                msg += f" (got {shown!r})"
        lines.append(f"  - {key}: {msg}")
    return "\n".join(lines)


def load_settings(path: Path | None, *, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read ``path`` (may be None: defaults and environment only) and validate everything."""
    raw: dict[str, Any] = {}
    where = "environment/defaults"
    if path is not None:
        where = f"config file {path}"
        try:
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except PermissionError as exc:
            raise ConfigError(f"config file {path} cannot be read (permission denied)") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    if overrides:
        raw = {**raw, **overrides}
    try:
        return Settings(**raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where, raw)) from exc


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, every secret shown as ``***``."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "***" if value.get_secret_value() else ""
        if isinstance(value, dict):
            return {k: ("***" if _secret_key(k) and v else walk(v)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    data = settings.model_dump(mode="python")
    return json.loads(json.dumps(walk(data), default=str))


def _secret_key(key: str) -> bool:
    return any(s in key.lower() for s in ("password", "secret", "token", "passkey"))
