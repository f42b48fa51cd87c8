"""Options of the SMS sources and sinks (``sources[].options`` in the configuration)."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import ConnectorOptions
from connectors.sms.parser import SmsConventions


def _known_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {v!r} (an IANA name such as Asia/Jakarta)") from exc
    return v


class KannelOptions(ConnectorOptions):
    model_config = ConfigDict(extra="forbid")

    sendsms_url: AnyHttpUrl = Field(description="http://host:13013/cgi-bin/sendsms")
    username: str
    password: SecretStr
    sender: str | None = Field(
        default=None, description="'from' number or name, if the SMSC allows"
    )
    smsc: str | None = Field(default=None, description="smsc-id to route through")
    dlr_url: AnyHttpUrl | None = Field(
        default=None, description="our /intake/<source>/dlr, reachable from smsbox"
    )
    dlr_secret: SecretStr | None = None
    max_parts: int | None = Field(default=None, ge=1, le=10)
    timeout_s: float = Field(default=15.0, gt=0)


class GammuOptions(ConnectorOptions):
    model_config = ConfigDict(extra="forbid")

    driver: Literal["pgsql", "mysql"] = "pgsql"
    dsn: SecretStr = Field(
        description="postgresql://user:pw@host/smsd or mysql://user:pw@host/smsd"
    )
    timezone: str = Field(default="Asia/Jakarta", description="zone of gammu-smsd's timestamps")
    multipart_wait_s: float = Field(default=600.0, ge=0)
    rescan_ids: int = Field(
        default=1000, ge=0, description="un-acked rows re-read below the watermark"
    )
    conventions: SmsConventions = Field(default_factory=SmsConventions)
    # Sending
    sender_id: str | None = Field(
        default=None, description="outbox SenderID = the PhoneID to send from"
    )
    delivery_report: Literal["default", "yes", "no"] = "default"
    max_parts: int | None = Field(default=None, ge=1, le=10)

    _zone = field_validator("timezone")(classmethod(lambda cls, v: _known_zone(v)))


class BasicAuth(ConnectorOptions):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: SecretStr


# The longest text one SMS can be: a concatenated message has at most 255 parts (the UDH's
# one-byte part count) of 153 GSM-7 characters each (160 less the 7 the header takes).
SMS_MAX_PARTS = 255
SMS_PART_CHARS = 153
SMS_MAX_TEXT_CHARS = SMS_MAX_PARTS * SMS_PART_CHARS  # 39,015


class SmsHttpOptions(ConnectorOptions):
    model_config = ConfigDict(extra="forbid")

    max_text_chars: int = Field(
        default=SMS_MAX_TEXT_CHARS,
        ge=160,
        le=SMS_MAX_TEXT_CHARS,
        description="longest SMS text accepted (default: a concatenated SMS's maximum, "
        "255 parts of 153 characters); longer is refused with 422",
    )
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=4096,
        le=4 * 1024 * 1024,
        description="largest request body of the SMS intake; larger is refused with 413",
    )
    secret: SecretStr | None = None
    basic_auth: BasicAuth | None = None
    timezone: str = Field(default="Asia/Jakarta", description="zone of times sent without one")
    conventions: SmsConventions = Field(default_factory=SmsConventions)
    kannel: KannelOptions | None = Field(default=None, description="where replies are sent")
    dedup_window_s: int = Field(
        default=300,
        ge=1,
        description="a push with neither message id nor time is taken for a gateway retry "
        "only within this many seconds; the same text later is a new message",
    )

    _zone = field_validator("timezone")(classmethod(lambda cls, v: _known_zone(v)))

    @model_validator(mode="after")
    def _needs_auth(self) -> SmsHttpOptions:
        if self.secret is None and self.basic_auth is None:
            raise ValueError("set secret or basic_auth: the intake must not be open to anyone")
        return self
