from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from aggregator.backfill import run_backfill
from connectors.forms.sql_table import SqlTableSource
from tests.forms.helpers import form_source_config
from tests.forms.legacy import LegacyDb


async def test_backfill_imports_archive_with_policy(legacy: LegacyDb, uploads: Path,
                                                    services: Any) -> None:
    src = SqlTableSource(form_source_config(legacy, uploads), services)
    out = io.StringIO()
    try:
        s = await run_backfill(services, src, out=out, progress=False)
    finally:
        await src.close()
    print(s.to_json())
    assert s.finished and s.read == 15
    async with services.pool.acquire() as conn:
        rows = await conn.fetch("SELECT status::text, count(*) FROM complaints GROUP BY 1")
    print(rows)
