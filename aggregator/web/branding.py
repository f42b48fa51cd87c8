"""The municipality's look on public pages, from ``municipality`` and ``[public]``.

The logo is read once and embedded as a ``data:`` URI: the public pages' CSP allows images
from ``'self'`` and ``data:`` only, and a form mounted under a connector's prefix needs no
route of its own for it.
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

from aggregator.errors import ConfigError
from connectors.base.pages import PublicBranding
from schemas.config import Settings

MAX_LOGO_BYTES = 200 * 1024
_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


@cache
def logo_data_uri(path: Path) -> str:
    kind = _TYPES.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"public.logo: {path} is not a .png, .jpg or .svg file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"public.logo: cannot read {path}: {exc.strerror}") from exc
    if len(data) > MAX_LOGO_BYTES:
        raise ConfigError(
            f"public.logo: {path} is {len(data) // 1024} KB; at most "
            f"{MAX_LOGO_BYTES // 1024} KB (every public page carries it)"
        )
    magic = _MAGIC.get(kind)
    if (magic is not None and not data.startswith(magic)) or (
        kind == "image/svg+xml" and b"<svg" not in data[:4096]
    ):
        raise ConfigError(f"public.logo: {path} is not a {kind} image")
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def branding(settings: Settings) -> PublicBranding:
    p = settings.public
    return PublicBranding(
        municipality=settings.municipality,
        logo=logo_data_uri(p.logo) if p.logo is not None else None,
        privacy_contact=p.privacy_contact,
        retention=p.retention,
    )
