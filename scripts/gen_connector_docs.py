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

from connectors.email.options import ImapOptions, MaildirOptions  # noqa: E402
from connectors.forms.options import FormHttpOptions, SqlTableOptions  # noqa: E402
from connectors.sms.gammu import GammuOptions  # noqa: E402
from connectors.sms.http import SmsHttpOptions  # noqa: E402

KINDS: list[tuple[str, type[BaseModel], str]] = [
    ("imap", ImapOptions, "An IMAP mailbox; replies through the optional `smtp` sink or a "
                          "Maildir `outbox` the mail server picks up."),
    ("maildir", MaildirOptions, "A local Maildir an MTA delivers into (the demo uses one); "
                                "replies through `smtp` or a Maildir `outbox`."),
    ("gammu", GammuOptions, "A Gammu SMSD database (PostgreSQL or MySQL/MariaDB), in and out."),
    ("sms_http", SmsHttpOptions, "SMS pushed over HTTP: Kannel get-url and provider webhooks; "
                                 "replies through the optional `kannel` sink."),
    ("sql_table", SqlTableOptions, "An old PHP form's database, with optional write-back."),
    ("form_http", FormHttpOptions, "A drop-in endpoint for an old form's `action`, with "
                                   "receipt and status pages."),
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
        nested = [a for a in (typing.get_args(ann) or (ann,))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
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
    lines = ["# Connectors and their options", "",
             "Generated from the option models by `scripts/gen_connector_docs.py`. Each source "
             "is a `[[sources]]` block with `name`, `kind`, optional `agency`, `poll_s`, "
             "`batch_size`, `sunset`, and these `[sources.options]`. Any secret `x` may be "
             "given as `x_file`.", ""]
    for kind, model, what in KINDS:
        lines += [f"## `{kind}`", "", what, "", "| option | type | default | meaning |",
                  "|---|---|---|---|", *rows(model), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/connectors.md is not what the models say")
    args = parser.parse_args(argv)
    target = ROOT / "docs" / "connectors.md"
    text = render()
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print("docs/connectors.md is stale: run python scripts/gen_connector_docs.py",
                  file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
