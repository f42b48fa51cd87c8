"""Configuration of the form connectors, validated from ``SourceConfig.options``.

The mapping is declarative: an operator describes the old form's tables in TOML and no code
changes per municipality. Identifiers from here end up in SQL on the *legacy* database, so
every one is checked against a strict pattern and quoted per dialect (see ``legacy_db``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from connectors.base import ConnectorOptions

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_READ_ONLY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_FORBIDDEN = re.compile(
    r"\b(insert|update|delete|replace|drop|alter|create|truncate|grant|lock|call|load|into)\b",
    re.IGNORECASE,
)


def check_ident(v: str | None) -> str | None:
    if v is not None and not _IDENT.match(v):
        raise ValueError(f"{v!r} is not a plain column/table name (letters, digits, '_')")
    return v


class Opts(ConnectorOptions):
    model_config = ConfigDict(extra="forbid")


class FieldMap(Opts):
    """Which column of the row (table or query) is which field. ``None`` = not present."""

    content: str = "isi_laporan"
    title: str | None = None
    submitted_at: str | None = "tgl_pengaduan"
    status: str | None = "status"
    photo: str | None = "foto"
    name: str | None = None
    phone: str | None = None
    nik: str | None = "nik"
    email: str | None = None
    address: str | None = None
    category: str | None = None
    lat: str | None = None
    lon: str | None = None
    # A column from a joined table that is NULL when the join found nothing (orphan row:
    # a complaint whose ``masyarakat`` row was deleted or never existed).
    orphan_check: str | None = None

    @field_validator("*")
    @classmethod
    def _ident(cls, v: str | None) -> str | None:
        return check_ident(v)


DEFAULT_STATUS_MAP: dict[str, str] = {
    "0": "received",
    "": "received",
    "baru": "received",
    "menunggu": "received",
    "diajukan": "received",
    "proses": "diproses",
    "diproses": "diproses",
    "dibalas": "ditindaklanjuti",
    "selesai": "selesai",
    "ditolak": "arsip",
}

DEFAULT_STATUS_BACK: dict[str, str] = {
    "received": "0",
    "manual_pending": "0",
    "belum_terverifikasi": "0",
    "terverifikasi": "proses",
    "terdisposisi": "proses",
    "diproses": "proses",
    "ditindaklanjuti": "proses",
    "tertunda": "proses",
    "selesai": "selesai",
    "arsip": "selesai",
    "bukan_wewenang": "selesai",
}


class Responses(Opts):
    """The form's responses table (``tanggapan``): read on re-scan, written by write-back."""

    table: str = "tanggapan"
    id_column: str = "id_tanggapan"
    complaint_column: str = "id_pengaduan"
    date_column: str | None = "tgl_tanggapan"
    text_column: str = "tanggapan"
    staff_column: str | None = "id_petugas"

    _c = field_validator(
        "table", "id_column", "complaint_column", "date_column", "text_column", "staff_column"
    )(classmethod(lambda cls, v: check_ident(v)))


class Photo(Opts):
    base_dir: Path | None = None  # where the PHP app stored uploads
    url_base: str | None = None  # or where they are served; relative names are joined to it
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)


class WriteBack(Opts):
    enabled: bool = False
    table: str = "pengaduan"  # the complaints table written (a query source has no single one)
    id_column: str | None = None  # default: the source's id_column
    status_column: str | None = "status"
    # A column the agency added for LAPOR!'s Tracking ID (e.g. ``lapor_tracking_id
    # varchar(20)``). Without it the Tracking ID is written as a response row instead.
    tracking_column: str | None = None
    status_values: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATUS_BACK))
    staff_id: int | None = Field(default=None, description="id_petugas written on our rows")
    # How text is written: as UTF-8 bytes through the table's latin1 (what the PHP pages
    # expect, since they echo bytes under a UTF-8 meta tag), or as proper text.
    text_bytes: Literal["utf8_as_latin1", "native"] = "utf8_as_latin1"

    _c = field_validator("tracking_column", "table", "id_column", "status_column")(
        classmethod(lambda cls, v: check_ident(v))
    )


class Rescan(Opts):
    enabled: bool = True
    interval_s: float = Field(default=900.0, gt=0)
    open_statuses: list[str] = Field(default_factory=lambda: ["0", "", "proses"])
    max_rows: int = Field(default=20000, ge=1)
    rows_per_round: int = Field(
        default=2000,
        ge=1,
        description="open rows re-read per round at most; more open rows "
        "are covered over several rounds, in id order",
    )


class BackfillPolicy(Opts):
    """What a backfill pushes to LAPOR! and what it keeps as local history."""

    # Push only complaints still open upstream and submitted within this many days;
    # ``None`` pushes every open complaint; 0 pushes nothing.
    push_if_open_newer_than_days: int | None = Field(default=90, ge=0)
    push_closed: bool = False


class SqlTableOptions(Opts):
    url: SecretStr = Field(description="mysql://user:pass@host:port/db or postgresql://…")
    charset: str = Field(
        default="latin1",
        pattern=r"^[a-z0-9_]+$",
        description="the tables' charset, so bytes arrive unconverted",
    )
    table_charsets: dict[str, str] = Field(
        default_factory=dict,
        description="charset per table where the server's own (information_schema) is wrong "
        "or not reported; other tables use what the server says, else `charset`",
    )
    pool_size: int = Field(
        default=4,
        ge=1,
        le=64,
        description="connections to the form database (each of reading and write-back)",
    )
    statement_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="a statement on the form database taking longer is cancelled and retried",
    )
    table: str | None = "pengaduan"
    query: str | None = None
    id_column: str = "id_pengaduan"
    fields: FieldMap = FieldMap()
    date_formats: list[str] = Field(
        default_factory=lambda: ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y", "%d-%m-%Y"]
    )
    timezone: str = "Asia/Jakarta"
    status_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATUS_MAP))
    responses: Responses | None = Responses()
    photo: Photo = Photo()
    write_back: WriteBack = WriteBack()
    rescan: Rescan = Rescan()
    backfill: BackfillPolicy = BackfillPolicy()

    _c = field_validator("table", "id_column")(classmethod(lambda cls, v: check_ident(v)))

    @field_validator("table_charsets")
    @classmethod
    def _charsets(cls, v: dict[str, str]) -> dict[str, str]:
        for table, cs in v.items():
            check_ident(table)
            if not re.match(r"^[a-z0-9_]+$", cs):
                raise ValueError(f"{cs!r} is not a charset name (e.g. latin1, utf8mb4)")
        return v

    @property
    def main_table(self) -> str:
        """The complaints table (of ``table``, or the one write-back writes for a query)."""
        return self.table or self.write_back.table

    @field_validator("query")
    @classmethod
    def _read_only(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip().rstrip(";").strip()
        if ";" in v or not _READ_ONLY.match(v) or _FORBIDDEN.search(v):
            raise ValueError("must be one read-only SELECT (joins allowed, no ';')")
        return v

    @property
    def scheme(self) -> str:
        raw = self.url.get_secret_value()
        return "postgresql" if raw.startswith(("postgres://", "postgresql://")) else "mysql"


# Column sizes of the PHP complaint schema the drop-in form replaces (``pengaduan.isi_laporan
# text`` = 65,535 bytes, ``masyarakat.nama varchar(35)``, ``telp varchar(20)``, …): what the
# old form could hold is what a submission may be.
DEFAULT_FIELD_LIMITS: dict[str, int] = {
    "content": 65535,
    "title": 150,
    "name": 35,
    "phone": 20,
    "nik": 16,
    "email": 100,
    "address": 255,
}


class FormHttpOptions(Opts):
    """The drop-in endpoint: field names are the old form's ``name=`` attributes."""

    field_limits: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_FIELD_LIMITS),
        description="longest value per field (our field name); content in UTF-8 bytes (a "
        "TEXT column), the others in characters; longer is refused with 422",
    )

    fields: dict[str, str] = Field(
        default_factory=lambda: {
            "content": "isi_laporan",
            "title": "judul",
            "name": "nama",
            "phone": "telp",
            "nik": "nik",
            "email": "email",
            "address": "lokasi",
        }
    )
    photo_field: str = "foto"
    honeypot_field: str = "website"
    privacy_field: str = Field(
        default="kerahasiaan",
        description="the reporter's choice: biasa, anonim (identity kept from LAPOR! and the "
        "agency) or rahasia (the report not shown publicly); absent = biasa",
    )
    charset: str = "utf-8"
    max_body_bytes: int = Field(default=12 * 1024 * 1024, ge=1024)
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    allowed_types: list[str] = Field(
        default_factory=lambda: ["image/jpeg", "image/png", "application/pdf"]
    )
    min_content_chars: int = Field(default=20, ge=1)
    rate_limit_per_min: int = Field(default=10, ge=1)
    rate_burst: int = Field(default=5, ge=1)
    trust_forwarded_for: bool = False  # behind a reverse proxy on loopback
