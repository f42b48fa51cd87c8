from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas.config import SourceConfig
from tests.forms.legacy import JOIN_QUERY, LegacyDb


def form_source_config(db: LegacyDb | str, uploads: Path | None = None, name: str = "form-pupr",
                       batch_size: int = 4, **extra: Any) -> SourceConfig:
    url = db if isinstance(db, str) else db.url
    options: dict[str, Any] = {
        "url": url, "query": JOIN_QUERY,
        "fields": {"name": "nama", "phone": "telp", "orphan_check": "m_nik"},
        "write_back": {"enabled": True, "tracking_column": "lapor_tracking_id", "staff_id": 1},
    }
    if uploads is not None:
        options["photo"] = {"base_dir": str(uploads)}
    options.update(extra)
    return SourceConfig(name=name, kind="sql_table", batch_size=batch_size, options=options)
