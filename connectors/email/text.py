"""Text out of real-world mail: charsets that lie, HTML-only bodies, quotes and signatures.

Everything here is pure and never raises on bad input: undecodable bytes are repaired (a
replacement character at worst) because the original bytes are kept by intake anyway.
"""

from __future__ import annotations

import codecs
import re
from email.header import decode_header
from typing import Any

import ftfy
from bs4 import BeautifulSoup, Comment, NavigableString

# Labels real mailers write that Python does not know, or knows under a narrower name.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "x-sjis": "shift_jis",
    "unicode-1-1-utf-7": "utf-7",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "iso-8859-1": "cp1252",  # browsers and mailers treat latin-1 labels as windows-1252
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "windows-874": "cp874",
    "x-user-defined": "cp1252",
}
_UNKNOWN = {"unknown-8bit", "x-unknown", "unknown", "default", "charset", "8bit", ""}
_MOJIBAKE = re.compile(r"[\u00c0-\u00c5\u00e2][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u20ac]")
_LATIN_HIGH = re.compile(r"[\u0080-\u00ff\u2018-\u203a\u20ac]")


def normalise_charset(label: str | None) -> str | None:
    if not label:
        return None
    name = label.strip().strip('"').lower()
    if name in _UNKNOWN:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, list[str]]:
    """Decode ``data`` honouring the declared charset when it is true, guessing when it lies.

    Returns the text and flags (``charset_mislabeled``, ``charset_unknown``,
    ``mojibake_repaired``, ``undecodable_bytes``).
    """
    flags: list[str] = []
    charset = normalise_charset(declared)
    if declared and charset is None and declared.strip().lower() not in _UNKNOWN:
        flags.append("charset_unknown")
    text: str | None = None
    if data.isascii():
        text = data.decode("ascii")
    elif charset is not None:
        try:
            text = data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            flags.append("charset_mislabeled")
    if text is None:
        for guess in ("utf-8", "cp1252"):
            if guess == charset:
                continue
            try:
                text = data.decode(guess)
                break
            except UnicodeDecodeError:
                continue
    if text is None:
        text = data.decode("utf-8", errors="replace")
        flags.append("undecodable_bytes")
    fixed = repair_text(text)
    if fixed != text:
        flags.append("mojibake_repaired")
    return fixed, flags


def repair_text(text: str) -> str:
    """Undo UTF-8-read-as-latin-1 and friends; cheap when the text is plain."""
    if text.isascii() or not _LATIN_HIGH.search(text):
        return text.replace("\x00", "")
    if _MOJIBAKE.search(text):
        text = ftfy.fix_encoding(text)
    return text.replace("\x00", "")


def decode_header_value(value: Any) -> str:
    """A header (encoded words, raw 8-bit, broken encodings) as clean one-line text."""
    if value is None:
        return ""
    raw = value if isinstance(value, str) else str(value)
    if "=?" not in raw and raw.isascii():
        return _one_line(raw)
    parts: list[str] = []
    try:
        chunks = decode_header(value)
    except Exception:  # a malformed encoded word: keep the text as it stands
        chunks = [(raw, None)]
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            text, _ = decode_bytes(chunk, charset)
        else:
            text = chunk.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        parts.append(text)
    # decode_header separates encoded words from plain runs; RFC 2047 spacing rules say
    # whitespace between two encoded words disappears, which decode_header already did.
    joined = "".join(parts) if len(parts) > 1 else (parts[0] if parts else "")
    return _one_line(repair_text(joined))


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- HTML ------------------------------------------------------------------------------

_DROP_TAGS = ("script", "style", "head", "noscript", "template", "title", "meta", "object",
              "iframe", "svg")
_BLOCK_TAGS = ("p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul",
               "ol", "pre", "section", "article", "header", "footer", "hr", "dd", "dt")


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: no scripts or styles, links kept as text."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for a in soup.find_all("a"):
        href = (a.get("href") or "").strip()
        label = a.get_text(" ", strip=True)
        if href.lower().startswith("mailto:"):
            href = href[7:]
        if href and not href.lower().startswith(("javascript:", "data:", "#", "cid:")):
            if href not in label:
                a.replace_with(NavigableString(f"{label} ({href})" if label else href))
                continue
        a.replace_with(NavigableString(label))
    for img in soup.find_all("img"):
        alt = (img.get("alt") or "").strip()
        img.replace_with(NavigableString(f"[{alt}]" if alt else ""))
    for br in soup.find_all("br"):
        br.replace_with(NavigableString("\n"))
    for cell in soup.find_all(("td", "th")):
        cell.append(NavigableString(" "))
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before(NavigableString("\n"))
        block.append(NavigableString("\n"))
    # Quoted history in HTML is a blockquote; mark it like plain-text quoting so the same
    # trimming applies (innermost first, so nested quotes get their own prefix).
    for bq in reversed(soup.find_all("blockquote")):
        inner = _tidy(bq.get_text(""))
        quoted = "\n".join("> " + line for line in inner.splitlines())
        bq.replace_with(NavigableString("\n" + quoted + "\n"))
    return _tidy(soup.get_text(""))


_SPACES = re.compile(r"[ \t\u00a0\u200b\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def tidy_plain(text: str) -> str:
    return _tidy(text)


# --- quotes and signatures ----------------------------------------------------------------

_REPLY_HEADER = re.compile(
    r"^(?:"
    r"On .{4,200}(?:wrote|writes):?"
    r"|Pada .{4,200}(?:menulis|wrote):?"
    r"|Le .{4,200}a écrit ?:"
    r"|-{3,}\s*Original Message\s*-{3,}"
    r"|-{3,}\s*Pesan Asli\s*-{3,}"
    r"|_{10,}"
    r"|(?:From|Dari): .+\n(?:Sent|Date|Dikirim|Tanggal|Terkirim): .+"
    r")\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE = re.compile(
    r"^(?:-- ?|--|"
    r"Sent from my .{1,40}|Sent from (?:Mail|Yahoo Mail|Outlook).{0,60}|"
    r"Get Outlook for .{1,30}|"
    r"Dikirim dari .{1,60}|Sent via .{1,40}|"
    r"Salam,?|Hormat saya,?|Terima kasih,?|Wassalam.{0,30}"
    r")\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# Closings like "Terima kasih," end the message only near its end; a signature dash
# anywhere does.
_CLOSING_WORDS = re.compile(r"^(?:Salam|Hormat saya|Terima kasih|Wassalam)", re.IGNORECASE)


def cut_quoted(text: str) -> str:
    """The new part of a reply: stop at a reply header, drop '>' lines."""
    m = _REPLY_HEADER.search(text)
    if m and text[: m.start()].strip():
        text = text[: m.start()]
    lines = [ln for ln in text.split("\n") if not ln.lstrip().startswith(">")]
    return _tidy("\n".join(lines))


def cut_signature(text: str) -> str:
    lines = text.split("\n")
    for m in _SIGNATURE.finditer(text):
        head = text[: m.start()]
        if not head.strip():
            continue
        line_no = head.count("\n")
        if _CLOSING_WORDS.match(m.group(0)) and len(lines) - line_no > 6:
            continue  # a closing far from the end is not the signature
        return _tidy(head)
    return text
