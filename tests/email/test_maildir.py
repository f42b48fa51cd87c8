"""The Maildir source (the demo's mailbox): new/ → cur/ only after intake commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.intake import Intake
from aggregator.wiring.sources import build_source
from schemas.config import SourceConfig
from tests.email.conftest import make_services
from tests.email.corpus import STAFF, corpus, expectations
from tests.email.helpers import drain


def _maildir(root: Path, messages: dict[str, bytes]) -> None:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(messages.values()):
        (root / "new" / f"17000000{i:02d}.M{i}P1.demo").write_bytes(raw)


async def test_maildir_ingests_and_moves_to_cur(pool, tmp_path: Path) -> None:
    msgs = {n: r for n, r in corpus().items() if expectations()[n]["kind"] != "reply"}
    _maildir(tmp_path / "Maildir", msgs)
    cfg = SourceConfig(
        name="email-demo",
        kind="maildir",
        batch_size=10,
        options={
            "path": str(tmp_path / "Maildir"),
            "staff_forwarders": sorted(STAFF),
            "max_attachment_mb": 8,
        },
    )
    services = make_services(pool, [cfg])
    src = build_source(cfg, services)

    # Intake commits but the process dies before the rename: the files stay in new/ …
    batch = await anext(src.pull(None))
    await Intake(services).ingest(src, batch)
    assert len(list((tmp_path / "Maildir" / "new").iterdir())) == len(msgs)
    # … and the next run takes them again without storing anything twice.
    assert await drain(services, src) == len(msgs)
    assert list((tmp_path / "Maildir" / "new").iterdir()) == []
    cur = sorted(p.name for p in (tmp_path / "Maildir" / "cur").iterdir())
    assert len(cur) == len(msgs) and all(n.endswith(":2,S") for n in cur)
    assert await pool.fetchval("SELECT count(*) FROM raw_items") == len(msgs)
    states = {
        r["state"]: r["n"]
        for r in await pool.fetch("SELECT state, count(*) AS n FROM raw_items GROUP BY state")
    }
    want = {"accepted": 0, "ignored": 0, "quarantined": 0}
    for name in msgs:
        kind = expectations()[name]["kind"]
        want[{"complaint": "accepted"}.get(kind, kind)] += 1
    assert states == want
    assert await drain(services, src) == 0


async def test_maildir_path_errors_name_the_key(pool, tmp_path: Path) -> None:
    from aggregator.errors import ConfigError

    cfg = SourceConfig(name="email-demo", kind="maildir", options={"path": str(tmp_path / "x")})
    src = build_source(cfg, make_services(pool, [cfg]))
    with pytest.raises(ConfigError, match=r"sources\.email-demo\.options\.path"):
        await src.check()
