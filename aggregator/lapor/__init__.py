"""The LAPOR! side: one port (``port.LaporPort``) and its adapters.

``services.lapor`` (or ``build_port(services)``) is the configured adapter, made once per
runtime by ``make_port``, so every worker of the process shares one circuit breaker, and
every replica on the database one rate limit (``ratelimit.SharedTokenBucket``). With
``lapor.sandbox = true`` the runtime carries the embedded sandbox's URL
(``Services.with_lapor_base_url``; see ``aggregator.lapor.sandbox.embedded``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aggregator.lapor.port import LaporPort

if TYPE_CHECKING:
    from aggregator.wiring.services import Services


def build_port(services: Services) -> LaporPort:
    """The runtime's LAPOR! port (built on first use)."""
    return services.lapor


def make_port(services: Services) -> LaporPort:
    """Build the configured adapter; ``Services.lapor`` calls this once per runtime."""
    cfg = services.settings.lapor
    port: LaporPort
    if cfg.adapter == "manual":
        from aggregator.lapor.manual import ManualLaporAdapter

        port = ManualLaporAdapter(services.pool)
    else:
        base = services.lapor_base_url
        client_id = cfg.client_id
        secret = cfg.client_secret.get_secret_value() if cfg.client_secret else None
        if cfg.sandbox and base:
            from aggregator.lapor.sandbox.embedded import CLIENT_ID, CLIENT_SECRET

            client_id, secret = client_id or CLIENT_ID, secret or CLIENT_SECRET
        from aggregator.lapor.http import HttpLaporAdapter
        from aggregator.lapor.ratelimit import SharedTokenBucket
        from aggregator.lapor.xml_legacy import XmlLegacyAdapter

        bucket: SharedTokenBucket | None = None
        if cfg.rate_limit_scope == "database":
            # One limit for every replica of this LAPOR! client (half the server's burst,
            # as the process bucket: see aggregator.lapor.ratelimit).
            bucket = SharedTokenBucket(
                services.pool,
                f"lapor:{cfg.adapter}:{client_id or ''}",
                cfg.rate_limit_per_s,
                max(1, cfg.rate_burst // 2),
            )
        adapter: XmlLegacyAdapter | HttpLaporAdapter
        if cfg.adapter == "xml-legacy":
            root = str(base).rsplit("/api/v1", 1)[0] if base else None
            adapter = XmlLegacyAdapter(
                cfg, services.http, base_url=root, token=secret, bucket=bucket
            )
        else:
            adapter = HttpLaporAdapter(
                cfg,
                services.http,
                base_url=base,
                client_id=client_id,
                client_secret=secret,
                bucket=bucket,
            )
        from aggregator.lapor.health import record_breaker, record_link_outcomes

        port = adapter
        record_breaker(adapter.breaker, services.pool)
        record_link_outcomes(adapter.breaker, services.pool, services.clock)
    return port


__all__ = ["LaporPort", "build_port", "make_port"]
