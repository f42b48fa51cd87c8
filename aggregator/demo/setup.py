"""The demo: everything on a bare machine, in ``./var/demo``.

An embedded PostgreSQL, the built-in LAPOR! sandbox playing each report's life at high
speed, one channel of each kind (an SMS gateway pushing over HTTP, an old web form, a
Maildir that a mail server delivers into, with a Maildir outbox the answers are written to,
WhatsApp through the built-in Cloud API sandbox) and simulated citizens writing through them.
"""

from __future__ import annotations

from pathlib import Path

from schemas.config import Settings

DEMO_DIR = Path("var/demo")


def demo_settings(data_dir: Path | None = None, *, port: int = 8470) -> Settings:
    data_dir = (data_dir or DEMO_DIR).resolve()
    maildir = data_dir / "maildir" / "pengaduan"
    outbox = data_dir / "maildir" / "terkirim"
    return Settings.model_validate(
        dict(
            demo=True,
            data_dir=data_dir,
            log_format="console",
            http={"host": "127.0.0.1", "port": port, "public_base_url": f"http://127.0.0.1:{port}"},
            lapor={"adapter": "http", "sandbox": True, "rate_limit_per_s": 20, "updates_poll_s": 2},
            queue={"poll_s": 1, "backoff_base_s": 1, "backoff_max_s": 30},
            notify={"merge_window_s": 2},
            bursts={"quiet_window_s": 3},  # an SMS burst merges in seconds, as the demo runs
            sla={"check_interval_s": 5},
            sources=[
                {
                    "name": "sms-gateway",
                    "kind": "sms_http",
                    "poll_s": 2,
                    "options": {
                        "secret": "demo-gateway-secret",
                        "kannel": {
                            "sendsms_url": f"http://127.0.0.1:{port}/demo/kannel/cgi-bin/sendsms",
                            "username": "demo",
                            "password": "demo",
                            # The stand-in Kannel reports each delivery back, as a real one does.
                            "dlr_url": f"http://127.0.0.1:{port}/intake/sms-gateway/dlr",
                            "dlr_secret": "demo-gateway-secret",
                        },
                    },
                },
                {"name": "form-pengaduan", "kind": "form_http", "poll_s": 2, "options": {}},
                {
                    "name": "wa-pengaduan",
                    "kind": "whatsapp_cloud",
                    "options": {
                        # The built-in WhatsApp Cloud API sandbox, mounted in the demo's own app.
                        "graph_url": f"http://127.0.0.1:{port}/demo/whatsapp",
                        "phone_number_id": "106540352242922",
                        "access_token": "demo-whatsapp-token",
                        "app_secret": "demo-whatsapp-app-secret",
                        "verify_token": "demo-whatsapp-verify",
                    },
                },
                {
                    "name": "email-pengaduan",
                    "kind": "maildir",
                    "poll_s": 2,
                    "agency": "DISKOMINFO",
                    "options": {
                        "path": str(maildir),
                        "message_id_domain": "palangkaraya.example",
                        # Answers land in a Maildir a mail server would pick up (no SMTP here).
                        "outbox": {
                            "path": str(outbox),
                            "from_address": "pengaduan@palangkaraya.example",
                            "from_name": "Layanan Pengaduan Kota Palangka Raya",
                        },
                    },
                },
            ],
            # The sandbox's agency ids (GET /agencies); a deployment takes them from LAPOR!.
            agencies={
                "PUPR": "45",
                "DISHUB": "46",
                "DLH": "47",
                "DINKES": "48",
                "DISDIK": "49",
                "DISDUKCAPIL": "50",
                "SATPOLPP": "51",
                "DPMPTSP": "52",
                "DINSOS": "53",
                "BPBD": "54",
                "DISKOMINFO": "55",
                "INSPEKTORAT": "57",
                "PDAM": "58",
            },
            # Routing: the shipped policy (aggregator/judgement/policy/routing.toml); KECAMATAN
            # names no single sandbox id, so those complaints are suggested to the channel's own
            # agency and LAPOR!'s verifier disposes them.
        )
    )
