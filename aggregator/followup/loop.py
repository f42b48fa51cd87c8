"""The SLA loop: start, pause, meet and breach the clocks of every complaint in LAPOR!.

Each pass recomputes the clocks of the complaints that can still move from their history
(LAPOR! events, follow-ups with their quality labels, reporter replies) — so it is
idempotent, and a late or replayed event simply corrects a clock — then stores them. A
clock breached for the first time appends an ``sla_breached`` event, increments
``satukanal_sla_breaches_total{agency, clock}``, calls the registered hooks, and, when
``sla.agency_contacts`` names the agency and an e-mail source can send, e-mails the
agency's contact once. A complaint closed (``selesai``) upstream with no substantive
follow-up is flagged ``closed_without_real_followup`` with an event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from prometheus_client import Counter

from aggregator.errors import PermanentError, TransientError
from aggregator.followup.sla import (
    SUBSTANTIVE,
    ClockState,
    ComplaintFacts,
    Happening,
    WorkingCalendar,
    clock_config,
    evaluate,
)
from aggregator.intake.sealing import seal_body
from aggregator.storage import followup as repo
from aggregator.storage.events import append_event
from connectors.base import Origin, OutboundMessage, Sink
from schemas.events import EventKind

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

BREACHES = Counter("satukanal_sla_breaches_total", "SLA clocks breached", ["agency", "clock"])
CLOSED_WITHOUT_FOLLOWUP = Counter(
    "satukanal_closed_without_real_followup_total",
    "Complaints closed upstream without a substantive follow-up",
    ["agency"],
)

BreachHook = Callable[[ClockState, uuid.UUID], None]
EMAIL_KINDS = frozenset({"imap", "maildir", "smtp", "email"})
CLOCK_NAMES_ID = {
    "verification": "verifikasi",
    "first_response": "tindak lanjut pertama",
    "auto_close": "penutupan otomatis",
    "settlement": "penyelesaian",
}


class SlaLoop:
    name = "sla"

    def __init__(
        self,
        services: Services,
        sinks: Mapping[str, Sink] | None = None,
        *,
        interval_s: float = 60.0,
        batch: int = 500,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.cfg = services.settings.sla
        self.calendar = WorkingCalendar(self.cfg)
        self.sinks = sinks or {}
        self.interval_s = interval_s
        self.batch = batch
        self.hooks: list[BreachHook] = []
        self._last_pass: dt.datetime | None = None

    def on_breach(self, hook: BreachHook) -> None:
        self.hooks.append(hook)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, TransientError) as exc:
                log.warning("sla_pass_failed", error=str(exc))
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """One pass over every complaint whose clocks may move; returns clocks changed."""
        now: dt.datetime = self.services.clock()
        # Closed complaints touched since the previous pass are looked at again (a late
        # follow-up, a reopening); a day's margin covers a restart.
        since = (self._last_pass or now) - dt.timedelta(days=1)
        changed = 0
        after = uuid.UUID(int=0)
        while True:
            async with self.services.pool.acquire() as conn:
                rows = await repo.sla_candidates(conn, after, self.batch, since)
                if not rows:
                    break
                after = rows[-1].id
                changed += await self._pass(conn, rows, now)
            if len(rows) < self.batch:
                break
        self._last_pass = now
        return changed

    async def _pass(
        self, conn: asyncpg.Connection, rows: list[repo.SlaCandidate], now: dt.datetime
    ) -> int:
        ids = [r.id for r in rows]
        history: dict[uuid.UUID, list[Happening]] = defaultdict(list)
        for h in await repo.sla_history(conn, ids):
            kind = {"status_changed": "status", "deleted": "status"}.get(h.kind, h.kind)
            status = "dihapus" if h.kind == "deleted" else h.status
            history[h.complaint_id].append(
                Happening(at=h.at, kind=kind, status=status, agency_id=h.agency_id, label=h.label)
            )
        stored = {(c.complaint_id, c.clock): c for c in await repo.sla_clocks(conn, ids)}
        upserts: list[tuple[Any, ...]] = []
        new_breaches: list[tuple[uuid.UUID, ClockState, repo.SlaCandidate]] = []
        flags: list[tuple[uuid.UUID, bool, int]] = []
        flagged_now: list[repo.SlaCandidate] = []
        for r in rows:
            hist = history.get(r.id, [])
            facts = ComplaintFacts(
                complaint_id=r.id,
                created_at=r.lapor_created_at,
                status=r.status,
                agency_id=r.agency_id,
                waiting_on_reporter=r.waiting_on_reporter,
                status_at=r.status_at,
                history=tuple(hist),
            )
            for state in evaluate(facts, now, self.cfg, self.calendar):
                old = stored.get((r.id, state.clock))
                if old is not None and _same(old, state):
                    continue
                upserts.append(
                    (
                        r.id,
                        state.clock,
                        state.started_at,
                        state.due_at,
                        state.paused_at,
                        state.paused_total,
                        state.met_at,
                        state.breached_at,
                        state.agency_id,
                    )
                )
                if state.breached_at is not None and (old is None or old.breached_at is None):
                    new_breaches.append((r.id, state, r))
            no_real = r.status == "selesai" and not any(
                h.kind == "response" and h.label in SUBSTANTIVE for h in hist
            )
            reopens = _reopens(hist)
            if no_real != r.closed_without_real_followup or reopens > r.reopen_count:
                flags.append((r.id, no_real, reopens))
                if no_real and not r.closed_without_real_followup:
                    flagged_now.append(r)
        async with conn.transaction():
            await repo.upsert_clocks(conn, upserts)
            await repo.set_followup_flags(conn, flags)
            for cid, state, _r in new_breaches:
                await append_event(
                    conn,
                    cid,
                    EventKind.SLA_BREACHED,
                    {
                        "clock": state.clock,
                        "due_at": state.due_at.isoformat(),
                        "agency_id": state.agency_id,
                        "regulation": clock_config(self.cfg, state.clock).regulation,
                        "limit": clock_config(self.cfg, state.clock).limit,
                        "unit": clock_config(self.cfg, state.clock).unit,
                    },
                    at=state.breached_at,
                )
            for r in flagged_now:
                await append_event(
                    conn,
                    r.id,
                    EventKind.CLOSED_WITHOUT_REAL_FOLLOWUP,
                    {"agency_id": r.agency_id, "tracking_id": r.lapor_tracking_id},
                )
        for cid, state, r in new_breaches:
            # The agency LAPOR! assigned (on the clock), never our routing guess.
            agency = state.agency_id or "unassigned"
            BREACHES.labels(agency=agency, clock=state.clock).inc()
            log.info(
                "sla_breached",
                complaint_id=str(cid),
                clock=state.clock,
                agency=agency,
                tracking_id=r.lapor_tracking_id,
            )
            for hook in self.hooks:
                hook(state, cid)
            await self._email_agency(conn, cid, state, r)
        for r in flagged_now:
            CLOSED_WITHOUT_FOLLOWUP.labels(agency=r.agency_id or "unassigned").inc()
            log.info(
                "closed_without_real_followup_flagged",
                complaint_id=str(r.id),
                tracking_id=r.lapor_tracking_id,
            )
        return len(upserts)

    def _email_sink(self) -> tuple[str, Sink] | None:
        for src in self.settings.sources:
            if src.kind in EMAIL_KINDS and src.name in self.sinks:
                return src.name, self.sinks[src.name]
        return None

    async def _email_agency(
        self, conn: asyncpg.Connection, cid: uuid.UUID, state: ClockState, r: repo.SlaCandidate
    ) -> None:
        agency = state.agency_id  # only an agency LAPOR! assigned is told of its breach
        contact = self.cfg.agency_contacts.get(agency or "")
        found = self._email_sink()
        if not contact or found is None:
            return
        source, sink = found
        dedup = f"sla_breach:{cid}:{state.clock}"
        if await repo.notification_state(conn, dedup) in ("sent", "delivered"):
            return
        nid = uuid.uuid5(uuid.NAMESPACE_URL, "satukanal:" + dedup)
        clock = clock_config(self.cfg, state.clock)
        unit = "hari kerja" if clock.unit == "working_days" else "hari"
        due_local = state.due_at.astimezone(self.calendar.tz)
        subject = (
            f"[LAPOR! #{r.lapor_tracking_id}] Batas waktu "
            f"{CLOCK_NAMES_ID.get(state.clock, state.clock)} terlampaui"
        )
        text = (
            f"Yth. {r.agency_name or 'Admin Penghubung'},\n\n"
            f"Laporan LAPOR! #{r.lapor_tracking_id} melewati batas waktu "
            f"{CLOCK_NAMES_ID.get(state.clock, state.clock)} ({clock.limit} {unit}; "
            f"{clock.regulation}). Batas waktu berakhir {due_local:%d-%m-%Y %H.%M}.\n\n"
            f"Mohon segera ditindaklanjuti dengan tindakan nyata di LAPOR!.\n\n"
            f"(pesan otomatis dari satukanal)\n"
        )
        detail: str | None
        try:
            result = await sink.send(
                Origin(source=source, channel="email", address=contact),
                OutboundMessage(
                    notification_id=str(nid),
                    kind="sla_breach",
                    text=text,
                    subject=subject,
                    tracking_id=r.lapor_tracking_id,
                ),
            )
            state_txt, ext, detail = "sent", result.external_id, result.detail
        except (TransientError, PermanentError) as exc:
            # The breach is recorded either way; the failed notice stays visible as such.
            log.warning("sla_breach_email_failed", complaint_id=str(cid), error=str(exc))
            state_txt, ext, detail = "failed", None, str(exc)[:500]
        await repo.record_standalone(
            conn,
            notification_id=nid,
            complaint_id=cid,
            kind="sla_breach",
            channel="email",
            source=source,
            dedup_key=dedup,
            state=state_txt,
            subject=subject,
            body=seal_body(self.services.crypto, text),
            body_key=self.services.crypto.current_id,
            external_id=ext,
            detail=detail,
            sent_at=self.services.clock() if state_txt == "sent" else None,
        )


def _same(old: repo.SlaClock, new: ClockState) -> bool:
    return (
        old.started_at == new.started_at
        and old.due_at == new.due_at
        and old.paused_at == new.paused_at
        and old.paused_total == new.paused_total
        and old.met_at == new.met_at
        and old.agency_id == new.agency_id
        and (old.breached_at is not None or new.breached_at is None)
    )


def _reopens(history: list[Happening]) -> int:
    """Times the report left ``selesai`` for an open status (a reply reopened it)."""
    n = 0
    closed = False
    for h in sorted(history, key=lambda h: h.at):
        if h.kind != "status":
            continue
        if h.status == "selesai":
            closed = True
        elif closed and h.status not in ("arsip", "bukan_wewenang", "dihapus"):
            n += 1
            closed = False
    return n
