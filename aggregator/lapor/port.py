"""The LAPOR! port: everything the daemon asks of LAPOR!, in the project's own schemas.

Adapters: ``http`` (the JSON contract; default; what the sandbox serves), ``manual``
(operators re-type into LAPOR! and enter the results), ``xml-legacy`` (the old addstream
shape). A deployment that gets the real specification changes one adapter.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aggregator.lapor.models import (
    Agency,
    Category,
    CreateResult,
    RemoteReport,
    ReplyPayload,
    ReportPayload,
    UpdatesPage,
    UploadedAttachment,
)


@runtime_checkable
class LaporPort(Protocol):
    name: str

    async def create_report(self, report: ReportPayload, idempotency_key: str) -> CreateResult:
        """Create a report. Raises Rejected (422), DuplicateExternalRef, IdempotencyKeyReused,
        TransientError (retry later), InDoubtError (may have been created: look up first)."""
        ...

    async def find_by_external_ref(self, external_ref: str) -> RemoteReport | None: ...

    async def get_report(self, tracking_id: str) -> RemoteReport:
        """Raises NotFound / Gone."""
        ...

    async def upload_attachment(
        self, filename: str, content_type: str, data: bytes
    ) -> UploadedAttachment: ...

    async def post_reply(self, tracking_id: str, reply: ReplyPayload, idempotency_key: str) -> str:
        """Returns LAPOR!'s reply id."""
        ...

    async def read_updates(self, cursor: str | None, limit: int) -> UpdatesPage: ...

    async def agencies(self) -> list[Agency]: ...

    async def categories(self) -> list[Category]: ...
