"""Options of the WhatsApp sources (``sources[].options`` in the configuration)."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator

from connectors.base import ConnectorOptions
from connectors.base.conventions import ChatConventions

# What the Cloud API accepts as media (its documented types), and what a complaint may carry.
DEFAULT_MEDIA_TYPES = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "application/pdf",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/amr",
    "video/mp4",
]


class Templates(ConnectorOptions):
    """Approved template names, one per kind of message that may go out after the
    24-hour customer-service window. An unset kind cannot be sent outside the window (the
    message is refused locally and the notifier falls back to another channel)."""

    language: str = Field(default="id", description="template language code, as approved")
    ack: str | None = Field(default="satukanal_tanda_terima", description="parameters: Tracking ID")
    status: str | None = Field(
        default="satukanal_status", description="parameters: Tracking ID, the news"
    )
    response: str | None = Field(
        default="satukanal_tanggapan", description="parameters: Tracking ID, response (short), link"
    )
    info_request: str | None = Field(default="satukanal_tanggapan", description="as response")
    solved_question: str | None = Field(
        default="satukanal_konfirmasi_selesai",
        description="parameters: Tracking ID; quick-reply buttons SUDAH and BELUM",
    )


class Media(ConnectorOptions):
    max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="larger media are refused (kept as a note)"
    )
    types: list[str] = Field(default_factory=lambda: list(DEFAULT_MEDIA_TYPES))
    download_timeout_s: float = Field(default=10.0, gt=0)


class WhatsAppCloudOptions(ConnectorOptions):
    graph_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://graph.facebook.com"),
        description="the Graph API (the sandbox's URL in tests)",
    )
    api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    phone_number_id: str = Field(
        description="the business phone number's id (Meta console)", pattern=r"^\d{5,20}$"
    )
    access_token: SecretStr = Field(description="a system user's permanent token")
    app_secret: SecretStr = Field(description="signs every webhook (X-Hub-Signature-256)")
    verify_token: SecretStr = Field(description="the token typed into the webhook settings")
    window_h: float = Field(
        default=24.0, gt=0, le=24.0, description="the customer-service window: free text inside it"
    )
    timeout_s: float = Field(default=10.0, gt=0, description="per request to the Graph API")
    max_body_bytes: int = Field(default=1024 * 1024, ge=4096)
    templates: Templates = Field(default_factory=Templates)
    media: Media = Field(default_factory=Media)
    conventions: ChatConventions = Field(default_factory=ChatConventions)

    @field_validator("app_secret", "verify_token")
    @classmethod
    def _not_empty(cls, v: SecretStr) -> SecretStr:
        # An empty app secret signs anyone's webhook (HMAC with an empty key), an empty
        # verify token lets anyone subscribe: refused rather than run open.
        if not v.get_secret_value().strip():
            raise ValueError("must not be empty: the webhook would be open to anyone")
        return v


class GatewayFields(ConnectorOptions):
    """Where a local gateway puts each fact in its JSON (dotted paths, ``a.b.c``)."""

    sender: str = "from"
    text: str = "message"
    id: str = "id"
    time: str | None = "timestamp"
    name: str | None = "name"
    media_url: str | None = "media_url"
    media_type: str | None = "media_type"
    latitude: str | None = "latitude"
    longitude: str | None = "longitude"
    button: str | None = "button"


class GatewaySend(ConnectorOptions):
    """How the gateway's HTTP API sends a message: ``POST url`` with a JSON body."""

    url: AnyHttpUrl
    token: SecretStr | None = Field(default=None, description="sent as Authorization: Bearer")
    to_field: str = "to"
    text_field: str = "message"
    id_field: str = Field(default="id", description="the message id in the gateway's answer")
    timeout_s: float = Field(default=10.0, gt=0)


class WhatsAppGatewayOptions(ConnectorOptions):
    secret: SecretStr = Field(
        description="shared secret: X-Satukanal-Secret header or "
        "HMAC-SHA256 of the body in X-Signature"
    )
    fields: GatewayFields = Field(default_factory=GatewayFields)
    send: GatewaySend | None = Field(default=None, description="where replies are sent")
    max_body_bytes: int = Field(default=1024 * 1024, ge=4096)
    media: Media = Field(default_factory=Media)
    conventions: ChatConventions = Field(default_factory=ChatConventions)

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("the shared secret must be at least 16 characters")
        return v

    @model_validator(mode="after")
    def _distinct_fields(self) -> WhatsAppGatewayOptions:
        if self.fields.sender == self.fields.text:
            raise ValueError("fields.sender and fields.text must be different keys")
        return self
