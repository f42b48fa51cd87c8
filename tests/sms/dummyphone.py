"""Write incoming SMS into gammu's dummy phone folder, the way a modem would deliver them.

Each file is one SMS in Gammu's smsbackup INI format with ``PDU = Deliver`` (a ``Submit``
PDU is read and silently dropped). It is written next to the folder and renamed in, so the
daemon never reads half a file.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

_counter = itertools.count(1)


def _hex_lines(data: bytes) -> list[str]:
    h = data.hex().upper()
    return [h[i : i + 200] for i in range(0, len(h), 200)] or [""]


def sms_file(
    number: str,
    text: str | bytes,
    *,
    coding: str = "Default_No_Compression",
    udh: str | None = None,
    when: dt.datetime | None = None,
    smsc: str = "+62816124",
) -> str:
    when = when or dt.datetime(2026, 11, 28, 8, 15, 2, tzinfo=dt.UTC)
    if coding == "8bit":
        raw = text if isinstance(text, bytes) else text.encode("latin-1")
        length = len(raw)
    else:
        assert isinstance(text, str)
        raw = text.encode("utf-16-be")
        length = len(raw) // 2
    lines = [
        "[SMSBackup000]",
        f'SMSC = "{smsc}"',
        f"SMSCUnicode = {smsc.encode('utf-16-be').hex().upper()}",
        "PDU = Deliver",
        f"DateTime = {when.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S')}Z",
        "State = UnRead",
        f'Number = "{number}"',
        f"NumberUnicode = {number.encode('utf-16-be').hex().upper()}",
        'Name = ""',
        "NameUnicode = ",
    ]
    if udh:
        lines.append(f"UDH = {udh}")
    for i, chunk in enumerate(_hex_lines(raw)):
        lines.append(f"Text{i:02d} = {chunk}")
    lines += [f"Coding = {coding}", "Folder = 1", f"Length = {length}", "Class = -1", ""]
    return "\r\n".join(lines) + "\r\n"


def inject(device: Path, content: str) -> Path:
    """Rename a finished file into ``<device>/sms/1/`` so the daemon sees it whole."""
    inbox = device / "sms" / "1"
    inbox.mkdir(parents=True, exist_ok=True)
    n = next(_counter)
    tmp = device / f".incoming-{os.getpid()}-{n}"
    tmp.write_text(content, encoding="ascii")
    # Dummy folder files are numbered; pick a free number.
    k = 1
    while (inbox / str(k)).exists():
        k += 1
    target = inbox / str(k)
    os.rename(tmp, target)
    return target
