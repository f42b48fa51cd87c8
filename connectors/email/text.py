"""Text out of real-world mail: charsets that lie, HTML-only bodies, quotes and signatures.

Everything here is pure and never raises on bad input: undecodable bytes are repaired (a
replacement character at worst) because the original bytes are kept by intake anyway.
"""

from __future__ import annotations

import codecs
import re
from email.header import decode_header
from html.parser import HTMLParser
from typing import Any

import ftfy
from bs4 import BeautifulSoup

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

_DROP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "title", "object", "iframe", "svg"}
)
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "hr",
        "dd",
        "dt",
        "blockquote",
    }
)


class _TextExtractor(HTMLParser):
    """HTML to readable text in one streaming pass (the stdlib tokenizer, no tree: mail
    bodies are read once, and building a BeautifulSoup tree costs several times more)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[list[str]] = [[]]  # one buffer per open blockquote
        self.skip = 0
        self.link: tuple[str, list[str]] | None = None

    def _out(self, text: str) -> None:
        if self.link is not None:
            self.link[1].append(text)
        else:
            self.stack[-1].append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_TAGS:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self._out("\n")
        elif tag == "a":
            self._close_link()
            self.link = (dict(attrs).get("href") or "", [])
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._out(f"[{alt}]")
        elif tag == "blockquote":
            self._close_link()
            self.stack.append([])
        elif tag in ("td", "th"):
            self._out(" ")
        elif tag in _BLOCK_TAGS:
            self._out("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_TAGS:
            return
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self._close_link()

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "a":
            self._close_link()
        elif tag == "blockquote" and len(self.stack) > 1:
            self._close_link()
            self._pop_quote()
        elif tag in ("td", "th"):
            self._out(" ")
        elif tag in _BLOCK_TAGS:
            self._out("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._out(data)

    def _close_link(self) -> None:
        if self.link is None:
            return
        href, parts = self.link
        self.link = None
        label = " ".join("".join(parts).split())
        href = href.strip()
        if href.lower().startswith("mailto:"):
            href = href[7:]
        if (
            href
            and not href.lower().startswith(("javascript:", "data:", "#", "cid:"))
            and href not in label
        ):
            self._out(f"{label} ({href})" if label else href)
        else:
            self._out(label)

    def _pop_quote(self) -> None:
        inner = _tidy("".join(self.stack.pop()))
        self.stack[-1].append("\n" + "\n".join("> " + ln for ln in inner.split("\n")) + "\n")

    def text(self) -> str:
        self.close()
        self._close_link()
        while len(self.stack) > 1:
            self._pop_quote()
        return _tidy("".join(self.stack[0]))


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: no scripts or styles, links kept as text, quoted
    history (blockquote) marked with '>' like plain-text quoting."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        return parser.text()
    except Exception:  # the tokenizer gave up on hostile markup: fall back to a forgiving tree
        soup = BeautifulSoup(html, "html.parser")
        for tag in soup.find_all(list(_DROP_TAGS)):
            tag.decompose()
        return _tidy(soup.get_text("\n"))


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
    # Gmail wraps a long header line: "On Mon, 3 Dec 2026 at 10:15, Budi Santoso <\nbudi@…> wrote:"
    r"On [^\n]{4,200}(?:\n[^\n]{0,120})?(?:wrote|writes):?"
    r"|Pada [^\n]{4,200}(?:\n[^\n]{0,120})?(?:menulis|wrote):?"
    r"|Pada tanggal [^\n]{4,200}(?:\n[^\n]{0,120})?menulis:?"
    r"|Le .{4,200}a écrit ?:"
    r"|-{3,}\s*Original Message\s*-{3,}"
    r"|-{3,}\s*Pesan Asli\s*-{3,}"
    r"|_{10,}"
    r"|\*?(?:From|Dari|Von|De)\*?: .+\n\*?(?:Sent|Date|Dikirim|Tanggal|Terkirim|Gesendet"
    r"|Envoyé)\*?: .+"
    r"|-{2,}\s*(?:Forwarded Message|Original Message|Pesan Asli)\s*-{2,}"
    r")\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE = re.compile(
    r"^(?:-- ?|--|"
    r"Sent from my .{1,40}|Sent from (?:Mail|Yahoo Mail|Outlook).{0,60}|"
    r"Get Outlook for .{1,30}|Dapatkan Outlook untuk .{1,30}|"
    r"Dikirim dari .{1,60}|Sent via .{1,40}|Sent with .{1,40}|Diketik dari .{1,40}|"
    r"Salam,?|Hormat saya,?|Terima kasih,?|Wassalam.{0,30}"
    r")\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# Closings like "Terima kasih," end the message only near its end; a signature dash
# anywhere does.
_CLOSING_WORDS = re.compile(r"^(?:Salam|Hormat saya|Terima kasih|Wassalam)", re.IGNORECASE)


_REPLY_HINT = re.compile(
    r"wrote|writes|menulis|écrit|Original Message|Pesan Asli|Forwarded Message|_{10}"
    r"|^\*?(?:From|Dari|Von|De)\*?:",
    re.IGNORECASE | re.MULTILINE,
)
# Legal notices offices and companies append: from such a paragraph to the end, not text.
_DISCLAIMER = re.compile(
    r"^[ *_]*(?:DISCLAIMER|CONFIDENTIALITY NOTICE|CONFIDENTIAL|PERNYATAAN|PERHATIAN|"
    r"PEMBERITAHUAN|KERAHASIAAN|This (?:e-?mail|message) (?:and any|is intended|may contain"
    r"|contains)|Email ini (?:dan|beserta|bersifat|hanya)|E-mail ini (?:dan|beserta|bersifat)"
    r"|Informasi (?:dalam|yang terdapat dalam) (?:email|e-mail|pesan) ini)",
    re.IGNORECASE | re.MULTILINE,
)


def cut_quoted(text: str) -> str:
    """The new part of a reply: stop at a reply header, drop '>' lines."""
    m = _REPLY_HEADER.search(text) if _REPLY_HINT.search(text) else None
    if m and text[: m.start()].strip():
        text = text[: m.start()]
    lines = [ln for ln in text.split("\n") if not ln.lstrip().startswith(">")]
    return _tidy("\n".join(lines))


def cut_disclaimer(text: str) -> str:
    """A legal notice in the second half of the message, and all after it, is dropped."""
    for m in _DISCLAIMER.finditer(text):
        if m.start() >= len(text) * 0.3 and text[: m.start()].strip():
            return _tidy(text[: m.start()])
    return text


_DEVICE_ONLY = re.compile(
    r"^\s*(?:Sent from .{1,60}|Dikirim dari .{1,60}|Get Outlook for .{1,30}"
    r"|Dapatkan Outlook untuk .{1,30}|Sent with .{1,40}|Diketik dari .{1,40})\s*$",
    re.IGNORECASE,
)


def cut_signature(text: str) -> str:
    text = cut_disclaimer(text)
    if _DEVICE_ONLY.match(text):
        return ""  # nothing but "Sent from my phone": the subject is the text
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
