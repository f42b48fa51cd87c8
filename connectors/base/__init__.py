"""The public toolkit of satukanal connectors: the only part of the core a connector imports.

A connector is a package (``connectors/<channel>/`` here, or a third party's own) with an
options module, a source, where the channel can answer a sink, and a pure parser. Its source
class is registered through the entry-point group ``satukanal.connectors``
(``kind = "package.module:SourceClass"``) and built by the core as ``cls(cfg, context)``:
``cfg`` is its ``schemas.config.SourceConfig`` and ``context`` a ``ConnectorContext``.

What is here: the data crossing the boundary (``RawItem``, ``Batch``, ``Origin``,
``OutboundMessage``, ``SendResult``…), the protocols a source declares (``Source`` and the
optional abilities, read by ``abilities``), the error types, ``ConnectorOptions`` with
``load_options``, the text helpers (``connectors.base.text``), named SQL blocks for a
channel's own databases (``connectors.base.sqlfiles``) and the conformance checks every
connector passes (``connectors.base.conformance``).
"""

from connectors.base.context import ConnectorContext
from connectors.base.errors import (
    AuthError,
    ConfigError,
    InDoubtError,
    InvalidInput,
    PermanentError,
    SatukanalError,
    TransientError,
)
from connectors.base.items import (
    STATUS_REPLY_TYPE,
    Batch,
    DeliveryReport,
    DeliveryStatus,
    IngestOutcome,
    MissingRow,
    Origin,
    OutboundMessage,
    RawItem,
    SendResult,
    WriteBackNote,
    WriteBackRequest,
    WriteBackResult,
    parse_status_reply,
    status_reply_item,
)
from connectors.base.options import (
    ConnectorOptions,
    OptionsError,
    load_options,
    option_problems,
    validate_options,
)
from connectors.base.protocols import (
    Abilities,
    Answering,
    Backfilling,
    CheckableSink,
    HttpIntake,
    IssuesReceipts,
    JobHandler,
    LegacyWriter,
    ProvidesJobHandlers,
    Pulling,
    RecognisesResend,
    ReportsDelivery,
    Sink,
    Source,
    WaitsForNew,
    WritesBack,
    abilities,
    delivery_reporter,
    resend_is_safe,
)
from connectors.base.registry import ENTRY_POINT_GROUP, load_source_class, registry

# Last: these reach into core modules that themselves import the names above.
from connectors.base.text import check_nik, clean_text, normalize_phone

__all__ = [
    "ENTRY_POINT_GROUP",
    "STATUS_REPLY_TYPE",
    "Abilities",
    "Answering",
    "AuthError",
    "Backfilling",
    "Batch",
    "CheckableSink",
    "ConfigError",
    "ConnectorContext",
    "ConnectorOptions",
    "DeliveryReport",
    "DeliveryStatus",
    "HttpIntake",
    "InDoubtError",
    "IngestOutcome",
    "InvalidInput",
    "IssuesReceipts",
    "JobHandler",
    "LegacyWriter",
    "MissingRow",
    "OptionsError",
    "Origin",
    "OutboundMessage",
    "PermanentError",
    "ProvidesJobHandlers",
    "Pulling",
    "RawItem",
    "RecognisesResend",
    "ReportsDelivery",
    "SatukanalError",
    "SendResult",
    "Sink",
    "Source",
    "TransientError",
    "WaitsForNew",
    "WriteBackNote",
    "WriteBackRequest",
    "WriteBackResult",
    "WritesBack",
    "abilities",
    "check_nik",
    "clean_text",
    "delivery_reporter",
    "load_options",
    "load_source_class",
    "normalize_phone",
    "option_problems",
    "parse_status_reply",
    "registry",
    "resend_is_safe",
    "status_reply_item",
    "validate_options",
]
