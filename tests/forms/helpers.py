from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from aggregator.crypto import DEMO_HMAC, DEMO_KEY, generate_key
from aggregator.notify.writeback import WriteBackHandler
from aggregator.wiring.sources import build_source, capabilities
from schemas.config import SourceConfig
from tests.forms.legacy import JOIN_QUERY, LegacyDb


def form_source_config(
    db: LegacyDb | str,
    uploads: Path | None = None,
    name: str = "form-pupr",
    batch_size: int = 4,
    **extra: Any,
) -> SourceConfig:
    url = db if isinstance(db, str) else db.url
    options: dict[str, Any] = {
        "url": url,
        "query": JOIN_QUERY,
        "fields": {"name": "nama", "phone": "telp", "orphan_check": "m_nik"},
        "write_back": {"enabled": True, "tracking_column": "lapor_tracking_id", "staff_id": 1},
    }
    if uploads is not None:
        options["photo"] = {"base_dir": str(uploads)}
    options.update(extra)
    return SourceConfig(name=name, kind="sql_table", batch_size=batch_size, options=options)


def write_back_handler(services: Any) -> WriteBackHandler:
    """The core's ``write_back`` job handler over the writers of the configured sources, as
    the daemon wires it (its ``close`` closes the writers)."""
    sources = {cfg.name: build_source(cfg, services) for cfg in services.settings.sources}
    return WriteBackHandler(services, capabilities(sources).writers)


SATUKANAL = str(Path(sys.executable).with_name("satukanal"))


def write_operator_config(tmp: Path, db_dsn: str, sources_toml: str) -> Path:
    """A configuration file as an operator writes it: data directory, database, a fresh
    newest key, then the given ``[[sources]]`` block. The in-test services' (demo) key is
    listed as an older key, as after a rotation: what they stored (raw originals are
    encrypted) stays readable to the CLI, and both match reporters with the same HMAC key."""
    cfg = tmp / "satukanal.toml"
    cfg.write_text(f"""
data_dir = "{tmp / "data"}"

[database]
url = "{db_dsn}"

[[crypto.keys]]
id = "demo"
secret = "{DEMO_KEY}"

[[crypto.keys]]
id = "k1"
secret = "{generate_key()}"

[crypto]
hmac_key = "{DEMO_HMAC}"

[lapor]
sandbox = true
{sources_toml}""")
    return cfg


async def run_cli(cfg: Path, *args: str) -> asyncio.subprocess.Process:
    """``satukanal ARGS`` in a child process with this configuration."""
    return await asyncio.create_subprocess_exec(
        SATUKANAL,
        *args,
        env={**os.environ, "SATUKANAL_CONFIG": str(cfg)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
