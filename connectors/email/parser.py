"""One raw e-mail to a complaint, a reporter reply or ``Ignored``: a pure function.

``parse_email`` never performs I/O and never crashes on bad mail: what it cannot understand
raises ``InvalidInput`` (intake quarantines it with the reason, keeping the original bytes).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from connectors.base.errors import InvalidInput
from connectors.email.attachments import AttachmentLimits, Collected, add_part, filename_of
from connectors.email.authres import sender_authenticated
from connectors.email.identity import find_nik, find_phone
from connectors.email.text import (
    cut_quoted,
    cut_signature,
    decode_bytes,
    decode_header_value,
    html_to_text,
    tidy_plain,
)
from schemas.complaint import Channel, ComplaintDraft, Ignored, Parsed, ReplyDraft, Reporter

MB = 1024 * 1024


@dataclass(frozen=True)
class ParseOptions:
    staff_forwarders: frozenset[str] = frozenset()  # lowercase addresses
    message_id_domain: str | None = None  # ours are <…@satukanal.<domain>>
    max_attachment_bytes: int = 10 * MB
    max_attachments: int = 10
    region: str = "ID"
    # Our mail server's authserv-id: when set, its Authentication-Results say whether the
    # From address is the sender's (connectors/email/authres.py).
    authserv_id: str | None = None


# --- what is not a complaint ------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:(?:re|aw|sv|tr|bls|balas)\s*:\s*)*"
    r"(?:out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"balasan otomatis|jawaban otomatis|sedang cuti|di luar kantor|tidak di kantor|"
    r"vacation|abwesenheit|réponse automatique|respuesta automática)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver(?:ed|able)|delivery status notification|mail delivery (?:failed|"
    r"failure|subsystem)|returned mail|failure notice|delivery failure|"
    r"pesan tidak terkirim|gagal terkirim)",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon")


def not_a_complaint(msg: Message, subject: str, sender: str | None) -> str | None:
    """The reason this message is machine-generated, or None."""
    names = {k.lower() for k in msg.keys()}  # one pass instead of a scan per absent header
    ctype = msg.get_content_type()
    if ctype == "multipart/report":
        report = str(msg.get_param("report-type") or "").lower()
        return "read_receipt" if report == "disposition-notification" else "bounce"
    local = (sender or "").split("@", 1)[0].lower()
    if local in _BOUNCE_SENDERS or _BOUNCE_SUBJECT.match(subject):
        return "bounce"
    if "auto-submitted" in names:
        auto = str(msg.get("Auto-Submitted") or "").strip().lower()
        if auto and auto != "no":
            return "auto_reply"
    if "x-autoreply" in names or "x-autorespond" in names:
        return "auto_reply"
    precedence = ""
    if "precedence" in names:
        precedence = str(msg.get("Precedence") or "").strip().lower()
        if precedence in ("bulk", "junk", "auto_reply"):
            return "auto_reply"
    if _AUTO_SUBJECT.match(subject):
        return "auto_reply"
    if precedence == "list" or "list-id" in names or "list-unsubscribe" in names:
        return "mailing_list"
    return None


# --- body and attachments -----------------------------------------------------------------


@dataclass
class _Walk:
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[tuple[Message, str | None]] = field(default_factory=list)
    inner: list[Message] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


_BOUNDARY_GUESS = re.compile(r"^--([^\s-][^\s]{5,})\s*$", re.MULTILINE)


def _decoded_text(part: Message, walk: _Walk) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    if part.defects:
        walk.flags.append("mime_defects")
    charset = part.get_param("charset")
    text, flags = decode_bytes(data, str(charset) if isinstance(charset, str) else None)
    walk.flags.extend(flags)
    return text


def _walk(part: Message, walk: _Walk, depth: int = 0) -> None:
    if depth > 20:
        walk.flags.append("mime_too_deep")
        return
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            walk.inner.append(payload[0])
            walk.attachments.append((part, filename_of(part) or "pesan-terlampir.eml"))
        return
    if part.is_multipart():
        subparts = [p for p in part.get_payload() if isinstance(p, Message)]
        if ctype == "multipart/alternative":
            subparts = _best_alternative(subparts)
        for sub in subparts:
            _walk(sub, walk, depth + 1)
        return
    if ctype.startswith("multipart/"):
        _salvage_multipart(part, walk, depth)
        return
    disposition = part.get_content_disposition()
    # Most parts are plain bodies with no name at all; skip the RFC 2231 parameter work.
    name = (
        filename_of(part)
        if disposition is not None or "name" in str(part.get("Content-Type") or "").lower()
        else None
    )
    if (
        ctype in ("text/plain", "text/html")
        and disposition != "attachment"
        and (name is None or (disposition == "inline" and ctype == "text/plain"))
    ):
        text = _decoded_text(part, walk)
        if ctype == "text/html" or re.match(r"\s*<(?:!doctype|html|body)\b", text, re.I):
            walk.htmls.append(text)
        else:
            walk.texts.append(text)
        return
    if ctype.startswith("message/") or ctype in ("text/rfc822-headers",):
        return  # delivery-status and friends carry no complaint
    if part.get("Content-ID") and name is None and not ctype.startswith("image/"):
        return  # inline decoration (fonts, calendars)
    walk.attachments.append((part, name))


def _best_alternative(parts: list[Message]) -> list[Message]:
    for p in parts:
        if p.get_content_type() == "text/plain" and p.get_content_disposition() != "attachment":
            payload = p.get_payload(decode=True)
            if isinstance(payload, bytes) and payload.strip():
                return [p]
    richer = [p for p in parts if p.get_content_type() != "text/plain"]
    return richer[-1:] if richer else parts[:1]


def _salvage_multipart(part: Message, walk: _Walk, depth: int) -> None:
    """A multipart without a usable boundary: guess it from the body, else keep the text."""
    walk.flags.append("mime_broken")
    payload = part.get_payload()
    if not isinstance(payload, str):
        return
    m = _BOUNDARY_GUESS.search(payload)
    if m and depth < 5:
        rebuilt = (f'Content-Type: multipart/mixed; boundary="{m.group(1)}"\n\n{payload}').encode(
            "utf-8", "surrogateescape"
        )
        again = message_from_bytes(rebuilt, policy=compat32)
        if again.is_multipart():
            _walk(again, walk, depth + 1)
            return
    walk.texts.append(tidy_plain(payload))


# --- forwarded by staff ---------------------------------------------------------------------

_FWD_MARKER = re.compile(
    r"^[ >]*(?:-{2,}\s*(?:Forwarded message|Original Message|Pesan yang diteruskan|"
    r"Pesan terusan|Pesan Asli|Weitergeleitete Nachricht|Message transféré)\s*-{2,}|"
    r"Begin forwarded message:|Awal pesan yang diteruskan:)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_FWD_HEADER = re.compile(
    r"^[ >]*\*?(From|Dari|Date|Sent|Tanggal|Dikirim|Subject|Subjek|Perihal|To|Kepada|Cc)\*?\s*:"
    r"\s*(.*)$",
    re.IGNORECASE,
)
_FWD_KEYS = {
    "from": "from",
    "dari": "from",
    "date": "date",
    "sent": "date",
    "tanggal": "date",
    "dikirim": "date",
    "subject": "subject",
    "subjek": "subject",
    "perihal": "subject",
    "to": "to",
    "kepada": "to",
    "cc": "cc",
}


@dataclass
class _InlineForward:
    headers: dict[str, str]
    body: str
    note: str


def _inline_forward(text: str) -> _InlineForward | None:
    m = _FWD_MARKER.search(text)
    if not m:
        return None
    lines = text[m.end() :].lstrip("\n").split("\n")
    headers: dict[str, str] = {}
    i = 0
    while i < len(lines):
        hm = _FWD_HEADER.match(lines[i])
        if hm:
            headers.setdefault(_FWD_KEYS[hm.group(1).lower()], hm.group(2).strip())
            i += 1
            continue
        if not lines[i].strip() and headers:
            break
        if headers:
            break
        i += 1
    if "from" not in headers:
        return None
    body = "\n".join(ln[1:].lstrip() if ln.startswith(">") else ln for ln in lines[i:])
    return _InlineForward(headers, tidy_plain(body), tidy_plain(text[: m.start()]))


# An office that passes citizens' mail on: a government domain, or a kelurahan, kecamatan
# or village named in the address or the display name ("kel.pahandut@…", "Kecamatan Jekan
# Raya <…>"). Its forwards are unwrapped to the original author without configuration.
_OFFICE_WORDS = re.compile(
    r"(?:^|[^a-z])(?:kel|kelurahan|kec|kecamatan|desa|lurah|camat|kantorlurah|kantorcamat"
    r"|kantordesa|pemdes)(?:[^a-z]|$)",
    re.IGNORECASE,
)


def _office(address: str, name: str | None) -> bool:
    domain = address.rsplit("@", 1)[-1].lower()
    if domain.endswith(".go.id") or domain.endswith(".desa.id"):
        return True
    local = address.rsplit("@", 1)[0]
    return bool(_OFFICE_WORDS.search(local) or (name and _OFFICE_WORDS.search(name)))


# --- the parser --------------------------------------------------------------------------

_MSGID = re.compile(r"<[^<>\s]+>")
_TAG = re.compile(r"\[\s*LAPOR!?\s*#\s*(\d{3,})\s*\]", re.IGNORECASE)
_ANON = re.compile(r"\b(?:ANONIM|ANONYMOUS|ANONIMUS)\b", re.IGNORECASE)
_CONF = re.compile(r"\bRAHASIA\b", re.IGNORECASE)
_ANON_LINE = re.compile(r"(?:\[|\()?\b(?:ANONIM|ANONYMOUS)\b")
_CONF_LINE = re.compile(r"(?:\[|\()?\bRAHASIA\b")
# A citizen (or the staff member who passes their mail on) asking in words that the
# reporter's identity be withheld: "tolong nama saya jangan disebut", "mohon identitas saya
# dirahasiakan", "pelapor minta anonim". That is anonymity (identity hidden), not *rahasia*
# (the report hidden from the public). A request missed sends the citizen's name to LAPOR!,
# so any such phrase counts, wherever it stands in the message.
_ANON_REQUEST = re.compile(
    r"\b(?:identitas|nama)(?:nya)?(?:\s+(?:saya|sy|kami|pelapor|beliau|yang\s+bersangkutan|ybs))?"
    r"(?:\s+(?:mohon|tolong|agar|supaya|harap|minta|biar|untuk))?\s+"
    r"(?:(?:di|ter)?rahasiakan|(?:jangan|tidak\s+usah|tak\s+usah|tidak\s+perlu|tdk\s+usah)\s+"
    r"(?:di)?(?:sebut(?:kan)?|cantumkan|tulis(?:kan)?|tampilkan|publikasikan|buka))\b"
    r"|\b(?:minta|mohon|ingin|mau|tolong|harap|secara|sebagai|dibuat|jadikan)\s+"
    r"(?:\w+\s+){0,2}(?:anonim|anonymous|anonimus)\b",
    re.IGNORECASE,
)
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|tr|rv|wg|aw|bls|balas|terusan|fwd?)\s*(?:\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
_SUBJECT_TAGS = re.compile(r"\[\s*(?:ANONIM|RAHASIA|ANONYMOUS)\s*\]\s*", re.IGNORECASE)
_YES = re.compile(r"^\W*(?:ya\W+|iya\W+)?(?:sudah|sdh|udah|sudh)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(?:belum|blm|blum|tidak|tdk|belom)\b", re.IGNORECASE)


def parse_email(raw: bytes, *, options: ParseOptions | None = None) -> Parsed:
    """Raw RFC 5322 bytes to a ``ComplaintDraft``, ``ReplyDraft`` or ``Ignored``."""
    options = options or ParseOptions()
    if not raw or raw.isspace():
        raise InvalidInput("empty message")
    try:
        return _parse(raw, options)
    except InvalidInput:
        raise
    except Exception as exc:  # a parser bug or a pathological message: quarantine, never crash
        raise InvalidInput(f"unparseable message ({type(exc).__name__})") from exc


def message_id_of(msg: Message) -> str | None:
    m = _MSGID.search(str(msg.get("Message-ID") or msg.get("Message-Id") or ""))
    return m.group(0) if m else None


def _parse(raw: bytes, options: ParseOptions) -> Parsed:
    msg = message_from_bytes(raw, policy=compat32)
    # Trace headers (Received, Return-Path) are added by every MTA on the way, so they say
    # nothing about whether the sender wrote an e-mail at all.
    known = {"from", "sender", "reply-to", "to", "subject", "date", "message-id"}
    if not any(k.lower() in known for k in msg.keys()):
        raise InvalidInput("no e-mail headers: not an e-mail message")
    subject = decode_header_value(msg.get("Subject"))
    sender_name, sender = _address(msg.get("From"))
    reason = not_a_complaint(msg, subject, sender)
    if reason is not None:
        return Ignored(reason=reason)

    walk = _Walk()
    _walk(msg, walk)
    text = _body_text(walk)
    flags: list[str] = list(dict.fromkeys(walk.flags))
    notes: list[str] = []
    message_id = message_id_of(msg)
    sent_at = _date(msg.get("Date"), flags)

    refs = list(
        dict.fromkeys(
            _MSGID.findall(f"{msg.get('References') or ''} {msg.get('In-Reply-To') or ''}")
        )
    )
    tag = _TAG.search(subject)
    if tag or any(_is_ours(r, options) for r in refs):
        return _reply(msg, text, walk, options, sender, sent_at, refs, tag)

    reply_name, reply_to = _address(msg.get("Reply-To"))
    thread_keys = [message_id] if message_id else []
    origin_subject = subject
    anon_sources = [subject]
    office = (
        sender is not None
        and sender not in options.staff_forwarders
        and _office(sender, sender_name)
    )
    if sender and (sender in options.staff_forwarders or office):
        unwrapped = _unwrap(walk, text, options, flags, notes)
        if unwrapped is not None and office:
            # found without configuration: a kelurahan or kecamatan passing a citizen's mail on
            flags[:] = ["forwarded_by_office" if f == "forwarded_by_staff" else f for f in flags]
        if unwrapped is not None:
            inner_msg, text, subject_inner, inner_from, inner_date, inner_walk = unwrapped
            sender_name, sender = inner_from
            reply_name, reply_to = None, None
            if inner_msg is not None:
                r_name, r_to = _address(inner_msg.get("Reply-To"))
                reply_name, reply_to = r_name, r_to
                inner_id = message_id_of(inner_msg)
                if inner_id:
                    thread_keys.append(inner_id)
                    message_id = inner_id
                walk = inner_walk
            sent_at = inner_date or sent_at
            origin_subject = subject_inner or subject
            anon_sources.append(subject_inner)
            subject = subject_inner or _SUBJECT_PREFIX.sub("", subject)

    fresh = cut_quoted(text)
    first_line = next((ln for ln in fresh.split("\n") if ln.strip()), "")
    anonymous = (
        any(_ANON.search(s) for s in anon_sources if s)
        or bool(_ANON_LINE.search(first_line) and (first_line.isupper() or len(first_line) <= 40))
        or bool(_ANON_REQUEST.search(fresh))
        # A forwarder's note ("pelapor minta identitasnya dirahasiakan (anonim)") speaks for
        # the citizen whose mail it passes on.
        or any(_ANON.search(n) or _ANON_REQUEST.search(n) for n in notes if n.startswith("staff"))
    )
    confidential = any(_CONF.search(s) for s in anon_sources if s) or bool(
        _CONF_LINE.search(first_line) and (first_line.isupper() or len(first_line) <= 40)
    )
    content = cut_signature(fresh)
    if (
        (anonymous or confidential)
        and len(first_line) <= 40
        and (_ANON_LINE.search(first_line) or _CONF_LINE.search(first_line))
        and "\n" in content
    ):
        content = content.split("\n", 1)[1].strip()  # the marker line is not the complaint

    collected = _attachments(walk, options, anonymous)
    notes.extend(collected.notes)
    flags.extend(collected.flags)
    title = _SUBJECT_TAGS.sub("", _SUBJECT_PREFIX.sub("", subject)).strip() or None
    if not content:
        if collected.attachments:
            content = title or "(lihat lampiran)"
            flags.append("body_empty")
        elif title:
            content = title
            flags.append("subject_only")
        else:
            raise InvalidInput("message has no text and no usable attachment")
    if not message_id:
        flags.append("missing_message_id")

    nik = find_nik(fresh)
    phone = find_phone(fresh, region=options.region, skip=nik[2] if nik else None)
    reporter = Reporter(
        name=(reply_name or sender_name) or None,
        email=reply_to or sender,
        phone=phone.e164 if phone else None,
        phone_raw=phone.raw if phone else None,
        nik=nik[0] if nik else None,
        nik_valid=nik[1] if nik else None,
    )
    return ComplaintDraft(
        channel=Channel.EMAIL,
        content=content,
        title=title[:300] if title else None,
        submitted_at=sent_at,
        reporter=reporter,
        anonymous=anonymous,
        confidential=confidential,
        attachments=tuple(collected.attachments),
        thread_keys=tuple(dict.fromkeys(thread_keys)),
        origin={
            "message_id": message_id,
            "subject": origin_subject[:300],
            "references": refs[-10:],
            # Intake makes it a reply when these name a known complaint's thread (the
            # citizen's own original, a staff member's manual answer), else a complaint.
            "maybe_reply_thread": bool(refs),
            # The reporter's address below is Reply-To's, not the sender's: if intake finds
            # this is a reply, that address proves nothing about who sent it.
            **({"reply_to_not_sender": True} if _other_reply_to(reply_to, sender) else {}),
            # Our server did not vouch for the From address: if intake finds this is a reply,
            # the address proves nothing about who sent it.
            **(
                {"sender_not_authenticated": True}
                if refs and _authenticated(msg, options, sender) is False
                else {}
            ),
        },
        flags=tuple(dict.fromkeys(flags)),
        notes=tuple(notes),
    )


def _other_reply_to(reply_to: str | None, sender: str | None) -> bool:
    return bool(reply_to) and (reply_to or "").lower() != (sender or "").lower()


def _body_text(walk: _Walk) -> str:
    texts = [t for t in (tidy_plain(x) for x in walk.texts) if t]
    if texts:
        return "\n\n".join(texts)
    htmls = [t for t in (html_to_text(h) for h in walk.htmls) if t]
    return "\n\n".join(htmls)


def _unwrap(
    walk: _Walk, text: str, options: ParseOptions, flags: list[str], notes: list[str]
) -> (
    tuple[Message | None, str, str, tuple[str | None, str | None], dt.datetime | None, _Walk] | None
):
    """A complaint a staff member forwarded: the original sender, subject, date and body."""
    if walk.inner:
        inner = walk.inner[0]
        inner_walk = _Walk()
        _walk(inner, inner_walk)
        # The forwarder's own attachments (besides the wrapped message) belong to the case too.
        inner_walk.attachments.extend(
            (p, n) for p, n in walk.attachments if p.get_content_type() != "message/rfc822"
        )
        flags.extend(inner_walk.flags)
        flags.append("forwarded_by_staff")
        if text.strip():
            notes.append("staff note: " + text.strip()[:500])
        return (
            inner,
            _body_text(inner_walk),
            decode_header_value(inner.get("Subject")),
            _address(inner.get("From")),
            _date(inner.get("Date"), []),
            inner_walk,
        )
    fwd = _inline_forward(text)
    if fwd is None:
        return None
    flags.append("forwarded_by_staff")
    if fwd.note:
        notes.append("staff note: " + fwd.note[:500])
    return (
        None,
        fwd.body,
        decode_header_value(fwd.headers.get("subject", "")),
        _address(fwd.headers["from"]),
        _date(fwd.headers.get("date"), []),
        walk,
    )


def _reply(
    msg: Message,
    text: str,
    walk: _Walk,
    options: ParseOptions,
    sender: str | None,
    sent_at: dt.datetime | None,
    refs: list[str],
    tag: re.Match[str] | None,
) -> ReplyDraft:
    fresh = cut_signature(cut_quoted(text))
    resolved: bool | None = None
    if _YES.match(fresh):
        resolved = True
    elif _NO.match(fresh):
        resolved = False
    collected = _attachments(walk, options, strip_exif=False)
    # Who sent it, not where to answer: a reply is matched to its reporter by this address,
    # and anyone may put the reporter's address in Reply-To.
    return ReplyDraft(
        channel=Channel.EMAIL,
        text=fresh,
        sent_at=sent_at,
        tracking_id=tag.group(1) if tag else None,
        in_reply_to=tuple(dict.fromkeys(refs)),
        email=sender,
        sender_authenticated=_authenticated(msg, options, sender),
        resolved=resolved,
        attachments=tuple(collected.attachments),
    )


def _authenticated(msg: Message, options: ParseOptions, sender: str | None) -> bool | None:
    """Our server's word on the From address; None when no server is configured to ask."""
    if options.authserv_id is None:
        return None
    return sender_authenticated(msg, options.authserv_id, sender)


def _attachments(walk: _Walk, options: ParseOptions, strip_exif: bool) -> Collected:
    limits = AttachmentLimits(options.max_attachment_bytes, options.max_attachments, strip_exif)
    out = Collected()
    for part, name in walk.attachments:
        if part.get_content_type() == "message/rfc822":
            _add_message_attachment(out, part, name, limits)
        else:
            add_part(out, part, name, limits)
    return out


def _add_message_attachment(
    out: Collected, part: Message, name: str | None, limits: AttachmentLimits
) -> None:
    from schemas.complaint import AttachmentDraft

    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if inner is None or len(out.attachments) >= limits.max_count:
        return
    data = inner.as_bytes(policy=compat32) if hasattr(inner, "as_bytes") else b""
    if len(data) > limits.max_bytes:
        out.notes.append(f"attachment {name!r} refused: larger than {limits.max_bytes} bytes")
        out.flags.append("attachment_refused")
        return
    out.attachments.append(
        AttachmentDraft(filename=name or "pesan.eml", content_type="message/rfc822", data=data)
    )


def _is_ours(ref: str, options: ParseOptions) -> bool:
    domain = ref.rsplit("@", 1)[-1].rstrip(">").lower()
    if options.message_id_domain:
        return domain == f"satukanal.{options.message_id_domain.lower()}"
    return domain.startswith("satukanal.")


def _address(value: object) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    decoded = decode_header_value(value)
    try:
        pairs = getaddresses([decoded])
    except Exception:
        pairs = []
    for name, addr in pairs:
        addr = addr.strip().strip("<>")
        if "@" in addr and " " not in addr and addr.count("@") == 1:
            local, domain = addr.split("@")
            if local and "." in domain:
                return (name.strip().strip('"') or None), f"{local}@{domain.lower()}"
    m = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", decoded)
    if m:
        return None, m.group(0).lower()
    return None, None


def _date(value: object, flags: list[str]) -> dt.datetime | None:
    if value is None or not str(value).strip():
        flags.append("missing_date")
        return None
    try:
        parsed = parsedate_to_datetime(decode_header_value(value))
    except (TypeError, ValueError, IndexError):
        flags.append("date_unparseable")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
