"""Write docs/configuration.md from the settings models in ``schemas/config.py``.

Run it after changing a settings model; ``--check`` exits 1 when the file on disk is not what
the models say (the test suite runs that), so the reference never drifts from the code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.config import Settings  # noqa: E402

TARGET = ROOT / "docs" / "configuration.md"
ENV_PREFIX = "SATUKANAL_"

INTRO = """\
# Configuration reference

*Generated from the settings models in `schemas/config.py` by `scripts/gen_config_docs.py`;
do not edit by hand (the test suite fails when this page and the models disagree).*

satukanal reads one TOML file, named by `--config FILE` or the environment variable
`SATUKANAL_CONFIG`. Every key below may be overridden from the environment: the variable is
`SATUKANAL_` followed by the section and the key joined by `__`, in capitals
(`SATUKANAL_DATABASE__URL`, `SATUKANAL_QUEUE__WORKERS`); the environment wins over the file.
A commented example is `deploy/satukanal.example.toml`.

**Secrets** (type *secret*) may instead be read from a file: write `NAME_file = "/path"`
instead of `NAME = "…"` (systemd credentials, Docker secrets). The file's content, stripped
of surrounding white space, is the value. Secrets are never printed: `satukanal config check`
shows them masked.

**Agency codes**: wherever an agency is named (`sources[].agency`, `routing[].agency`,
`sla.agency_contacts`, API tokens) a friendly code from the `[agencies]` table may be used;
it is replaced by LAPOR!'s agency id when the configuration loads.

Every channel's own options (`[sources.options]`) are listed in
[connectors.md](connectors.md).
"""


def _models_in(ann: Any) -> list[type[BaseModel]]:
    return [
        a
        for a in (typing.get_args(ann) or (ann,))
        if isinstance(a, type) and issubclass(a, BaseModel)
    ]


def type_name(ann: Any) -> str:
    """A reader's name for an annotation: ``int``, ``secret``, ``list of date``, …"""
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(a) for a in typing.get_args(ann) if a is not type(None)]
        optional = type(None) in typing.get_args(ann)
        return " or ".join(names) + (" (optional)" if optional else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{_toml(a)}`" for a in typing.get_args(ann))
    if origin in (list, tuple):
        (inner, *_rest) = typing.get_args(ann) or (Any,)
        return f"list of {type_name(inner)}"
    if origin is dict:
        key, value = typing.get_args(ann)
        return f"table of {type_name(key)} → {type_name(value)}"
    simple = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        Path: "path",
        dt.date: "date",
        SecretStr: "secret",
        AnyHttpUrl: "URL",
        Any: "any",
    }
    if ann in simple:
        return simple[ann]
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "table"
    return getattr(ann, "__name__", str(ann))


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, AnyHttpUrl):
        return f'"{value}"'
    return str(value)


def shown(value: Any) -> str:
    return "(none)" if value is None or value in ([], {}) else f"`{_toml(value)}`"


def default_of(f: FieldInfo) -> str:
    if f.is_required():
        return "**required**"
    if f.default_factory is not None:
        factory = typing.cast(typing.Callable[[], Any], f.default_factory)
        return shown(factory())
    if f.default is PydanticUndefined:
        return "(none)"
    return shown(f.default)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _constraints(f: FieldInfo) -> str:
    bits = []
    for meta in f.metadata:
        for attr, word in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                bits.append(f"{word} {value}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            bits.append(f"matches `{pattern}`")
    return f" ({', '.join(bits)})" if bits else ""


def table(
    model: type[BaseModel], path: str | None, env: str | None, instance: BaseModel | None
) -> list[str]:
    """One row per plain key; nested tables get their own section (see ``sections``).

    ``instance`` is the section's value when the file leaves the section out; where it differs
    from a key's declared default, both are shown.
    """
    head = ["| key | type | default | meaning |", "|---|---|---|---|"]
    if env is not None:
        head = ["| key | type | default | environment | meaning |", "|---|---|---|---|---|"]
    rows = []
    for name, f in model.model_fields.items():
        many = typing.get_origin(f.annotation) in (list, tuple)
        if _models_in(f.annotation) and not many:
            continue  # a sub-table: its own section
        typ = type_name(f.annotation)
        if _models_in(f.annotation):
            full = f"{path}.{name}" if path else name
            typ = f"list of `[[{full}]]` tables (below)"
        default = default_of(f)
        if instance is not None:
            actual = shown(getattr(instance, name))
            if f.is_required():
                default = f"{actual} (required in a `[{path}]` table you write)"
            elif actual != default:
                default = f"{default}; {actual} when there is no `[{path}]` table"
        meaning = (f.description or "") + _constraints(f)
        cells = [f"`{name}`", typ, default]
        if env is not None:
            cells.append("—" if many and _models_in(f.annotation) else f"`{env}{name.upper()}`")
        cells.append(meaning)
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [*head, *rows] if rows else []


def sections(
    model: type[BaseModel],
    path: str,
    env: str | None,
    instance: BaseModel | None,
    list_item: bool = False,
    field_doc: str | None = None,
) -> list[str]:
    title = f"`[[{path}]]`" if list_item else f"`[{path}]`"
    out = [f"## {title}", ""]
    for doc in (field_doc, model.__doc__ if model.__doc__ != BaseModel.__doc__ else None):
        if doc and doc.strip():
            out += [" ".join(doc.split()), ""]
    rows = table(model, path, env, instance)
    if rows:
        out += [*rows, ""]
    for name, f in model.model_fields.items():
        nested = _models_in(f.annotation)
        if not nested:
            continue
        sub = nested[0]
        many = typing.get_origin(f.annotation) in (list, tuple)
        child_env = None if (env is None or many) else f"{env}{name.upper()}__"
        child_instance = None if many else getattr(instance, name, None) if instance else None
        if child_instance is None and not many and isinstance(f.default, BaseModel):
            child_instance = f.default
        out += sections(
            sub,
            f"{path}.{name}",
            child_env,
            child_instance,
            list_item=many,
            field_doc=f.description,
        )
    return out


def render() -> str:
    lines = [INTRO, "## Top level", "", *table(Settings, None, ENV_PREFIX, None), ""]
    defaults = Settings.model_construct()
    for name, f in Settings.model_fields.items():
        nested = _models_in(f.annotation)
        if not nested:
            continue
        many = typing.get_origin(f.annotation) in (list, tuple)
        env = None if many else f"{ENV_PREFIX}{name.upper()}__"
        instance = None if many else getattr(defaults, name)
        lines += sections(nested[0], name, env, instance, list_item=many, field_doc=f.description)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if docs/configuration.md is not what the models say",
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(
                f"{TARGET.relative_to(ROOT)} is stale: run python scripts/gen_config_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
