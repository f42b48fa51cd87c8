"""Real-world messages the conformance suite parses with the network disabled: a citizen's
complaint, a reply naming its Tracking ID, an out-of-office answer and a file that is not
an e-mail at all."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from connectors.base import RawItem
from connectors.base.conformance import ConformanceSamples

FILES = (
    "01_plain_indonesian.eml",
    "26_reply_tag_subject.eml",
    "18_out_of_office.eml",
    "33_not_an_email.eml",
)


def mail_samples(options: dict[str, Any]) -> ConformanceSamples:
    folder = files("connectors.email") / "samples"
    items = tuple(
        RawItem(
            source_ref=f"sample:{name}",
            payload=(folder / name).read_bytes(),
            content_type="message/rfc822",
        )
        for name in FILES
    )
    return ConformanceSamples(options=options, items=items)
