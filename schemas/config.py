"""Configuration models: one TOML file plus ``SATUKANAL_…`` environment overrides.

Secrets are ``SecretStr`` and may instead be read from a file named by the sibling key
``<name>_file`` (systemd credentials, Docker secrets). Validation errors are turned into
messages naming the file and the key by ``aggregator.wiring.settings``.
"""

from __future__ import annotations

import datetime as dt
import re
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _is_secret(field: Any) -> bool:
    return "SecretStr" in str(field.annotation)


@dataclass(frozen=True)
class SecretFile:
    """One ``<name>_file`` key met while validating: ``problem`` is None when it was read."""

    key: str
    path: str
    problem: str | None = None


# While ``aggregator.wiring.check`` validates a configuration it puts a list here: every
# secret file is recorded in it and an unreadable one does not stop validation, so the
# administrator sees every problem at once. Outside the check an unreadable file is an error.
SECRET_FILES: ContextVar[list[SecretFile] | None] = ContextVar("SECRET_FILES", default=None)


def _secret_file_problem(path: Path) -> tuple[str | None, str | None]:
    """``(contents, None)`` or ``(None, what is wrong in plain words)``."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None, f"the file {path} does not exist"
    except PermissionError:
        return None, (
            f"the file {path} cannot be read (permission denied): the service user must be "
            f"able to read it, e.g. chgrp satukanal {path} && chmod 0640 {path}"
        )
    except IsADirectoryError:
        return None, f"{path} is a folder, not a file"
    except UnicodeDecodeError:
        return None, f"the file {path} is not text (UTF-8)"
    except OSError as exc:
        return None, f"the file {path} cannot be read: {exc.strerror or exc}"
    if not text:
        return None, f"the file {path} is empty"
    return text, None


def _read_secret_files(data: Any, fields: dict[str, Any]) -> Any:
    """Replace ``foo_file = PATH`` by ``foo = <contents>`` where ``foo`` is a declared secret
    (a ``SecretStr`` field): other ``*_file`` keys (``ca_file``) are plain paths."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    collected = SECRET_FILES.get()
    for key, value in data.items():
        stem = key[: -len("_file")]
        if (
            not key.endswith("_file")
            or key in fields
            or stem not in fields
            or not _is_secret(fields[stem])
        ):
            continue
        out.pop(key)
        if value in (None, "") or out.get(stem) not in (None, ""):
            continue
        text, problem = _secret_file_problem(Path(str(value)))
        if collected is not None:
            collected.append(SecretFile(key, str(value), problem))
        if problem is not None:
            if collected is None:
                raise ValueError(f"{key}: {problem}")
            continue  # reported by the check; the value stays unset
        out[stem] = text
    return out


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any) -> Any:
        return _read_secret_files(data, cls.model_fields)


class DatabaseConfig(Section):
    url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:password@host:5432/db; unset = an embedded PostgreSQL "
        "in data_dir/pg (fine for a trial, not for production). Secret (may be url_file).",
    )
    pool_min: int = Field(default=2, ge=1)
    """Connections the pool keeps open."""
    pool_max: int = Field(default=10, ge=1)
    """Most connections one process opens; size it with `queue.workers` and the number
    of replicas in mind."""
    migrate_on_start: bool = True
    """Apply pending migrations when `satukanal run` starts; set false where only
    `satukanal migrate` may change the schema."""
    connect_wait_s: float = Field(
        default=60.0,
        ge=0,
        description="how long the daemon waits at start-up for PostgreSQL to accept "
        "connections, retrying with backoff (a container started beside its database); "
        "0 = give up at once",
    )
    outage_log_every_s: float = Field(default=60.0, gt=0)
    """While PostgreSQL is away, each loop logs the first failure with its reason at once,
    then one line this often with the count of failed attempts, and one when it is back
    (never a traceback at every poll)."""
    acquire_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """How long any part of the daemon waits for a free connection from the pool before it
    gives up with `database_pool_timeout` in the log (a job is retried in doubt, a web page
    answers 503, a loop tries again next round)."""
    statement_timeout_s: float = Field(default=60.0, gt=0, le=86400)
    """Longest one SQL statement may run before PostgreSQL cancels it (`statement_timeout`
    of every session); the few long ones by nature get `long_statement_timeout_s`."""
    long_statement_timeout_s: float = Field(default=3600.0, gt=0, le=604800)
    """The statement limit of work that is long by nature: migrations (and the wait for
    another replica's), a backfill's batches with their bulk copy, the retention purge."""
    idle_in_transaction_timeout_s: float = Field(default=300.0, gt=0, le=86400)
    """A session left inside a transaction with nothing running for this long is ended by
    PostgreSQL (`idle_in_transaction_session_timeout`), so a stuck task cannot hold its
    locks for ever."""

    @model_validator(mode="after")
    def _long_not_shorter(self) -> DatabaseConfig:
        if self.long_statement_timeout_s < self.statement_timeout_s:
            raise ValueError(
                f"long_statement_timeout_s ({self.long_statement_timeout_s:g}) is shorter than "
                f"statement_timeout_s ({self.statement_timeout_s:g}): long work would be cut "
                f"off sooner than any other statement; raise long_statement_timeout_s"
            )
        return self

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value():
            raw = v.get_secret_value()
            if not re.match(r"^postgres(ql)?://", raw):
                raise ValueError("must start with postgresql:// (e.g. postgresql://user@host/db)")
        return v


class EncryptionKey(Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    """Short name stored with every ciphertext, so rows written with an older key stay
    readable after rotation."""
    secret: SecretStr = Field(
        description="32 random bytes, url-safe base64 (`satukanal keys generate`); secret, may be "
        "secret_file"
    )


class CryptoConfig(Section):
    keys: list[EncryptionKey] = Field(
        default_factory=list,
        description="AES-GCM keys for reporter identity, newest last: new writes use the last "
        "key, older ones stay to read older rows. Required outside the demo.",
    )
    hmac_key: SecretStr | None = Field(
        default=None,
        description="key of the matching hashes (same reporter, same text) kept beside the "
        "ciphertexts; never change it once data exists. Required outside the demo; secret, may "
        "be hmac_key_file.",
    )


class LaporConfig(Section):
    adapter: Literal["http", "manual", "xml-legacy"] = "http"
    """`http` speaks the JSON contract (docs/lapor-contract.md); `manual` puts
    complaints on an operator worklist; `xml-legacy` uses the old `addstream` endpoint."""
    base_url: AnyHttpUrl | None = None
    """Where the LAPOR! API lives, e.g. `https://lapor.example/api/v1`; required for
    `http` and `xml-legacy` unless `sandbox` is true."""
    client_id: str | None = None
    """The agency account's API client id."""
    client_secret: SecretStr | None = None
    """The API client secret (for `xml-legacy`: the token). Secret (may be
    `client_secret_file`)."""
    verify_tls: bool = True
    """Check TLS certificates of every outgoing HTTPS connection; turn off only against
    a test server."""
    ca_file: Path | None = None
    """A CA bundle to trust instead of the system's (a private CA in front of LAPOR!)."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Total time one outgoing HTTP request may take (LAPOR! and every other HTTP client
    of the daemon)."""
    connect_timeout_s: float = Field(default=10.0, gt=0)
    """Time allowed to open a connection."""
    max_connections: int = Field(default=20, ge=1)
    """Size of the shared HTTP connection pool."""
    rate_limit_per_s: float = Field(default=20.0, gt=0)
    """Requests per second sent to LAPOR! by all replicas together (the contract allows
    20 per client); see `rate_limit_scope`."""
    rate_burst: int = Field(default=40, ge=1)
    """LAPOR!'s burst allowance; the client uses half of it so replicas and retries stay
    under the limit."""
    rate_limit_scope: Literal["database", "process"] = "database"
    """`database`: one bucket in PostgreSQL that every replica on the database shares, so
    `rate_limit_per_s` holds however many processes push (without the database no request
    leaves). `process`: each process has its own bucket; only for a single process whose
    database is far away."""
    updates_poll_s: float = Field(default=30.0, gt=0)
    """How often the updates feed is read when nothing woke the loop."""
    updates_page: int = Field(default=500, ge=1, le=500)
    """Events asked for per feed page (the contract's maximum is 500)."""
    webhook_secret: SecretStr | None = None
    """Set to accept LAPOR!'s signed pushes at `POST /lapor/webhook`; the feed is still
    read as a fallback. Secret (may be `webhook_secret_file`)."""
    request_timeout_s: float = Field(default=10.0, gt=0)
    """Total time one LAPOR! request may take (the shorter of this and `timeout_s`
    counts). Keep it well under the time LAPOR! may hold a request it will not answer: a
    cut-off request is looked up before it is sent again, and a held one only blocks its
    push slot."""
    push_concurrency: int | None = Field(default=None, ge=1, le=256)
    """Pushes and replies to LAPOR! run at once by one process, apart from the other
    jobs' `queue.workers`. Unset: sized to the rate limit by Little's law,
    `rate_limit_per_s` × 1.5 s (a request's latency plus a share of requests cut off at
    `request_timeout_s`), between 4 and 64 (30 at the default 20 requests/s). More slots
    never exceed the limit (every request waits its turn in the process's one token
    bucket); they keep it busy while some requests wait on a slow LAPOR!, and let the
    database work of many pushes share one statement. A live push takes the next free
    slot ahead of any bulk (backfill) push: see `[queue]`."""
    breaker_failures: int = Field(default=20, ge=1)
    """Failed calls (no answer, 5xx) within `breaker_window_s` needed to open the circuit
    breaker, as long as they are also `breaker_failure_rate` of the calls in that window."""
    breaker_failure_rate: float = Field(default=0.5, gt=0, le=1)
    """Share of failed calls within `breaker_window_s` that opens the breaker: a noisy
    LAPOR! (one 5xx in five) keeps it closed; one that goes down opens it within about
    half a window."""
    breaker_window_s: float = Field(default=10.0, gt=0)
    """The window the breaker's failure rate is measured over."""
    breaker_reset_s: float = Field(default=30.0, gt=0)
    """How long the open breaker waits before one trial request. While it is open, push
    jobs are deferred without spending an attempt."""
    send_slot_time: bool = False
    """Send every LAPOR! request with `X-Satukanal-Token-At`: this machine's monotonic clock
    when the request took its rate-limit slot. For a sandbox on the same machine to tell a
    client that sends late or bunched from its own late reading (the chaos test); off
    against the real LAPOR!."""
    # Embedded sandbox for the demo and tests: started by the daemon when true.
    sandbox: bool = False
    """Start the built-in LAPOR! sandbox inside the daemon and talk to it (demo and
    tests; never in production)."""

    @model_validator(mode="after")
    def _http_needs_url(self) -> LaporConfig:
        if self.adapter in ("http", "xml-legacy") and not self.sandbox and self.base_url is None:
            raise ValueError(
                f"adapter {self.adapter!r} needs lapor.base_url (or lapor.sandbox = true)"
            )
        return self


class QueueConfig(Section):
    """Two workers per process take jobs from it: one for LAPOR! pushes and replies, with
    `lapor.push_concurrency` slots, and one for everything else (notifications, write-back),
    with `workers` slots; a slow LAPOR! never holds up a citizen's notification. Each job
    waits in one of two lanes: *live* (everything from intake, the feed and operators) and
    *bulk* (a backfill's pushes and the notifications they lead to). A worker claims every
    due live job before any bulk one, so a live acknowledgement or push waits for at most
    the jobs already running, never for a backfill's backlog. The lanes are not a setting:
    `satukanal backfill` puts its jobs in the bulk lane."""

    workers: int = Field(default=4, ge=1, le=64)
    """Notifications, write-backs and other jobs but LAPOR! pushes and replies run at once by
    one process (those have `lapor.push_concurrency`)."""
    batch_size: int = Field(default=50, ge=1, le=1000)
    """Jobs claimed per round trip."""
    lease_s: float = Field(default=15.0, gt=0)
    """How long a claimed job stays with a process without a heartbeat. A live worker
    renews the leases of the jobs it holds every `lease_s` / 3, however long they run;
    the jobs of a process that died are claimed again by another once it expires."""
    job_timeout_s: float = Field(default=300.0, gt=0)
    """Longest one attempt of a job may run. Past it the handler is cancelled and the job
    goes back to the queue in doubt (its next attempt checks before acting), as a failed
    attempt, so a job that hangs every time ends dead on the dashboard instead of looping.
    A handler that does not even stop when cancelled is given up on `lease_s` later: its
    job is handed back in doubt, so no job is held for ever."""
    max_attempts: int = Field(default=12, ge=1)
    """Attempts before a job is dead (visible on the dashboard, retried only by an
    operator). Only attempts that reached the peer count: a job deferred because LAPOR!'s
    circuit breaker is open (an outage) keeps its attempts, however long the outage."""
    max_age_h: float = Field(default=168.0, gt=0)
    """Age in hours after which a job that fails is dead whatever its attempts. It is
    checked only when an attempt fails, never on a deferral, so a LAPOR! outage of 72 h
    kills nothing: the jobs wait, and have their attempts left when LAPOR! is back."""
    backoff_base_s: float = Field(default=5.0, gt=0)
    """First retry delay; doubled per attempt, with jitter, never below a `Retry-After`."""
    backoff_max_s: float = Field(default=3600.0, gt=0)
    """Longest delay between two attempts."""
    poll_s: float = Field(default=5.0, gt=0, description="fallback when NOTIFY is missed")
    """How often idle workers look for due jobs when no NOTIFY woke them."""


class BackfillConfig(Section):
    workers: int | None = Field(default=None, ge=0, le=256)
    """Processes that parse, repair, route and encrypt an archive's rows during
    `satukanal backfill` (the event loop's own process only reads and writes, in source
    order). Unset: one per CPU. 0: everything in the one process. Overridden by
    `satukanal backfill --workers`. Sources whose parsing needs their live connection
    (e-mail) always prepare in the one process."""
    pages_in_flight: int | None = Field(default=None, ge=1, le=1024)
    """Most source pages (each `batch_size` rows) read and not yet committed at once, which
    bounds a backfill's memory. Unset: twice `workers`."""


class SpoolConfig(Section):
    dir: Path | None = None
    """Where HTTP intakes (SMS webhook, form endpoint) keep what they accepted while
    PostgreSQL cannot be reached; default `data_dir/spool`. Local disk: every entry is
    fsynced before the gateway or citizen gets an answer."""
    max_mb: float = Field(default=512.0, gt=0)
    """Most the spool may hold; past it, intakes refuse (HTTP 503) instead of filling the
    disk."""
    db_timeout_s: float = Field(default=10.0, gt=0)
    """How long an intake waits for the database before it spools the request instead (a
    database that refuses connections is spooled for at once)."""
    drain_interval_s: float = Field(default=1.0, gt=0)
    """How often the spool is tried against the database while it holds anything."""
    group_window_ms: float = Field(default=2.0, ge=0, le=1000)
    """Group commit of the HTTP intakes: requests of one source arriving within this many
    milliseconds of each other, or while the previous group is being written, are stored
    in one transaction; each is answered once that transaction committed (or, with the
    database away, once it is spooled on its own). 0: no wait, only the requests that
    arrived while the previous group was written are grouped."""
    group_max_items: int = Field(default=100, ge=1, le=10000)
    """Most items one such transaction holds; 1 turns group commit off (every request in a
    transaction of its own)."""


class HttpConfig(Section):
    host: str = "127.0.0.1"
    """Address the one HTTP listener (dashboard, admin API, intakes, health, metrics)
    binds to; keep it on loopback behind a reverse proxy."""
    port: int = Field(default=8470, ge=0, le=65535)
    """Its port (0 = any free port)."""
    public_base_url: AnyHttpUrl | None = Field(
        default=None, description="how citizens reach the status page; links in SMS use it"
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="reverse proxies (addresses or CIDR networks) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; every rate limit and the Secure cookie flag use the "
        "client they name. Empty: the socket peer is the client",
    )
    session_ttl_h: float = Field(
        default=12, gt=0, le=24 * 30, description="how long a dashboard login lasts (hours)"
    )
    login_failures_max: int = Field(
        default=10,
        ge=1,
        description="failed dashboard logins or API tokens one client may try per 15 minutes",
    )


class SlaClock(Section):
    limit: int = Field(ge=1)
    """The limit, in `unit`s."""
    unit: Literal["working_days", "days"] = "working_days"
    """`working_days` (Monday–Friday minus holidays in `sla.timezone`) or calendar
    `days`."""
    regulation: str
    """The rule this limit comes from, shown next to a breach."""


class SlaConfig(Section):
    timezone: str = "Asia/Jakarta"
    """The municipality's time zone: working days, deadlines and times in messages."""
    extra_holidays: list[dt.date] = Field(default_factory=list)
    """Local days off on top of national holidays and cuti bersama."""
    extra_working_days: list[dt.date] = Field(default_factory=list)
    """Days that are working days although they would not be (a Saturday made up for a
    bridge holiday)."""
    verification: SlaClock = SlaClock(
        limit=3, regulation="PermenPANRB 62/2018 (LAPOR!: verifikasi ≤ 3 hari kerja)"
    )
    """From LAPOR!'s `created_at` to the first status past `belum_terverifikasi`."""
    first_response: SlaClock = SlaClock(
        limit=5, regulation="PermenPANRB 62/2018 (tindak lanjut ≤ 5 hari kerja setelah disposisi)"
    )
    """From assignment to an agency to its first substantive follow-up."""
    auto_close: SlaClock = SlaClock(
        limit=10, regulation="LAPOR! (selesai otomatis 10 hari kerja tanpa tanggapan pelapor)"
    )
    """From the latest follow-up to closure when the reporter does not answer."""
    settlement: SlaClock = SlaClock(
        limit=60, unit="days", regulation="Perpres 76/2013; UU 25/2009 Pasal 50 (60 hari)"
    )
    """From LAPOR!'s `created_at` to closure."""
    agency_contacts: dict[str, str] = Field(
        default_factory=dict, description="agency code → e-mail for breach notices"
    )
    check_interval_s: float = Field(
        default=60.0, gt=0, description="how often clocks and closures are evaluated"
    )


class NotifyConfig(Section):
    merge_window_s: float = Field(default=60.0, ge=0)
    """Messages to one citizen within this window are sent as one (0 = each at once)."""
    sms_max_parts: int = Field(default=3, ge=1, le=10)
    """Longest SMS in parts; the agency's text is shortened at a word to fit, the status
    link is always kept."""
    reply_window_days: int = Field(default=30, ge=1)
    """For how many days after our last message an e-mail or SMS from the same citizen
    counts as a reply, not a new complaint."""
    max_per_address_per_hour: int = Field(default=6, ge=0)
    """Most messages sent to one phone number or e-mail address in any hour (0 = no limit);
    more are kept for the status page. Cuts loops with auto-responders."""
    identical_limit: int = Field(default=2, ge=0)
    """Most times the very same text is sent to one address within `identical_window_h`
    (0 = no limit); a further identical message is a loop and is not sent."""
    identical_window_h: float = Field(default=24.0, gt=0)
    """The window of `identical_limit`, in hours."""
    retry_backoff_s: list[float] = Field(default_factory=lambda: [300.0, 1800.0])
    """Waits before each new attempt on the same channel after the channel reported a
    failure that may pass (SMS not delivered, mail deferred); empty = no retry there."""
    fallback: Literal["other_channel", "none"] = "other_channel"
    """After the retries fail: `other_channel` sends the message by e-mail when the SMS
    failed (and by SMS when the e-mail failed) if the reporter gave that address."""
    fallback_sources: dict[str, str] = Field(default_factory=dict)
    """Channel (`email`, `sms`) → name of the source whose sink sends the fallback there,
    e.g. `{ email = "surel-pengaduan", sms = "sms-gateway" }`."""


class PublicConfig(Section):
    """The pages citizens see (web form, receipt, status): the municipality's look and the
    privacy notice."""

    logo: Path | None = None
    """The municipality's logo (PNG, JPEG or SVG, at most 200 KB), shown on every public
    page next to `municipality`; embedded in the page, so no other address is needed."""
    privacy_contact: str | None = None
    """Where a citizen asks for their data to be corrected or erased (an e-mail address,
    a telephone number or an office), named in the privacy notice."""
    retention: str = (
        "selama pengaduan ditangani dan paling lama lima tahun setelah "
        "selesai, sesuai ketentuan kearsipan"
    )
    """How long personal data are kept, in words for the privacy notice."""


class FollowupConfig(Section):
    """Extra phrases for the follow-up quality classifier (case-insensitive, plain words;
    prefix ``re:`` for a regular expression). Added to the built-in library, never replacing it."""

    acknowledgement_phrases: list[str] = Field(default_factory=list)
    """Phrases that mark a response as a mere acknowledgement."""
    forwarded_phrases: list[str] = Field(default_factory=list)
    """Phrases that mean the complaint was passed to someone else."""
    info_request_phrases: list[str] = Field(default_factory=list)
    """Phrases that ask the reporter for more detail."""
    action_words: list[str] = Field(
        default_factory=list, description="verb stems or forms that mean an action was taken"
    )
    weak_action_words: list[str] = Field(
        default_factory=list, description="steps that count only with a place, date or amount"
    )
    non_action_words: list[str] = Field(
        default_factory=list, description="words that never count as an action"
    )
    unit_words: list[str] = Field(default_factory=list, description="local unit names (UPT …)")
    policy: Path | None = Field(
        default=None, description="followup.toml replacing the shipped label policy"
    )


class AlertsConfig(Section):
    """Incidents: when a condition counts, how long it must hold (damping), who is told."""

    evaluate_s: float = Field(default=30.0, gt=0, description="how often conditions are checked")
    open_after_s: float = Field(
        default=120.0, ge=0, description="a condition must hold this long before it opens"
    )
    close_after_s: float = Field(
        default=300.0, ge=0, description="an open incident closes once clear this long"
    )
    failures_to_fail: int = Field(
        default=3, ge=1, description="consecutive failed attempts that make a component failing"
    )
    feed_stale_s: float = Field(
        default=900.0, gt=0, description="the updates feed is stale with no good read this long"
    )
    silent_after_h: float = Field(
        default=24.0, gt=0, description="a usually busy source is silent after this long"
    )
    silent_min_per_day: float = Field(
        default=5.0, gt=0, description="a source 'usually brings' at least this many a day"
    )
    silent_baseline_days: int = Field(default=14, ge=1, le=90)
    """Days of history a source's usual daily volume is measured over."""
    backlog_max: int = Field(default=500, ge=1, description="queued jobs above this: backlog")
    dead_jobs_max: int = Field(default=0, ge=0, description="dead jobs above this: incident")
    delivery_window_s: float = Field(default=3600.0, gt=0)
    """Window over which failed deliveries to citizens are counted."""
    delivery_failures_min: int = Field(default=5, ge=1)
    """Failed deliveries in the window before it is an incident (with the share below)."""
    delivery_failure_share: float = Field(default=0.2, gt=0, le=1)
    """Share of deliveries in the window that failed before it is an incident."""
    sla_breach_window_h: float = Field(default=24.0, gt=0)
    """Window over which newly breached SLA clocks are counted."""
    sla_breaches_min: int = Field(default=1, ge=1)
    """Breaches in the window that open an incident."""
    unready_after_s: float = Field(
        default=900.0, ge=0, description="/readyz fails once LAPOR! is down this long"
    )
    notify_resolved: bool = Field(default=True, description="also tell contacts when it clears")
    email_to: list[str] = Field(default_factory=list, description="admin contacts")
    email_from: str = "satukanal@localhost"
    """Sender address of alert e-mails."""
    smtp_host: str | None = None
    """SMTP server for alert e-mails; unset: no e-mail alerts."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    """SMTP port."""
    smtp_username: str | None = None
    """SMTP login, if the server wants one."""
    smtp_password: SecretStr | None = None
    """SMTP password. Secret (may be smtp_password_file)."""
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    """How the SMTP connection is protected."""
    webhook_url: AnyHttpUrl | None = Field(
        default=None, description="chat tool incoming webhook; receives JSON with 'text'"
    )

    @model_validator(mode="after")
    def _email_needs_smtp(self) -> AlertsConfig:
        if self.email_to and not self.smtp_host:
            raise ValueError("alerts.email_to needs alerts.smtp_host")
        return self


class SourceConfig(Section):
    """One configured instance of a channel. ``options`` are checked by the connector."""

    name: str
    """Unique name of this channel instance (lowercase, digits, `-`, `_`); appears in
    URLs, logs, metrics."""
    kind: str
    """The connector: `imap`, `maildir`, `gammu`, `sms_http`, `sql_table`, `form_http`,
    or one a plugin registers."""
    agency: str | None = Field(default=None, description="OPD code owning this channel")
    enabled: bool = True
    """Set false to stop polling it while keeping its history."""
    poll_s: float = Field(default=30.0, gt=0)
    """Seconds between polls (push-only intakes ignore it)."""
    batch_size: int = Field(default=100, ge=1, le=10000)
    """Items committed, then acknowledged, together."""
    sunset: bool = Field(default=False, description="answer citizens that LAPOR! replaces this")
    degrade_after_failures: int = Field(default=3, ge=1)
    """Failed polls in a row after which the source is shown `degraded` (status, /readyz,
    dashboard, metrics) and needs a human."""
    lease_s: float = Field(default=10.0, ge=1)
    """With several replicas on one database, one polls this source at a time: it holds
    the source's lease while a poll runs and renews it every `lease_s` / 3, so a replica
    that died hands the source over to another within `lease_s` (plus `poll_s`)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The connector's own options, checked by the connector: see docs/connectors.md."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SOURCE_NAME.match(v):
            raise ValueError("use lowercase letters, digits, '-' and '_' (e.g. 'email-pupr')")
        return v


class RoutingRule(Section):
    agency: str
    """OPD code (from `[agencies]`) or LAPOR! agency id to suggest."""
    keywords: list[str] = Field(default_factory=list)
    """Words or phrases in the complaint that select this rule."""
    category: str | None = None
    """LAPOR! category id to suggest with it."""


class RouteTarget(Section):
    """A route a rule forces or forbids: a category of the policy, an OPD code, or both."""

    category: str | None = None
    """Category id of the routing policy (e.g. `infrastruktur_jalan`)."""
    agency: str | None = Field(default=None, description="OPD code, e.g. PUPR")


class RouterRule(Section):
    """A rule of the routing policy: when one of the phrases appears (case-insensitive, after
    normalisation; ``re:`` prefixes a regular expression) force a route, or forbid one."""

    name: str | None = None
    """Shown in the route's reasons."""
    when: list[str] = Field(min_length=1)
    """Phrases that make the rule apply."""
    force: RouteTarget | None = None
    """The route to take when a phrase appears."""
    forbid: RouteTarget | None = None
    """The routes never to take when a phrase appears."""

    @model_validator(mode="after")
    def _one_action(self) -> RouterRule:
        if (self.force is None) == (self.forbid is None):
            raise ValueError("a routing rule either forces or forbids a route")
        return self


class RouterConfig(Section):
    """The learned router (see docs/routing.md). The shipped policy is the default;
    ``policy`` names a city's own file of the same shape, which replaces it."""

    enabled: bool = True
    """Off: the channel's own agency is suggested and nothing is stored for triage."""
    policy: Path | None = Field(default=None, description="routing.toml replacing the shipped one")
    min_confidence: float = Field(
        default=0.55, ge=0, le=1, description="below this a complaint goes to the triage list"
    )
    rules: list[RouterRule] = Field(default_factory=list, description="added to the policy's")


class RetentionConfig(Section):
    """How long personal data is kept (UU 27/2022: no longer than the purpose needs). Days
    count from the moment the complaint became final (closed in LAPOR!, a duplicate, kept
    as history) or, for what has no complaint, from when it was stored; 0 keeps forever."""

    raw_originals_days: int = Field(default=90, ge=0)
    """Raw originals (the whole e-mail, SMS or form post) of final complaints."""
    quarantined_days: int = Field(default=180, ge=0)
    """Quarantined and ignored raw items, which belong to no complaint."""
    notification_bodies_days: int = Field(default=90, ge=0)
    """The texts of messages sent to citizens (the record that one was sent stays)."""
    channel_logs_days: int = Field(default=30, ge=0)
    """Finished jobs (with their payloads) and dashboard sessions."""
    access_log_days: int = Field(default=730, ge=0)
    """The access log of reveals: kept longer, it is the accountability record."""
    purge_interval_s: float = Field(default=3600.0, gt=0)
    """How often the purge job runs in the daemon."""


class PrivacyConfig(Section):
    keep_photo_metadata: bool = False
    """Keep photos' EXIF (GPS position, camera serial, owner) for named reporters when
    pushing to LAPOR!. Off by default: only the picture goes up. Anonymous reporters'
    photos always lose it."""
    image_max_pixels: int = Field(default=40_000_000, ge=1)
    """Largest image (width × height) decoded to strip metadata; bigger ones are
    quarantined as attachments (the complaint goes on without them)."""
    image_timeout_s: float = Field(default=10.0, gt=0)
    """Longest time one image may take to clean, off the event loop."""
    retention: RetentionConfig = RetentionConfig()
    """Retention per kind of personal data; `satukanal purge` and the daemon apply it."""


class BurstConfig(Section):
    """Bursts and clusters (see docs/routing.md)."""

    quiet_window_s: float = Field(
        default=180.0,
        ge=0,
        description="messages from one sender on one channel this close together are one "
        "complaint before push (0: off)",
    )
    cluster_window_h: float = Field(
        default=72.0,
        ge=0,
        description="complaints of one category naming one place this close together form "
        "a cluster (0: off)",
    )
    cluster_min_reporters: int = Field(
        default=2, ge=2, description="reporters a cluster needs to be listed"
    )


class JunkConfig(Section):
    """Junk held out of LAPOR! (see docs/routing.md): operator promotions, auto-replies,
    empty or one-word messages and obvious spam are quarantined with their reason, never
    pushed; an operator's replay lets one through."""

    enabled: bool = True
    """Off: nothing is held as junk."""
    min_words: int = Field(
        default=2, ge=0, description="fewer words than this (after cleaning): held"
    )
    promotion_score: int = Field(
        default=3, ge=1, description="operator-promotion signals needed to hold a message"
    )
    spam_score: int = Field(default=3, ge=1, description="spam signals needed to hold a message")
    promotion_phrases: list[str] = Field(
        default_factory=list, description="added to the shipped operator-promotion phrases"
    )
    spam_phrases: list[str] = Field(
        default_factory=list, description="added to the shipped spam phrases"
    )
    auto_reply_phrases: list[str] = Field(
        default_factory=list, description="added to the shipped auto-reply phrases"
    )
    allow_phrases: list[str] = Field(
        default_factory=list,
        description="a message with one of these is never held (a city's own keywords)",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SATUKANAL_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    demo: bool = False
    """Demo mode: fixed public encryption keys, no credentials needed. Never for real
    data."""
    data_dir: Path = Path("/var/lib/satukanal")
    """Where the embedded PostgreSQL, the demo's files and other local state live."""
    municipality: str = "Kota Palangka Raya"
    """Shown to citizens in messages, pages and the dashboard."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level logged."""
    log_format: Literal["auto", "json", "console"] = "auto"
    """`auto` = JSON lines when not on a terminal, readable lines on one."""
    database: DatabaseConfig = DatabaseConfig()
    """PostgreSQL."""
    crypto: CryptoConfig = CryptoConfig()
    """Encryption of reporter identity at rest."""
    lapor: LaporConfig = LaporConfig(sandbox=True)
    """The LAPOR! connection."""
    queue: QueueConfig = QueueConfig()
    """The job queue."""
    http: HttpConfig = HttpConfig()
    """The HTTP listener."""
    spool: SpoolConfig = SpoolConfig()
    """The HTTP intakes' local spool for when PostgreSQL is away."""
    backfill: BackfillConfig = BackfillConfig()
    """Archive imports (`satukanal backfill`)."""
    sla: SlaConfig = SlaConfig()
    """Working-day clocks."""
    notify: NotifyConfig = NotifyConfig()
    """Messages to citizens."""
    public: PublicConfig = PublicConfig()
    """The public pages: logo and privacy notice."""
    followup: FollowupConfig = FollowupConfig()
    """Extra words for the follow-up labeller."""
    alerts: AlertsConfig = AlertsConfig()
    """Incidents: when they open and close, and whom they alert."""
    sources: list[SourceConfig] = Field(default_factory=list)
    """The legacy channels, one `[[sources]]` table each."""
    routing: list[RoutingRule] = Field(default_factory=list)
    """Keyword rules of older settings files: each forces its agency when a keyword appears
    (the learned router of `[router]` decides everything else)."""
    router: RouterConfig = RouterConfig()
    """The learned router (docs/routing.md)."""
    privacy: PrivacyConfig = PrivacyConfig()
    """Personal data: photo metadata, image limits, retention (docs/privacy.md)."""
    junk: JunkConfig = JunkConfig()
    """Junk held out of LAPOR!: promotions, auto-replies, one-word messages, spam."""
    bursts: BurstConfig = BurstConfig()
    """SMS bursts merged before push; clusters of one problem at one place."""
    agencies: dict[str, str] = Field(
        default_factory=dict,
        description="friendly OPD code → LAPOR! agency id (GET /agencies); codes may then be "
        "used for sources, routing, tokens and SLA contacts",
    )

    def agency_id(self, code: str | None) -> str | None:
        """A configured OPD code (or a LAPOR! agency id given directly) as LAPOR!'s id."""
        if code is None:
            return None
        return self.agencies.get(code, code)

    @model_validator(mode="after")
    def _resolve_agency_codes(self) -> Settings:
        # Everything downstream compares LAPOR! ids: after a disposition the complaint carries
        # LAPOR!'s id, so routing and ownership must already speak it.
        for src in self.sources:
            src.agency = self.agency_id(src.agency)
        for rule in self.routing:
            rule.agency = self.agency_id(rule.agency) or rule.agency
        self.sla.agency_contacts = {
            self.agency_id(k) or k: v for k, v in self.sla.agency_contacts.items()
        }
        return self

    @model_validator(mode="after")
    def _fallback_sources_exist(self) -> Settings:
        names = {s.name for s in self.sources}
        for channel, name in self.notify.fallback_sources.items():
            if channel not in ("email", "sms"):
                raise ValueError(
                    f"notify.fallback_sources: {channel!r} is not a channel (email or sms)"
                )
            if name not in names:
                raise ValueError(
                    f"notify.fallback_sources.{channel}: no source is named "
                    f"{name!r} (sources: {', '.join(sorted(names)) or 'none'})"
                )
        return self

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, v: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for s in v:
            if s.name in seen:
                raise ValueError(f"source name {s.name!r} is used twice")
            seen.add(s.name)
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file; the file arrives as init kwargs (see settings.load).
        return (env_settings, init_settings)
