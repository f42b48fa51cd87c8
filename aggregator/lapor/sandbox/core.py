"""The sandbox's state and rules, without HTTP: reports, idempotency, the feed, lives.

State is a plain JSON-able dict so it can be written to a file atomically and read back on
restart. Everything random comes from the seed: the same seed and the same requests give
the same reports, lives and texts.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aggregator.lapor.sandbox import data
from aggregator.lapor.sandbox.faults import Faults
from aggregator.lapor.sandbox.life import draw_life

WIB = dt.timezone(dt.timedelta(hours=7))
LIFE_UNIT_S = {"fast": 1.0, "realtime": 3600.0, "none": 0.0}
AGENCY_NAMES = {aid: name for aid, name, _parent in data.AGENCIES}
CATEGORY_IDS = {cid for cid, *_ in data.CATEGORIES}
CHANNELS = {"email", "sms", "web", "whatsapp", "counter", "other"}
CLASSIFICATIONS = {"pengaduan", "aspirasi", "permintaan_informasi"}
ALLOWED_TYPES = {"image/jpeg", "image/png", "application/pdf", "video/mp4"}
MAX_ATTACHMENT = 10 * 1024 * 1024
_PHONE = re.compile(r"^\+62[0-9]{8,13}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NIK = re.compile(r"^[0-9]{16}$")


@dataclass
class SandboxConfig:
    seed: int = 1708
    life: Literal["fast", "realtime", "none"] = "none"
    life_unit_s: float | None = None  # overrides the unit of the life clock
    rate_per_s: float = 20.0
    burst: int = 40
    rate_limit: bool = True
    token_ttl_s: float = 3600.0
    clients: dict[str, str] = field(default_factory=lambda: {"satukanal": "sandbox-secret"})
    faults: Faults = field(default_factory=Faults)
    state_file: Path | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    base_path: str = "/api/v1"
    public_url: str | None = None  # for attachment URLs in responses
    story: tuple[str, ...] | None = None  # scripts played in turn instead of drawn (the demo)

    def unit_s(self) -> float:
        if self.life_unit_s is not None:
            return self.life_unit_s
        return LIFE_UNIT_S[self.life]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str = "", **extra: Any) -> None:
        super().__init__(message or code)
        self.status = status
        self.body: dict[str, Any] = {"error": code, "message": message or code, **extra}


def rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, WIB).isoformat(timespec="microseconds")


def _canonical(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _empty_state() -> dict[str, Any]:
    return {
        "version": 1,
        "next_tracking": 1916449,
        "next_attachment": 19,
        "next_event": 88000,
        "next_reply": 1,
        "reports": {},
        "by_ref": {},
        "idem": {},
        "attachments": {},
        "events": [],
        "replies": [],
        "last_at": 0.0,
    }


class Sandbox:
    def __init__(
        self,
        cfg: SandboxConfig,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.monotonic = monotonic
        self.faults = cfg.faults
        self.rng = random.Random(cfg.seed)  # noqa: S311 - a reproducible simulation
        self.state = self._load()
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client_id, expires_at)
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self.last_revoke = clock()
        self.dirty = False
        self.stats: dict[str, int] = {
            "requests": 0,
            "rate_limited": 0,
            "injected_5xx": 0,
            "dropped": 0,
            "hung": 0,
            "tokens_issued": 0,
            "tokens_revoked": 0,
            "webhook_posts": 0,
        }
        self.webhook_queue: list[dict[str, Any]] = []
        # API requests per second of the sandbox's clock (int seconds), as they arrived:
        # what a rate limit shared by replicas must keep under ``rate_per_s`` (+ burst).
        self.per_second: collections.Counter[int] = collections.Counter()
        # Every API request as it arrived, on this process's monotonic clock (system-wide on
        # Linux, so comparable with a client's on the same machine): [at, route, status,
        # slot], slot being the time the client took its rate-limit slot when it says so in
        # ``X-Satukanal-Token-At``. A harness reads it to tell who bunched the requests.
        self.arrivals: list[list[Any]] = []

    def arrived(self, route: str, token_at: str | None) -> list[Any]:
        """Record an API request's arrival; the caller fills in its status (index 2)."""
        try:
            taken = float(token_at) if token_at else None
        except ValueError:
            taken = None
        entry: list[Any] = [self.monotonic(), route, None, taken]
        self.arrivals.append(entry)
        return entry

    def arrival_stats(self) -> dict[str, Any]:
        """Arrivals per whole second of the monotonic clock (as ``{second: n}``), and how many
        were answered 429."""
        per_second = collections.Counter(int(a[0]) for a in self.arrivals)
        return {
            "per_second": {str(k): n for k, n in sorted(per_second.items())},
            "max_per_second": max(per_second.values(), default=0),
            "answered_429": sum(1 for a in self.arrivals if a[2] == 429),
        }

    # ---- persistence -------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        path = self.cfg.state_file
        if path is not None and path.exists():
            loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return loaded
        return _empty_state()

    def save(self) -> None:
        path = self.cfg.state_file
        if path is None or not self.dirty:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(self.state, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self.dirty = False

    def touch(self) -> None:
        self.dirty = True

    # ---- auth and rate limit -------------------------------------------------------------
    def issue_token(self, client_id: str, secret: str) -> dict[str, Any]:
        expected = self.cfg.clients.get(client_id)
        if expected is None or not secrets.compare_digest(
            expected.encode(), secret.encode("utf-8", "surrogateescape")
        ):
            raise ApiError(401, "invalid_client", "unknown client or wrong secret")
        token = secrets.token_urlsafe(24)
        ttl = self.cfg.token_ttl_s
        self.tokens[token] = (client_id, self.clock() + ttl)
        self.stats["tokens_issued"] += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(ttl)}

    def authenticate(self, header: str | None) -> str:
        if not header or not header.startswith("Bearer "):
            raise ApiError(401, "invalid_token", "missing bearer token")
        entry = self.tokens.get(header[7:].strip())
        if entry is None:
            raise ApiError(401, "invalid_token", "unknown or revoked token")
        client_id, expires_at = entry
        if expires_at <= self.clock():
            self.tokens.pop(header[7:].strip(), None)
            raise ApiError(401, "invalid_token", "token expired")
        return client_id

    def revoke_tokens(self) -> int:
        n = len(self.tokens)
        self.tokens.clear()
        self.stats["tokens_revoked"] += n
        self.last_revoke = self.clock()
        return n

    def take_rate(self, client_id: str) -> float | None:
        """None when allowed, else the seconds to wait."""
        if not self.cfg.rate_limit:
            return None
        now = self.clock()
        tokens, at = self.buckets.get(client_id, (float(self.cfg.burst), now))
        tokens = min(float(self.cfg.burst), tokens + (now - at) * self.cfg.rate_per_s)
        if tokens >= 1.0:
            self.buckets[client_id] = (tokens - 1.0, now)
            return None
        self.buckets[client_id] = (tokens, now)
        self.stats["rate_limited"] += 1
        return (1.0 - tokens) / self.cfg.rate_per_s

    # ---- idempotency ---------------------------------------------------------------------
    def idem_lookup(self, client_id: str, scope: str, key: str, body: Any) -> dict[str, Any] | None:
        if not 1 <= len(key) <= 64:
            raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1..64 chars")
        entry = self.state["idem"].get(f"{client_id}\x00{scope}\x00{key}")
        if entry is None:
            return None
        if entry["hash"] != _canonical(body):
            raise ApiError(
                409, "idempotency_key_reused", "this Idempotency-Key came before with another body"
            )
        result: dict[str, Any] = entry["response"]
        return result

    def idem_store(
        self, client_id: str, scope: str, key: str, body: Any, response: dict[str, Any]
    ) -> None:
        self.state["idem"][f"{client_id}\x00{scope}\x00{key}"] = {
            "hash": _canonical(body),
            "response": response,
            "at": self.clock(),
        }

    # ---- reports -------------------------------------------------------------------------
    def create_report(self, client_id: str, key: str, body: Any) -> tuple[int, dict[str, Any]]:
        replay = self.idem_lookup(client_id, "reports", key, body)
        if replay is not None:
            return 200, replay
        clean = validate_report(body, self._client_attachments(client_id))
        ref_key = f"{client_id}\x00{clean['external_ref']}"
        existing = self.state["by_ref"].get(ref_key)
        if existing is not None:
            raise ApiError(
                409, "duplicate_external_ref", "external_ref already used", tracking_id=existing
            )
        now = self.clock()
        tracking_id = str(self.state["next_tracking"])
        self.state["next_tracking"] += 1
        created = rfc3339(now)
        report = {
            **clean,
            "tracking_id": tracking_id,
            "client_id": client_id,
            "status": "belum_terverifikasi",
            "agency": None,
            "created_at": created,
            "updated_at": created,
            "replied_at": None,
            "rating": None,
        }
        story = self.cfg.story
        script = story[len(self.state["reports"]) % len(story)] if story else None
        report["life"] = draw_life(self.cfg.seed, report, script)
        report["life_index"] = 0
        report["next_at"] = now + report["life"][0]["after"] * self.cfg.unit_s()
        self.state["reports"][tracking_id] = report
        self.state["by_ref"][ref_key] = tracking_id
        response = {
            "tracking_id": tracking_id,
            "status": "belum_terverifikasi",
            "created_at": created,
        }
        self.idem_store(client_id, "reports", key, body, response)
        self.touch()
        return 201, response

    def _client_attachments(self, client_id: str) -> set[str]:
        return {aid for aid, a in self.state["attachments"].items() if a["client_id"] == client_id}

    def find_by_ref(self, client_id: str, ref: str) -> list[dict[str, Any]]:
        tid = self.state["by_ref"].get(f"{client_id}\x00{ref}")
        return [public_report(self.state["reports"][tid])] if tid else []

    def get_report(self, client_id: str, tracking_id: str) -> dict[str, Any]:
        report = self.state["reports"].get(tracking_id)
        if report is None or report["client_id"] != client_id:
            raise ApiError(404, "not_found", "no such report")
        if report["status"] == "dihapus":
            raise ApiError(410, "deleted", "deleted by a LAPOR! administrator")
        return public_report(report)

    def add_reply(
        self, client_id: str, tracking_id: str, key: str, body: Any
    ) -> tuple[int, dict[str, Any]]:
        self.get_report(client_id, tracking_id)  # 404 / 410
        replay = self.idem_lookup(client_id, f"replies/{tracking_id}", key, body)
        if replay is not None:
            return 200, replay
        clean = validate_reply(body, self._client_attachments(client_id))
        reply_id = f"r-{self.state['next_reply']}"
        self.state["next_reply"] += 1
        now = self.clock()
        report = self.state["reports"][tracking_id]
        self.state["replies"].append(
            {
                "reply_id": reply_id,
                "tracking_id": tracking_id,
                "client_id": client_id,
                "idempotency_key": key,
                "received_at": rfc3339(now),
                **clean,
            }
        )
        self.emit(report, "reporter_replied", text=clean["text"], resolved=clean["resolved"])
        report["replied_at"] = now
        if report["status"] == "ditindaklanjuti" and clean["resolved"] is not True:
            # A reply re-opens a report waiting to auto-close.
            self.emit_status(report, "diproses")
            i = report["life_index"]
            report["life"][i:i] = [
                {"after": 1, "do": "respond", "kind": "evidence"},
                {"after": 0, "do": "status", "status": "ditindaklanjuti"},
            ]
            report["next_at"] = now + self.cfg.unit_s()
        elif report["status"] == "tertunda":
            self.emit_status(report, "diproses")
        response = {"reply_id": reply_id}
        self.idem_store(client_id, f"replies/{tracking_id}", key, body, response)
        self.touch()
        return 201, response

    def add_attachment(
        self, client_id: str, content_type: str, payload: bytes, filename: str | None
    ) -> dict[str, Any]:
        if len(payload) > MAX_ATTACHMENT:
            raise ApiError(413, "too_large", "attachments are limited to 10 MB")
        if content_type not in ALLOWED_TYPES:
            raise ApiError(415, "unsupported_type", f"allowed: {', '.join(sorted(ALLOWED_TYPES))}")
        aid = f"a-{self.state['next_attachment']}"
        self.state["next_attachment"] += 1
        digest = hashlib.sha256(payload).hexdigest()
        self.state["attachments"][aid] = {
            "client_id": client_id,
            "sha256": digest,
            "size": len(payload),
            "content_type": content_type,
            "filename": filename,
        }
        self.touch()
        return {"attachment_id": aid, "sha256": digest, "size": len(payload)}

    # ---- the feed ------------------------------------------------------------------------
    def _next_at(self) -> float:
        # Strictly increasing times, so "newer" is never ambiguous for consumers.
        at = max(self.clock(), self.state["last_at"] + 1e-6)
        self.state["last_at"] = at
        return at

    def emit(self, report: dict[str, Any], type_: str, **fields: Any) -> dict[str, Any]:
        at = self._next_at()
        event = {
            "event_id": f"e-{self.state['next_event']}",
            "tracking_id": report["tracking_id"],
            "type": type_,
            "at": rfc3339(at),
            **fields,
        }
        self.state["next_event"] += 1
        report["updated_at"] = event["at"]
        self.state["events"].append(event)
        if self.cfg.webhook_url:
            self.webhook_queue.append(event)
        self.touch()
        return event

    def emit_status(self, report: dict[str, Any], status: str) -> None:
        report["status"] = status
        fields: dict[str, Any] = {"status": status}
        if report.get("agency"):
            fields["agency"] = report["agency"]
        self.emit(report, "status_changed", **fields)

    def updates(self, client_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
        start = decode_cursor(cursor)
        events = self.state["events"]
        page: list[dict[str, Any]] = []
        i = start
        while i < len(events) and len(page) < limit:
            if (
                self.state["reports"].get(events[i]["tracking_id"], {}).get("client_id")
                == client_id
            ):
                page.append(events[i])
            i += 1
        if self.faults.dup_events > 0 or self.faults.reorder_events > 0:
            page = self._deliver_badly(page, events[max(0, start - 50) : start], client_id)
        return {"events": page, "next_cursor": encode_cursor(i)}

    def _deliver_badly(
        self, page: list[dict[str, Any]], before: list[dict[str, Any]], client_id: str
    ) -> list[dict[str, Any]]:
        f = self.faults
        out = list(page)
        if f.dup_events > 0:
            extra = [e for e in page if self.rng.random() < f.dup_events]
            # and now and then one from before the cursor (a fail-over replay)
            if before and self.rng.random() < f.dup_events:
                old = before[self.rng.randrange(len(before))]
                if self.state["reports"].get(old["tracking_id"], {}).get("client_id") == client_id:
                    extra.append(old)
            for e in extra:
                out.insert(self.rng.randrange(len(out) + 1), e)
        if f.reorder_events > 0:
            for j in range(len(out) - 1):
                if self.rng.random() < f.reorder_events:
                    out[j], out[j + 1] = out[j + 1], out[j]
        return out

    # ---- lives ---------------------------------------------------------------------------
    def due_reports(self, now: float) -> list[dict[str, Any]]:
        return [
            r
            for r in self.state["reports"].values()
            if r.get("next_at") is not None and r["next_at"] <= now
        ]

    def tick(self) -> int:
        """Run every step that is due on the life clock; returns steps run."""
        if self.cfg.life == "none":
            return 0
        now = self.clock()
        if self.faults.revoke_tokens > 0 and now - self.last_revoke >= self.faults.revoke_tokens:
            self.revoke_tokens()
        n = 0
        for report in self.due_reports(now):
            while report.get("next_at") is not None and report["next_at"] <= now:
                self.advance(report)
                n += 1
        return n

    def advance(self, report: dict[str, Any], steps: int = 1) -> int:
        done = 0
        while done < steps and report["life_index"] < len(report["life"]):
            step = report["life"][report["life_index"]]
            report["life_index"] += 1
            self._run_step(report, step)
            done += 1
        if report["life_index"] < len(report["life"]):
            unit = self.cfg.unit_s()
            nxt = report["life"][report["life_index"]]["after"] * unit
            report["next_at"] = (self.clock() + nxt) if self.cfg.life != "none" else None
        else:
            report["next_at"] = None
        self.touch()
        return done

    def _run_step(self, report: dict[str, Any], step: dict[str, Any]) -> None:
        rng = random.Random(  # noqa: S311 - a reproducible simulation
            f"{self.cfg.seed}:{report['tracking_id']}:{report['life_index']}"
        )
        do = step["do"]
        if report["status"] == "dihapus":
            return
        if do == "status":
            self.emit_status(report, step["status"])
        elif do == "reclassify":
            report["category_id"] = step["category_id"]
            self.emit(
                report,
                "reclassified",
                classification=report["classification"],
                category_id=step["category_id"],
                title=report["title"],
            )
        elif do == "dispose":
            aid = step["agency_id"]
            report["agency"] = {"id": aid, "name": AGENCY_NAMES[aid]}
            self.emit(report, "disposed", agency=report["agency"])
            self.emit_status(report, "terdisposisi")
        elif do == "respond":
            self._respond(report, step, rng)
        elif do == "info_request":
            self.emit(
                report,
                "info_requested",
                agency=report["agency"],
                author=self._author(report),
                text=rng.choice(data.fitting(data.INFO_REQUESTS, _about(report))),
            )
            self.emit_status(report, "tertunda")
        elif do == "await_reply":
            if not report.get("replied_at"):
                self.emit_status(report, "arsip")
                report["life_index"] = len(report["life"])
        elif do == "auto_close":
            if report["status"] == "ditindaklanjuti":
                self.emit_status(report, "selesai")
        elif do == "rate":
            self.emit(
                report, "rated", rating=step["rating"], comment=rng.choice(data.RATINGS_COMMENT)
            )
        elif do == "delete":
            report["status"] = "dihapus"
            self.emit(report, "deleted", reason="laporan tidak lengkap")
            self.emit(report, "status_changed", status="dihapus")

    def _author(self, report: dict[str, Any]) -> str:
        aid = (report.get("agency") or {}).get("id", "7")
        return f"Admin Penghubung {data.AGENCY_SHORT.get(aid, 'Pemko')}"

    def _respond(self, report: dict[str, Any], step: dict[str, Any], rng: random.Random) -> None:
        """A response that fits the agency and what the complaint is about."""
        kind = step["kind"]
        attachments: list[dict[str, Any]] = []
        aid = (report.get("agency") or {}).get("id", "7")
        if kind == "acknowledgement":
            text = rng.choice(data.ACKNOWLEDGEMENTS)
        elif kind == "forwarded":
            text = rng.choice(data.FORWARDED).format(
                agency=data.AGENCY_SHORT.get(step.get("to", "7"), "OPD terkait")
            )
        else:
            date = dt.datetime.fromtimestamp(self.clock(), WIB).strftime("%d-%m-%Y")
            bank = data.FOLLOWUPS.get(aid, data.GENERAL_FOLLOWUPS)
            place = data.place_in(_about(report)) or (
                (report.get("location") or {}).get("address") or "lokasi yang dilaporkan"
            )
            text = rng.choice(data.fitting(bank, _about(report))).format(date=date, place=place)
            if kind == "evidence":
                for n in range(rng.randint(1, 3)):
                    name = f"{report['tracking_id']}-{report['life_index']}-{n}.jpg"
                    attachments.append(
                        {
                            "url": f"{self.cfg.public_url or ''}{self.cfg.base_path}/files/{name}",
                            "content_type": "image/jpeg",
                            "sha256": hashlib.sha256(photo_bytes(name)).hexdigest(),
                        }
                    )
        self.emit(
            report,
            "response_posted",
            agency=report["agency"],
            author=self._author(report),
            text=text,
            attachments=attachments,
        )

    # ---- bulk data for benchmarks ------------------------------------------------------------
    def seed_reports(
        self, client_id: str, external_refs: list[str], events_per_report: int
    ) -> list[dict[str, str]]:
        out = []
        cycle = ["terverifikasi", "terdisposisi", "diproses", "ditindaklanjuti", "selesai"]
        for ref in external_refs:
            body = {
                "external_ref": ref,
                "source_channel": "web",
                "classification": "pengaduan",
                "title": "Laporan uji",
                "content": "Isi laporan uji untuk benchmark feed.",
                "anonymous": False,
                "confidential": False,
                "reporter": {},
                "attachment_ids": [],
            }
            _status, res = self.create_report(client_id, f"seed-{ref}", body)
            report = self.state["reports"][res["tracking_id"]]
            report["next_at"] = None
            report["agency"] = {"id": "45", "name": AGENCY_NAMES["45"]}
            for k in range(events_per_report):
                if k % 3 == 2:
                    self.emit(
                        report,
                        "response_posted",
                        agency=report["agency"],
                        author="Admin Penghubung Dinas PUPR",
                        text=data.ACKNOWLEDGEMENTS[k % len(data.ACKNOWLEDGEMENTS)],
                        attachments=[],
                    )
                else:
                    self.emit_status(report, cycle[k % len(cycle)])
            out.append(
                {
                    "external_ref": ref,
                    "tracking_id": res["tracking_id"],
                    "created_at": res["created_at"],
                }
            )
        return out


def _about(report: dict[str, Any]) -> str:
    """What the complaint says, for choosing a response that fits it."""
    return f"{report.get('title') or ''}\n{report.get('content') or ''}"


def photo_bytes(name: str) -> bytes:
    """A tiny valid JPEG-looking payload, unique per name (the sandbox's "photos")."""
    return b"\xff\xd8\xff\xe0" + hashlib.sha256(name.encode()).digest() * 4 + b"\xff\xd9"


def public_report(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "tracking_id": r["tracking_id"],
        "external_ref": r["external_ref"],
        "status": r["status"],
        "classification": r["classification"],
        "category_id": r.get("category_id"),
        "agency": r.get("agency"),
        "title": r["title"],
        "anonymous": r["anonymous"],
        "confidential": r["confidential"],
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
    }


def encode_cursor(position: int) -> str:
    import base64

    raw = json.dumps({"v": 1, "p": position}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    import base64
    import binascii

    if cursor is None or cursor == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        position = value["p"]
        if value.get("v") != 1 or not isinstance(position, int) or position < 0:
            raise ValueError(cursor)
        return position
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ApiError(
            422,
            "invalid_cursor",
            "cursor is not one this server gave",
            fields=[{"field": "cursor", "message": "unknown cursor"}],
        ) from exc


# ---- validation (strict: every problem named, unknown fields refused) ------------------------
def _err(errors: list[dict[str, str]], name: str, message: str) -> None:
    errors.append({"field": name, "message": message})


def _text(
    body: dict[str, Any],
    name: str,
    lo: int,
    hi: int,
    errors: list[dict[str, str]],
    required: bool = True,
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            _err(errors, name, "required")
        return None
    if not isinstance(value, str):
        _err(errors, name, "must be a string")
        return None
    if not lo <= len(value) <= hi:
        _err(errors, name, f"length must be {lo}..{hi}")
        return None
    if lo > 0 and not value.strip():
        _err(errors, name, "must not be blank")
        return None
    return value


def _datetime(value: Any, name: str, errors: list[dict[str, str]]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        _err(errors, name, "must be an RFC 3339 time")
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        _err(errors, name, "must be an RFC 3339 time")
        return None
    if parsed.tzinfo is None:
        _err(errors, name, "must carry a UTC offset")
        return None
    return value


def _attachment_ids(value: Any, known: set[str], errors: list[dict[str, str]]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _err(errors, "attachment_ids", "must be a list of attachment ids")
        return []
    for v in value:
        if v not in known:
            _err(errors, "attachment_ids", f"unknown attachment {v}")
    return list(value)


REPORT_FIELDS = {
    "external_ref",
    "source_channel",
    "classification",
    "title",
    "content",
    "occurred_on",
    "location",
    "category_id",
    "suggested_agency_id",
    "anonymous",
    "confidential",
    "reporter",
    "attachment_ids",
    "submitted_at",
}


def validate_report(body: Any, attachments: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "invalid_request",
            "body must be a JSON object",
            fields=[{"field": "", "message": "must be an object"}],
        )
    errors: list[dict[str, str]] = []
    for extra in sorted(set(body) - REPORT_FIELDS):
        _err(errors, extra, "unknown field")
    clean: dict[str, Any] = {}
    clean["external_ref"] = _text(body, "external_ref", 1, 64, errors)
    channel = body.get("source_channel")
    if not isinstance(channel, str) or channel not in CHANNELS:
        _err(errors, "source_channel", f"one of {', '.join(sorted(CHANNELS))}")
    clean["source_channel"] = channel
    classification = body.get("classification", "pengaduan")
    if not isinstance(classification, str) or classification not in CLASSIFICATIONS:
        _err(errors, "classification", f"one of {', '.join(sorted(CLASSIFICATIONS))}")
    clean["classification"] = classification
    clean["title"] = _text(body, "title", 1, 150, errors)
    clean["content"] = _text(body, "content", 20, 20000, errors)
    occurred = body.get("occurred_on")
    if occurred is not None:
        try:
            if not isinstance(occurred, str):
                raise ValueError(occurred)
            dt.date.fromisoformat(occurred)
        except ValueError:
            _err(errors, "occurred_on", "must be a date YYYY-MM-DD")
    clean["occurred_on"] = occurred
    clean["location"] = _location(body.get("location"), errors)
    category = body.get("category_id")
    if category is not None and (not isinstance(category, str) or category not in CATEGORY_IDS):
        _err(errors, "category_id", "unknown category")
    clean["category_id"] = category
    agency = body.get("suggested_agency_id")
    if agency is not None and (not isinstance(agency, str) or agency not in AGENCY_NAMES):
        _err(errors, "suggested_agency_id", "unknown agency")
    clean["suggested_agency_id"] = agency
    for flag in ("anonymous", "confidential"):
        value = body.get(flag, False)
        if not isinstance(value, bool):
            _err(errors, flag, "must be true or false")
        clean[flag] = value
    clean["reporter"] = _reporter(body.get("reporter"), errors)
    clean["attachment_ids"] = _attachment_ids(body.get("attachment_ids"), attachments, errors)
    clean["submitted_at"] = _datetime(body.get("submitted_at"), "submitted_at", errors)
    if errors:
        raise ApiError(422, "validation_failed", "the report is not valid", fields=errors)
    return clean


def _location(value: Any, errors: list[dict[str, str]]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        _err(errors, "location", "must be an object")
        return None
    for key in sorted(set(value) - {"address", "kelurahan", "kecamatan", "lat", "lon"}):
        _err(errors, f"location.{key}", "unknown field")
    for key in ("address", "kelurahan", "kecamatan"):
        v = value.get(key)
        if v is not None and (not isinstance(v, str) or len(v) > 500):
            _err(errors, f"location.{key}", "must be a string of at most 500 chars")
    for key, bound in (("lat", 90), ("lon", 180)):
        v = value.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not -bound <= v <= bound:
            _err(errors, f"location.{key}", f"must be a number in -{bound}..{bound}")
    return dict(value)


def _reporter(value: Any, errors: list[dict[str, str]]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _err(errors, "reporter", "must be an object")
        return {}
    for key in sorted(set(value) - {"name", "email", "phone", "nik"}):
        _err(errors, f"reporter.{key}", "unknown field")
    checks = {"name": None, "email": _EMAIL, "phone": _PHONE, "nik": _NIK}
    for key, pattern in checks.items():
        v = value.get(key)
        if v is None:
            continue
        if not isinstance(v, str) or not v.strip() or len(v) > 200:
            _err(errors, f"reporter.{key}", "must be a non-empty string")
        elif pattern is not None and not pattern.match(v):
            _err(
                errors,
                f"reporter.{key}",
                {
                    "email": "not an e-mail address",
                    "phone": "must be +62 followed by 8..13 digits",
                    "nik": "must be 16 digits",
                }[key],
            )
    return dict(value)


def validate_reply(body: Any, attachments: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "invalid_request",
            "body must be a JSON object",
            fields=[{"field": "", "message": "must be an object"}],
        )
    errors: list[dict[str, str]] = []
    for extra in sorted(set(body) - {"text", "sent_at", "resolved", "attachment_ids"}):
        _err(errors, extra, "unknown field")
    text = _text(body, "text", 1, 20000, errors)
    sent_at = _datetime(body.get("sent_at"), "sent_at", errors)
    resolved = body.get("resolved")
    if resolved is not None and not isinstance(resolved, bool):
        _err(errors, "resolved", "must be true, false or null")
    ids = _attachment_ids(body.get("attachment_ids"), attachments, errors)
    if errors:
        raise ApiError(422, "validation_failed", "the reply is not valid", fields=errors)
    return {"text": text, "sent_at": sent_at, "resolved": resolved, "attachment_ids": ids}
