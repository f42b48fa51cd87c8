"""Write docs/connectors.md from the connectors' own option models (run after changing one).

``--check`` exits 1 when the file on disk is stale (the test suite runs that).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.base import registry  # noqa: E402

# The option models come from the installed connectors themselves (each source class's
# ``options_model``, found through the entry points); only the one-line summaries are here.
KINDS: list[tuple[str, str]] = [
    (
        "imap",
        "An IMAP mailbox; replies through the optional `smtp` sink or a "
        "Maildir `outbox` the mail server picks up.",
    ),
    (
        "maildir",
        "A local Maildir an MTA delivers into (the demo uses one); "
        "replies through `smtp` or a Maildir `outbox`.",
    ),
    ("gammu", "A Gammu SMSD database (PostgreSQL or MySQL/MariaDB), in and out."),
    (
        "sms_http",
        "SMS pushed over HTTP: Kannel get-url and provider webhooks; "
        "replies through the optional `kannel` sink.",
    ),
    ("sql_table", "An old PHP form's database, with optional write-back."),
    (
        "form_http",
        "A drop-in endpoint for an old form's `action`; citizens follow it with "
        "a receipt code on the public status page.",
    ),
    (
        "whatsapp_cloud",
        "The WhatsApp Business Cloud API: signed webhooks in, free text inside "
        "the 24-hour window and approved templates outside it "
        "(connectors/whatsapp/README.md).",
    ),
    (
        "whatsapp_gateway",
        "A local WhatsApp gateway's JSON webhook (fields mapped by "
        "configuration) and its HTTP send API.",
    ),
]


def type_name(ann: object) -> str:
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(ann))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(ann))
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(ann))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(ann, "__name__", str(ann)).replace("NoneType", "none")


def rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        nested = [
            a
            for a in (typing.get_args(ann) or (ann,))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if f.is_required():
            default = "**required**"
        elif f.default_factory is not None:
            default = "(see below)" if nested else "`[]`/`{}`"
        elif f.default is PydanticUndefined or f.default is None:
            default = ""
        else:
            default = f"`{f.default!r}`"
        desc = (f.description or "").replace("|", "\\|")
        typ = type_name(ann).replace("|", "\\|")
        out.append(f"| `{prefix}{name}` | {typ} | {default} | {desc} |")
        for sub in nested:
            out.extend(rows(sub, f"{prefix}{name}."))
    return out


def render() -> str:
    lines = [
        "# Connectors and their options",
        "",
        "Generated from the option models by `scripts/gen_connector_docs.py`. Each source "
        "is a `[[sources]]` block with `name`, `kind`, optional `agency`, `poll_s`, "
        "`batch_size`, `sunset`, and these `[sources.options]`. Any secret `x` may be "
        "given as `x_file`.",
        "",
    ]
    installed = registry()
    for kind, what in KINDS:
        model: type[BaseModel] = installed[kind].load().options_model
        lines += [
            f"## `{kind}`",
            "",
            what,
            "",
            "| option | type | default | meaning |",
            "|---|---|---|---|",
            *rows(model),
            "",
        ]
    lines += [
        "## Writing a connector",
        "",
        "A connector is a package that imports only the toolkit `connectors.base`, "
        "`schemas` and libraries, registers its source class under the entry-point group "
        "`satukanal.connectors`, and passes the conformance checks "
        "(`connectors.base.conformance.CHECKS`). Its options are a `ConnectorOptions` "
        "model loaded with `load_options`, so every mistake is reported at once as "
        "`sources.<name>.options.<key>: …`; `validate_options(kind, options)` lists them "
        'without building the source. See `docs/internals.md`, "A connector".',
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if docs/connectors.md is not what the models say",
    )
    args = parser.parse_args(argv)
    target = ROOT / "docs" / "connectors.md"
    text = render()
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(
                "docs/connectors.md is stale: run python scripts/gen_connector_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
