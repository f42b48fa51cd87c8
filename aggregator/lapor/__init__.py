"""The LAPOR! side: one port (``port.LaporPort``) and its adapters.

``build_port(services)`` makes the configured adapter once per process and keeps it in
``services.extras["lapor"]`` (its breaker in ``services.extras["lapor_breaker"]``), so every
worker of the process shares one token bucket and one circuit breaker. With
``lapor.sandbox = true`` the caller first puts the embedded sandbox's URL in
``services.extras["lapor_base_url"]`` (see ``aggregator.lapor.sandbox.embedded``).
"""

from __future__ import annotations

from typing import Any

from aggregator.lapor.port import LaporPort


def build_port(services: Any) -> LaporPort:
    cached = services.extras.get("lapor")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    cfg = services.settings.lapor
    port: Any
    if cfg.adapter == "manual":
        from aggregator.lapor.manual import ManualLaporAdapter

        port = ManualLaporAdapter(services.pool)
    else:
        base = services.extras.get("lapor_base_url")
        client_id = cfg.client_id
        secret = cfg.client_secret.get_secret_value() if cfg.client_secret else None
        if cfg.sandbox and base:
            from aggregator.lapor.sandbox.embedded import CLIENT_ID, CLIENT_SECRET

            client_id, secret = client_id or CLIENT_ID, secret or CLIENT_SECRET
        if cfg.adapter == "xml-legacy":
            from aggregator.lapor.xml_legacy import XmlLegacyAdapter

            root = str(base).rsplit("/api/v1", 1)[0] if base else None
            port = XmlLegacyAdapter(cfg, services.http, base_url=root, token=secret)
        else:
            from aggregator.lapor.http import HttpLaporAdapter

            port = HttpLaporAdapter(cfg, services.http, base_url=base, client_id=client_id,
                                    client_secret=secret)
        from aggregator.lapor.health import record_breaker, record_link_outcomes

        record_breaker(port.breaker, services.pool)
        record_link_outcomes(port.breaker, services.pool, services.clock)
        services.extras["lapor_breaker"] = port.breaker
    services.extras["lapor"] = port
    return port  # type: ignore[no-any-return]


__all__ = ["LaporPort", "build_port"]
