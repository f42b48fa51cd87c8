"""Pure repairs of what old PHP forms stored: bytes, dates, HTML. No I/O.

Old form databases are latin1 tables written through latin1 connections by PHP 5 apps, so
the bytes of a UTF-8 page sit in the table as latin1 characters. The connector therefore reads
*bytes* (a latin1 connection returns them unchanged) and decides here what they are. Each
repair returns the flags that say what was done, so nothing is silently changed.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import ftfy
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

TEXT_LIMIT = 65535  # MySQL TEXT: PHP forms silently cut longer complaints here

# MariaDB's latin1 is cp1252 except five bytes cp1252 leaves undefined, which MariaDB maps
# to the C1 controls of the same number (so Python's cp1252 codec cannot undo it).
_MARIADB_LATIN1 = {b: chr(b) for b in range(256)}
for _b in range(0x80, 0xA0):
    try:
        _MARIADB_LATIN1[_b] = bytes([_b]).decode("cp1252")
    except UnicodeDecodeError:
        pass
_LATIN1_TABLE = "".join(_MARIADB_LATIN1[b] for b in range(256))
_MOJIBAKE_HINT = re.compile("[ÃÂâÅ][\u0080-\u00bf\u2010-\u203a\u20ac\u0152-\u0178]")
_HTML = re.compile(r"<\s*(/?[a-zA-Z][a-zA-Z0-9]*|!--)[^<>]*>")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_DROP_TAGS = ("script", "style", "iframe", "object", "embed", "noscript", "template")
_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", re.IGNORECASE)


_PY_CODECS = {
    "ascii": "ascii",
    "latin2": "iso8859_2",
    "cp1250": "cp1250",
    "cp1251": "cp1251",
    "greek": "iso8859_7",
    "hebrew": "iso8859_8",
    "latin5": "iso8859_9",
    "tis620": "tis_620",
    "gbk": "gbk",
    "big5": "big5",
    "sjis": "shift_jis",
    "ujis": "euc_jp",
    "euckr": "euc_kr",
    "gb2312": "gb2312",
    "koi8r": "koi8_r",
}


def mariadb_latin1(data: bytes) -> str:
    """Bytes as MariaDB's latin1 shows them (cp1252 with its five extra C1 mappings)."""
    return data.decode("latin-1").translate(_TRANSLATE)


_TRANSLATE = {b: ord(_LATIN1_TABLE[b]) for b in range(0x80, 0xA0)}


def decode_legacy(
    data: bytes | str | None,
    charset: str | None = None,
) -> tuple[str, tuple[str, ...]]:
    """Text from a legacy column's bytes, with flags naming each repair.

    ``charset`` is the table's, where it is not the source's default: a ``utf8``/``utf8mb4``
    table's bytes are UTF-8 as stored (no repair, only ftfy for mojibake written through a
    wrong connection); any other names the codec of its bytes.

    - ASCII: as is (most Indonesian complaints).
    - Valid UTF-8 with non-ASCII: the PHP 5 case (UTF-8 bytes stored as latin1 characters);
      decoding as UTF-8 *is* the repair (``mojibake_repaired``).
    - UTF-8 cut inside a multi-byte character at the end (TEXT's 65,535-byte limit):
      the partial character is dropped (``truncated_multibyte``).
    - Anything else: genuine latin1/cp1252 text, or mixed; decoded as MariaDB's latin1 and
      handed to ftfy, which fixes whatever mojibake it can prove (``latin1_text``).
    Already-decoded text (PostgreSQL) still goes through ftfy for double-encoded mojibake.
    """
    if data is None:
        return "", ()
    flags: list[str] = []
    if isinstance(data, str):
        text = data
    elif data.isascii():
        text = data.decode("ascii")
    elif charset and charset.startswith("utf8"):
        text = data.decode("utf-8", errors="replace")
    elif charset and charset not in ("latin1", "cp1252"):
        try:
            text = data.decode(_PY_CODECS.get(charset, charset), errors="replace")
        except LookupError:
            text = mariadb_latin1(data)
            flags.append("latin1_text")
    else:
        try:
            text = data.decode("utf-8")
            flags.append("mojibake_repaired")
        except UnicodeDecodeError as exc:
            # A cut character only explains a bad *tail*; a lone é at the end of a short
            # latin1 text looks the same, so trust it near the TEXT limit or when the rest
            # of the text proves it is UTF-8.
            cut = exc.reason == "unexpected end of data" and (
                len(data) >= TEXT_LIMIT - 3 or not data[: exc.start].isascii()
            )
            if cut:
                text = data[: exc.start].decode("utf-8", errors="replace")
                flags += ["mojibake_repaired", "truncated_multibyte"]
            else:
                text = mariadb_latin1(data)
                flags.append("latin1_text")
    if _MOJIBAKE_HINT.search(text):
        fixed = ftfy.fix_text(text, normalization="NFC")
        if fixed != text:
            text = fixed
            if "mojibake_repaired" not in flags:
                flags.append("mojibake_repaired")
            flags.append("double_mojibake_repaired")
    if isinstance(data, bytes) and len(data) >= TEXT_LIMIT:
        flags.append("truncated_at_text_limit")
    return text, tuple(flags)


_MAX_ENTITY_DEPTH = 8  # ``&amp;amp;…`` escaped more often than this is left as it is
_SPACES = str.maketrans({"\u00a0": " ", "\u2007": " ", "\u202f": " "})


def unescape_entities(text: str) -> tuple[str, int]:
    """HTML entities decoded at any depth: old PHP pages escaped text again on every edit,
    so ``&amp;nbsp;`` is a no-break space and ``&amp;lt;b&amp;gt;`` a tag. Returns the text
    and how many rounds of escaping were undone."""
    depth = 0
    while depth < _MAX_ENTITY_DEPTH and _ENTITY.search(text):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text, depth = decoded, depth + 1
    return text, depth


def strip_html(text: str) -> tuple[str, tuple[str, ...]]:
    """Plain text from complaint text that may hold raw HTML or ``<script>``, escaped or not.

    Entities are decoded first, at any depth (so an escaped tag is stripped like a raw one),
    then scripts, styles and frames are dropped with their content and other tags removed,
    line breaks kept; no-break spaces become spaces. Text without markup or entities is
    returned untouched (BeautifulSoup is slow and would otherwise be paid for on every
    row)."""
    if "<" not in text and "&" not in text:
        return text, ()
    flags: list[str] = []
    text, depth = unescape_entities(text)
    if depth:
        flags.append("html_entities_decoded")
        if depth > 1:
            flags.append("html_escaped_repeatedly")
    if not _HTML.search(text):
        return text.translate(_SPACES), tuple(flags)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        # Entities are decoded already: an ``&`` left is the citizen's own (``AT&T``), so
        # the parser must not take it for one.
        soup = BeautifulSoup(_BLOCK_TAGS.sub("\n", text.replace("&", "&amp;")), "html.parser")
    flags.append("html_stripped")
    dropped = soup.find_all(_DROP_TAGS)
    if dropped:
        flags.append("script_removed")
        for tag in dropped:
            tag.decompose()
    return soup.get_text().translate(_SPACES), tuple(flags)


def parse_legacy_date(
    value: object,
    formats: list[str],
    tz: str,
    now: dt.datetime,
) -> tuple[dt.datetime | None, dt.date | None, tuple[str, ...], str | None]:
    """``(submitted_at UTC, date, flags, note)`` from a DATE/DATETIME/varchar column.

    ``0000-00-00``, impossible dates (``2019-02-30``) and dates in the future (after ``now``
    plus a day) give ``None`` with a flag and a note; a date-only value is midnight in the
    municipality's zone, flagged ``date_only``."""
    zone = ZoneInfo(tz)
    if value is None:
        return None, None, ("date_missing",), "tanggal kosong"
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=zone)
        flags: tuple[str, ...] = ()
    elif isinstance(value, dt.date):
        stamp = dt.datetime.combine(value, dt.time(), zone)
        flags = ("date_only",)
    else:
        raw = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        raw = raw.strip()
        if not raw or raw.startswith("0000-00-00") or set(raw) <= set("0-/: "):
            return None, None, ("date_missing",), f"tanggal tidak ada ({raw or 'kosong'})"
        parsed: dt.datetime | None = None
        for fmt in formats:
            try:
                parsed = dt.datetime.strptime(raw, fmt)
            except ValueError:
                continue
            flags = () if ("%H" in fmt) else ("date_only",)
            break
        if parsed is None:
            return None, None, ("date_invalid",), f"tanggal tidak valid ({raw[:30]})"
        stamp = parsed.replace(tzinfo=zone)
    if stamp > now + dt.timedelta(days=1):
        return None, None, ("date_in_future",), f"tanggal di masa depan ({stamp.date()})"
    if stamp.year < 1990:
        return None, None, ("date_invalid",), f"tanggal tidak masuk akal ({stamp.date()})"
    return stamp.astimezone(dt.UTC), stamp.date(), flags, None
