"""Anyone can write the reporter's address in ``From``: with ``authserv_id`` set, an e-mail
reply speaks for the report only when our own mail server (its ``Authentication-Results``
header, the topmost with that authserv-id) says the From domain passed DMARC, or DKIM/SPF
aligned with it. Otherwise the reply is held for an operator with the reason, however
well it names the report, and never marks the complaint resolved."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aggregator.storage import replies as replies_repo
from aggregator.wiring.sources import build_source
from connectors.email.parser import ParseOptions, parse_email
from schemas.config import SourceConfig
from tests.email.conftest import make_services
from tests.email.helpers import drain

CITIZEN = "rina.marlina@warga.test"
TRACKING = "1916470"
OURS = "mx.kota.test"
PASS = (
    f"{OURS}; dkim=pass header.d=warga.test header.s=s1; spf=pass smtp.mailfrom=warga.test;"
    " dmarc=pass header.from=warga.test"
)


def _mail(
    n: int, text: str, results: list[str], subject: str = f"Re: [LAPOR! #{TRACKING}]"
) -> bytes:
    msg = EmailMessage()
    # What our server prepends comes first: the list is top to bottom.
    for r in results:
        msg["Authentication-Results"] = r
    msg["From"] = f"Rina <{CITIZEN}>"
    msg["To"] = "pengaduan@kota.test"
    msg["Subject"] = f"{subject} Selokan mampet"
    msg["Message-ID"] = f"<jawab-{n}@warga.test>"
    msg.set_content(text)
    return bytes(msg)


def _box(tmp_path: Path) -> Path:
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    return box


async def test_a_reply_counts_only_when_our_server_authenticated_its_from(
    pool: Any, tmp_path: Path
) -> None:
    box = _box(tmp_path)
    first = EmailMessage()
    first["Authentication-Results"] = PASS
    first["From"] = f"Rina Marlina <{CITIZEN}>"
    first["To"] = "pengaduan@kota.test"
    first["Subject"] = "Selokan mampet di Jl. Garuda"
    first["Message-ID"] = "<aduan-1@warga.test>"
    first.set_content("Selokan di depan rumah No. 3 Jl. Garuda mampet sejak sepekan, berbau.")
    (box / "new" / "1700000000.M1P1.a").write_bytes(bytes(first))
    cfg = SourceConfig(
        name="email-kota", kind="maildir", options={"path": str(box), "authserv_id": OURS}
    )
    services = make_services(pool, [cfg])
    src = build_source(cfg, services)
    assert await drain(services, src) == 1
    cid = await pool.fetchval("SELECT id FROM complaints")
    await pool.execute("UPDATE complaints SET lapor_tracking_id = $2 WHERE id = $1", cid, TRACKING)

    forged = [
        # The From domain failed DMARC at our server.
        _mail(
            1,
            "SUDAH",
            [f"{OURS}; spf=fail smtp.mailfrom=evil.test; dmarc=fail header.from=warga.test"],
        ),
        # Our server said nothing of it at all.
        _mail(2, "SUDAH selesai", []),
        # A pass the sender wrote himself, under our server's real verdict.
        _mail(3, "SUDAH beres", [f"{OURS}; dmarc=fail header.from=warga.test", PASS]),
        # A pass from some other server.
        _mail(4, "SUDAH tuntas", [PASS.replace(OURS, "mx.evil.test")]),
        # DKIM passed, but for another domain than the From's.
        _mail(5, "SUDAH ok", [f"{OURS}; dkim=pass header.d=evil.test; dmarc=none"]),
        # A Tracking ID we do not know: found by the sender's address, still not its owner.
        _mail(6, "SUDAH", [f"{OURS}; dmarc=fail header.from=warga.test"], "Re: [LAPOR! #9999999]"),
    ]
    # In the citizen's own thread (their original's Message-ID), no Tracking ID.
    in_thread = EmailMessage()
    in_thread["Authentication-Results"] = f"{OURS}; dmarc=fail header.from=warga.test"
    in_thread["From"] = f"Rina <{CITIZEN}>"
    in_thread["To"] = "pengaduan@kota.test"
    in_thread["Subject"] = "Re: Selokan mampet di Jl. Garuda"
    in_thread["Message-ID"] = "<jawab-7@warga.test>"
    in_thread["In-Reply-To"] = in_thread["References"] = "<aduan-1@warga.test>"
    in_thread.set_content("SUDAH ditangani.")
    forged.append(bytes(in_thread))
    for n, raw in enumerate(forged, 2):
        (box / "new" / f"17000000{n:02d}.M{n}P1.a").write_bytes(raw)
    (box / "new" / "1700000099.M99P1.a").write_bytes(
        _mail(9, "BELUM, airnya masih menggenang.", [PASS])
    )
    assert await drain(services, src) == 8

    async with pool.acquire() as conn:
        rows = await replies_repo.for_complaint(conn, cid)
        ups = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'reply_up' AND complaint_id = $1", cid
        )
        resolved = await conn.fetchval(
            "SELECT resolved_by_reporter FROM complaints WHERE id = $1", cid
        )
    assert sorted((r["text"], r["verified"], r["verified_by"]) for r in rows) == sorted(
        [
            ("BELUM, airnya masih menggenang.", True, "email"),
            ("SUDAH", False, None),
            ("SUDAH", False, None),
            ("SUDAH selesai", False, None),
            ("SUDAH beres", False, None),
            ("SUDAH tuntas", False, None),
            ("SUDAH ok", False, None),
            ("SUDAH ditangani.", False, None),
        ]
    )
    held = [r for r in rows if not r["verified"]]
    assert len(held) == 7
    assert all("tidak dapat memastikan" in r["unverified_reason"] for r in held), held
    assert ups == 1  # only the authenticated answer goes up
    assert resolved is False  # no forged SUDAH closed it


def test_without_authserv_id_the_parser_does_not_judge_the_sender() -> None:
    """Not configured: nothing is claimed either way (the server may not write the header)."""
    draft = parse_email(_mail(1, "SUDAH", []), options=ParseOptions())
    assert getattr(draft, "sender_authenticated", "missing") is None
    judged = parse_email(_mail(1, "SUDAH", [PASS]), options=ParseOptions(authserv_id=OURS))
    assert getattr(judged, "sender_authenticated", None) is True
